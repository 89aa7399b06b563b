# drop-table and drop-column on evidence, with real clients: a reporting client (pgbench,
# application_name report-app) reads a table (and one column of another) while the migration
# role tries to drop them.  The DROP is refused naming report-app while it runs and for the
# quiet period after; once nothing has used the table for that long it runs; a use after the
# quiet period makes it refused again.  A restart forgets the record: refused (recording
# again) until the quiet period has passed once more.  With zero_downtime.track_new_tables a
# fresh install (create, fill by a migration, drop in a later one) runs through at once.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $quiet = 3;    # seconds
my $node = PostgreSQL::Test::Cluster->new('drop_evidence');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'zero_downtime'
zero_downtime.contract_quiet_period = '${quiet}s'
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE old_reports (id int PRIMARY KEY, body text);
    INSERT INTO old_reports SELECT g, 'r' || g FROM generate_series(1, 1000) g;
    CREATE TABLE accounts (id int PRIMARY KEY, email text, legacy_code text);
    INSERT INTO accounts SELECT g, 'a' || g, 'c' || g FROM generate_series(1, 1000) g;});

my $script = $node->basedir . '/report.sql';
open(my $fh, '>', $script) or die $!;
print $fh q{
\set id random(1, 1000)
SELECT body FROM old_reports WHERE id = :id;
SELECT legacy_code FROM accounts WHERE id = :id;
};
close $fh;
sub start_reports {
    my ($seconds) = @_;
    my ($out, $err) = ('', '');
    local $ENV{PGAPPNAME} = 'report-app';
    my $h = IPC::Run::start(
        [ 'pgbench', '-n', '-T', $seconds, '-c', 2, '-f', $script,
          '-h', $node->host, '-p', $node->port, 'postgres' ],
        '>', \$out, '2>', \$err);
    return { h => $h, out => \$out, err => \$err };
}
sub finish_reports {
    my ($c) = @_;
    $c->{h}->finish;
    ok($c->{h}->result == 0 && ${ $c->{err} } !~ /(ERROR|aborted)/,
        'the reporting client ran without a failure')
      or diag(${ $c->{out} } . ${ $c->{err} });
}
# The migration role's statement (application_name migrator): its error, '' when it ran.
sub try_sql {
    my ($sql) = @_;
    my ($ret, $stdout, $stderr) =
      $node->psql('postgres', "SET application_name = 'migrator'; $sql");
    return $stderr;
}
my $drop_table = 'DROP TABLE old_reports';
my $drop_column = 'ALTER TABLE accounts DROP COLUMN legacy_code';

# --- no record yet: refused, and recording starts -------------------------------------------
like(try_sql($drop_table), qr/drop-table: .*\nDETAIL: .* had no record of the use of table public.old_reports; it records it from now on/,
    'DROP TABLE: no record yet, refused; the refusal starts one');
like(try_sql($drop_column), qr/it records it from now on/,
    'DROP COLUMN: no record yet, refused; the refusal starts one');

# --- while the reporting client runs: refused, naming it -------------------------------------
my $reports = start_reports(5);
sleep 2;
like(try_sql($drop_table),
    qr/DETAIL: .*It was last used \d+ s ago .*by application_name 'report-app'/s,
    'DROP TABLE refused while the client reads the table, naming it');
like(try_sql($drop_table), qr/HINT:  Deploy code that no longer uses table public.old_reports; once nothing has used it for 3 s/,
    'the hint says when it will run');
like(try_sql($drop_column),
    qr/drop-column: .*DETAIL: .*by application_name 'report-app'/s,
    'DROP COLUMN refused while the client reads the column, naming it');
finish_reports($reports);

# --- stopped, but within the quiet period: still refused ------------------------------------
like(try_sql($drop_table), qr/report-app/, 'refused within the quiet period after the client stopped');

# --- a use after the quiet period makes it refused again --------------------------------------
sleep $quiet + 1;
$node->safe_psql('postgres', q{SET application_name = 'late-job'; SELECT count(*) FROM old_reports});
like(try_sql($drop_table), qr/by application_name 'late-job'/,
    'a use after a quiet period: refused again, naming the late user');
unlike(try_sql($drop_table), qr/report-app/,
    'the reporting client, quiet for longer than the period, is not named');

# --- a restart forgets the record ----------------------------------------------------------
sleep $quiet + 1;
$node->restart;
like(try_sql($drop_table), qr/had no record of the use of table public.old_reports/,
    'after a restart: no record, refused; recording again');
is($node->safe_psql('postgres',
    q{SELECT tracked_since IS NOT NULL AND last_used IS NULL FROM zd_usage('old_reports')}),
    't', 'zd_usage: recorded since the refusal, no use');

# --- nothing used them for the quiet period: the drops run as written ------------------------
sleep $quiet + 1;
is(try_sql($drop_table), '', 'DROP TABLE runs once nothing used the table for the quiet period');
is($node->safe_psql('postgres', q{SELECT to_regclass('old_reports') IS NULL}), 't',
    'the table is gone');
# (The column's record went with the restart: its drop starts one, then runs after the wait.)
like(try_sql($drop_column), qr/it records it from now on/, 'DROP COLUMN: recording again after the restart');
sleep $quiet + 1;
is(try_sql($drop_column), '', 'DROP COLUMN runs once nothing used the column for the quiet period');

# --- a fresh install with track_new_tables: create, fill, drop at once ------------------------
$node->safe_psql('postgres', q{ALTER SYSTEM SET zero_downtime.contract_quiet_period = '1h';
    ALTER SYSTEM SET zero_downtime.track_new_tables = on; SELECT pg_reload_conf();});
$node->safe_psql('postgres', q{SELECT pg_sleep(0.2)});
$node->safe_psql('postgres', q{BEGIN; CREATE TABLE staging (id int, v text);
    INSERT INTO staging VALUES (1, 'a'); COMMIT;});
# (A later migration fills it: its transaction changes the schema, so this is not a use.)
$node->safe_psql('postgres', q{BEGIN; ALTER TABLE staging ADD COLUMN w int;
    INSERT INTO staging SELECT g, 'b', g FROM generate_series(2, 100) g; COMMIT;});
is(try_sql('DROP TABLE staging'), '',
    'a table recorded since its creation, used only by migrations: its DROP runs at once');
$node->safe_psql('postgres', q{CREATE TABLE staging2 (id int)});
$node->safe_psql('postgres', q{SET application_name = 'app'; INSERT INTO staging2 VALUES (1)});
like(try_sql('DROP TABLE staging2'), qr/by application_name 'app'/,
    'one an application used is refused, naming it');

$node->stop;
done_testing();
