# Contract on evidence, with real clients: an old client (pgbench, application_name old-app)
# reads and writes the old column while a new client uses the new one.  zd_contract, and DROP
# COLUMN of the old column, are refused naming old-app while it runs and for the quiet period
# after; once it has stopped for that long, contract runs.  After a restart nothing is known
# of the time before it: contract waits until the server has watched for the quiet period.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $quiet = 3;    # seconds
my $node = PostgreSQL::Test::Cluster->new('evidence');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'zero_downtime'
zero_downtime.contract_quiet_period = '${quiet}s'
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE users (id int PRIMARY KEY, email text, n int);
    INSERT INTO users SELECT g, 'u' || g, 0 FROM generate_series(1, 1000) g;});
my $id = $node->safe_psql('postgres',
    q{SELECT zd_expand_rename_column('users', 'email', 'email_address')});
$node->safe_psql('postgres', "SELECT zd_migrate($id)");
$node->safe_psql('postgres', q{CALL zd_deferred_wait('60s')});
is($node->safe_psql('postgres', "SELECT phase FROM zd_migrations WHERE id = $id"), 'ready',
    'the migration is ready');

sub script {
    my ($name, $body) = @_;
    my $path = $node->basedir . "/$name.sql";
    open(my $fh, '>', $path) or die $!;
    print $fh $body;
    close $fh;
    return $path;
}
my $old = script('old', q{
\set id random(1, 1000)
SELECT email FROM users WHERE id = :id;
UPDATE users SET email = 'o' || :id WHERE id = :id;
});
my $new = script('new', q{
\set id random(1, 1000)
SELECT email_address FROM users WHERE id = :id;
UPDATE users SET email_address = 'n' || :id, n = n + 1 WHERE id = :id;
});
sub start_clients {
    my ($script, $app, $seconds) = @_;
    my ($out, $err) = ('', '');
    local $ENV{PGAPPNAME} = $app;
    my $h = IPC::Run::start(
        [ 'pgbench', '-n', '-T', $seconds, '-c', 2, '-f', $script,
          '-h', $node->host, '-p', $node->port, 'postgres' ],
        '>', \$out, '2>', \$err);
    return { h => $h, out => \$out, err => \$err };
}
sub finish_clients {
    my ($c, $name) = @_;
    $c->{h}->finish;
    ok($c->{h}->result == 0 && ${ $c->{err} } !~ /(ERROR|aborted)/, "$name: no transaction failed")
      or diag(${ $c->{out} } . ${ $c->{err} });
}
# (The checks below run as application_name 'checker', and touch only the new column.)
sub try_sql {
    my ($sql) = @_;
    my ($ret, $stdout, $stderr) = $node->psql('postgres', "SET application_name = 'checker'; $sql");
    return $stderr;
}

# --- while the old client runs: refused, naming it ------------------------------------------
my $old_clients = start_clients($old, 'old-app', 6);
my $new_clients = start_clients($new, 'new-app', 6);
sleep 2;
like(try_sql("SELECT zd_contract($id)"),
    qr/refused: column email of public.users was used .* ago\nDETAIL:  Queries of application_name 'old-app'/,
    'contract refused while the old client runs, naming it');
unlike(try_sql("SELECT zd_contract($id)"), qr/new-app/, 'the new client is not named');
like(try_sql('ALTER TABLE users DROP COLUMN email'), qr/refused: .*'old-app'/s,
    'DROP COLUMN of the old column refused the same way');
finish_clients($old_clients, 'old client');

# --- the old client stopped: refused for the quiet period, then allowed ---------------------
like(try_sql("SELECT zd_contract($id)"), qr/'old-app'/,
    'right after the old client stopped: still refused');
sleep $quiet + 1;
# A restart forgets what was seen: watched for less than the quiet period again.
$node->restart;
like(try_sql("SELECT zd_contract($id)"), qr/has been watched for \d+ s only/,
    'after a restart: refused until the server has watched for the quiet period');
sleep $quiet + 1;
is(try_sql("SELECT zd_contract($id)"), '', 'after the quiet period: contract runs');
is($node->safe_psql('postgres', "SELECT phase FROM zd_migrations WHERE id = $id"), 'complete',
    'the migration is complete');
$new_clients->{h}->kill_kill;

$node->stop;
done_testing();
