# The schema drift policy and the DDL journal against a real server: an application role's
# CREATE INDEX on a live table refused while the migration role's runs behind a blocker (its
# lock wait and hold time in the journal and the drift report); a backend killed (kill -9, so
# the postmaster restarts every backend and wipes shared memory) mid-transaction and after a
# commit: no entry lost, the one whose transaction never committed shown rolled back; a
# prepared transaction committed after the restart; the journal kept within its size.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('drift');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'zero_downtime'
restart_after_crash = on
max_prepared_transactions = 2
zero_downtime.schema_roles = 'migrator'
zero_downtime.schema_drift = refuse
zero_downtime.journal_size = '16MB'
zero_downtime.lock_timeout = '200ms'
zero_downtime.lock_retries = 30
});
$node->start;
$node->safe_psql('postgres', q{
SET zero_downtime.schema_drift = off;
CREATE EXTENSION zero_downtime;
CREATE ROLE migrator LOGIN;
CREATE ROLE app LOGIN;
GRANT CREATE ON SCHEMA public TO migrator;
SET ROLE migrator;
CREATE TABLE orders (id int PRIMARY KEY, v int);
INSERT INTO orders SELECT g, g FROM generate_series(1, 1000) g;
GRANT SELECT, INSERT ON orders TO app;
});
my $setup_done = $node->safe_psql('postgres', 'SELECT clock_timestamp()');

# psql as ROLE, without ON_ERROR_STOP: (exit code, stdout, stderr).
sub psql_as {
    my ($role, $sql) = @_;
    my ($out, $err) = ('', '');
    my $rc = $node->psql('postgres', $sql, stdout => \$out, stderr => \$err,
                         extra_params => [ '-U', $role ]);
    return ($rc, $out, $err);
}

# --- the reviewer's scenario -------------------------------------------------------------------
my ($rc, $out, $err) = psql_as('app', 'CREATE INDEX ON orders (v)');
isnt($rc, 0, "the application role's CREATE INDEX fails");
like($err, qr/CREATE INDEX on orders by role "app" refused: only the schema roles may change the schema \(zero_downtime.schema_drift = refuse\)/,
     'the error names the statement, the role and the policy');
like($err, qr/zero_downtime.schema_roles: "migrator"/, 'and says which roles may run it');

# The migration role's, while an application transaction writes to the table for a second.
my $blocker = $node->background_psql('postgres', on_error_stop => 1);
$blocker->query_safe('SET ROLE app');
$blocker->query_safe('BEGIN');
$blocker->query_safe('INSERT INTO orders VALUES (1001, 1)');
my ($ddl_out, $ddl_err) = ('', '');
my $ddl = IPC::Run::start(
    [ $node->installed_command('psql'), '-X', '-v', 'ON_ERROR_STOP=1', '-U', 'migrator',
      '-d', $node->connstr('postgres'), '-c', 'CREATE INDEX orders_v ON orders (v)' ],
    '>', \$ddl_out, '2>', \$ddl_err);
$node->poll_query_until('postgres',
    "SELECT count(*) >= 1 FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX orders_v%' "
  . "AND wait_event_type = 'Lock'") or die 'the CREATE INDEX never waited';
usleep(800_000);
$blocker->query_safe('COMMIT');
$ddl->finish;
is($?, 0, "the migration role's CREATE INDEX succeeds once the writer commits") or diag($ddl_err);

# Held for a while in a migration's transaction.
($rc, $out, $err) = psql_as('migrator',
    'BEGIN; ALTER TABLE orders ADD COLUMN note text; SELECT pg_sleep(0.5); COMMIT;');
is($rc, 0, 'a migration transaction holding its lock for 0.5 s');

my $rows = $node->safe_psql('postgres', q{
SELECT role, command, decision, outcome, locks,
       CASE WHEN lock_wait_ms IS NULL THEN 'null' WHEN lock_wait_ms >= 700 THEN 'waited' ELSE 'granted at once' END,
       CASE WHEN lock_hold_ms IS NULL THEN 'null' WHEN lock_hold_ms >= 450 THEN 'held long' ELSE 'held briefly' END
  FROM zd_journal() WHERE object = 'orders' AND command IN ('CREATE INDEX', 'ALTER TABLE')
 ORDER BY at});
is($rows, join("\n",
    'app|CREATE INDEX|refused|refused||null|null',
    'migrator|CREATE INDEX|allowed|committed|SHARE on public.orders|waited|held briefly',
    'migrator|ALTER TABLE|allowed|committed|ACCESS EXCLUSIVE on public.orders|granted at once|held long'),
   'the journal has both attempts, the lock wait behind the writer and the hold until commit');
is($node->safe_psql('postgres',
    qq{SELECT object, role, command, outcome FROM zd_schema_drift('$setup_done')}),
   'orders|app|CREATE INDEX|refused', 'the drift report lists the refused attempt, who and when');

# --- a backend killed: mid-transaction and after a commit ----------------------------------------
$node->safe_psql('postgres', q{SET ROLE migrator; CREATE TABLE committed_before (a int)});
my $victim = $node->background_psql('postgres', on_error_stop => 1);
$victim->query_safe('SET ROLE migrator');
$victim->query_safe('BEGIN');
$victim->query_safe('CREATE TABLE never_committed (a int)');
my $prepared = $node->background_psql('postgres', on_error_stop => 1);
$prepared->query_safe(q{SET ROLE migrator; BEGIN; CREATE TABLE prepared_then_committed (a int);
                        PREPARE TRANSACTION 'drift'});
my $entries_before = $node->safe_psql('postgres', 'SELECT count(*) FROM zd_journal()');
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
my $log_offset = -s $node->logfile;
kill 'KILL', $victim_pid;
$victim->{run}->kill_kill;  # (its psql: the connection is gone)
$prepared->{run}->kill_kill;
# Until the postmaster has noticed the kill, a new connection may succeed and then be cut by the
# crash restart: wait for the restart to finish.
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
$node->poll_query_until('postgres', 'SELECT true') or die 'the server never came back';
like(slurp_file($node->logfile), qr/terminated by signal 9/, 'the postmaster restarted after the kill');

is($node->safe_psql('postgres', 'SELECT count(*) FROM zd_journal()'), $entries_before,
   'no entry was lost with shared memory');
is($node->safe_psql('postgres', q{
SELECT string_agg(object || ': ' || outcome, ', ' ORDER BY at) FROM zd_journal()
 WHERE object IN ('committed_before', 'never_committed', 'prepared_then_committed')}),
   'committed_before: committed, never_committed: rolled back, prepared_then_committed: prepared',
   "the killed backend's statement shows rolled back (its transaction never committed)");
$node->safe_psql('postgres', q{COMMIT PREPARED 'drift'});
is($node->safe_psql('postgres',
    q{SELECT outcome FROM zd_journal() WHERE object = 'prepared_then_committed'}),
   'committed', 'a transaction prepared before the crash and committed after it: committed');

# A backend killed right after its DDL committed.
my $after = $node->background_psql('postgres', on_error_stop => 1);
$after->query_safe(q{SET ROLE migrator; CREATE TABLE committed_then_killed (a int)});
my $after_pid = $after->query_safe('SELECT pg_backend_pid()');
$log_offset = -s $node->logfile;
kill 'KILL', $after_pid;
$after->{run}->kill_kill;
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
$node->poll_query_until('postgres', 'SELECT true') or die 'the server never came back';
is($node->safe_psql('postgres',
    q{SELECT outcome FROM zd_journal() WHERE object = 'committed_then_killed'}),
   'committed', 'a DDL committed before its backend was killed stays committed');

# --- bounded: two segments of half zero_downtime.journal_size ------------------------------------
$node->append_conf('postgresql.conf', "zero_downtime.journal_size = '64kB'");
$node->reload;
$node->safe_psql('postgres', join('',
    'SET ROLE migrator;',
    map { "COMMENT ON TABLE orders IS 'comment number $_';" } 1 .. 1500));
my $dir = $node->data_dir . '/zero_downtime';
my $size = (-s "$dir/journal") + (-s "$dir/journal.old");
cmp_ok($size, '<=', 64 * 1024 + 1024, "the journal's two segments hold at most its size ($size bytes)");
is($node->safe_psql('postgres',
    q{SELECT statement FROM zd_journal() WHERE command = 'COMMENT' ORDER BY at DESC LIMIT 1}),
   "COMMENT ON TABLE orders IS 'comment number 1500'", 'the newest entries are kept');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM zd_journal() WHERE command = 'COMMENT'}),
       '<', 1500, 'the oldest went');

done_testing();
