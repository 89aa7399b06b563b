# The schema drift policy and the DDL journal against a real server: an application role's
# CREATE INDEX on a live table refused while the migration role's runs behind a blocker (its
# lock wait and hold time in the journal and the drift report); the lock wait of each kind of
# statement whose lock the guard takes (ALTER TABLE, RENAME, CREATE INDEX / TRIGGER / POLICY,
# DROP TABLE) behind a writer; objects named schema-qualified; a backend killed (kill -9, so
# the postmaster restarts every backend and wipes shared memory) mid-transaction and after a
# commit: no entry lost, the one whose transaction never committed shown rolled back; a
# prepared transaction committed after the restart; records staged in a mapped file, read back,
# moved to the journal file at their backend's exit and after the whole server was killed; the
# journal kept within its size; switched off (what was staged kept, the segments too) and on.
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
  FROM zd_journal() WHERE object = 'public.orders' AND command IN ('CREATE INDEX', 'ALTER TABLE')
 ORDER BY at});
is($rows, join("\n",
    'app|CREATE INDEX|refused|refused||null|null',
    'migrator|CREATE INDEX|allowed|committed|SHARE on public.orders|waited|held briefly',
    'migrator|ALTER TABLE|allowed|committed|ACCESS EXCLUSIVE on public.orders|granted at once|held long'),
   'the journal has both attempts, the lock wait behind the writer and the hold until commit');
is($node->safe_psql('postgres',
    qq{SELECT object, role, command, outcome FROM zd_schema_drift('$setup_done')}),
   'public.orders|app|CREATE INDEX|refused', 'the drift report lists the refused attempt, who and when');

# --- the lock wait of every kind of statement the guard takes the lock of ----------------------
# Each waits behind an application transaction that wrote to its table (ROW EXCLUSIVE: every
# lock these take conflicts with it), through the lock cap's retries; the journal shows the
# whole wait.
my %waiting = (
    'ALTER TABLE w_alter ALTER COLUMN v SET DEFAULT 1' => 'w_alter',
    'ALTER TABLE w_rename RENAME COLUMN v TO v2' => 'w_rename',
    'ALTER TABLE w_renamed RENAME TO w_renamed2' => 'w_renamed',
    'CREATE TRIGGER w_trigger_t BEFORE INSERT ON w_trigger FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()' => 'w_trigger',
    'CREATE POLICY w_policy_p ON w_policy USING (true)' => 'w_policy',
    'DROP TABLE w_drop' => 'w_drop',
    'CREATE INDEX w_index_v ON w_index (v)' => 'w_index',
);
my @tables = sort values %waiting;
# (The rules that would refuse a rename or a drop on a live table, allowed for this part.)
$node->append_conf('postgresql.conf', "zero_downtime.allow = 'rename-column, rename-table, drop-table'");
$node->reload;
$node->safe_psql('postgres', join('', 'SET ROLE migrator;',
    map { "CREATE TABLE $_ (id int, v int); GRANT INSERT ON $_ TO app;" } @tables));
my $writer = $node->background_psql('postgres', on_error_stop => 1);
$writer->query_safe('SET ROLE app');
$writer->query_safe('BEGIN');
$writer->query_safe(join('', map { "INSERT INTO $_ VALUES (1, 1);" } @tables));
my @runs;
for my $sql (sort keys %waiting) {
    my ($o, $e) = ('', '');
    push @runs, [ $sql, IPC::Run::start(
        [ $node->installed_command('psql'), '-X', '-v', 'ON_ERROR_STOP=1', '-U', 'migrator',
          '-d', $node->connstr('postgres'), '-c', $sql ], '>', \$o, '2>', \$e), \$e ];
}
# (Between the lock cap's attempts a statement sleeps: seen running, then given a second.)
$node->poll_query_until('postgres',
    "SELECT count(*) >= @{[ scalar @runs ]} FROM pg_stat_activity "
  . "WHERE usename = 'migrator' AND state = 'active'")
  or die 'the statements never all ran';
usleep(1_000_000);
$writer->query_safe('COMMIT');
for my $run (@runs) {
    $run->[1]->finish;
    is($?, 0, "$run->[0]: runs once the writer commits") or diag(${ $run->[2] });
}
is($node->safe_psql('postgres', q{
SELECT string_agg(command || ' ' || object || ': ' ||
                  CASE WHEN lock_wait_ms IS NULL THEN 'not measured'
                       WHEN lock_wait_ms >= 700 THEN 'waited' ELSE 'granted at once' END,
                  ', ' ORDER BY object)
  FROM zd_journal() WHERE object LIKE 'public.w\_%' AND role = 'migrator' AND outcome = 'committed'
   AND command NOT IN ('CREATE TABLE', 'GRANT')}),
   'ALTER TABLE public.w_alter: waited, DROP TABLE public.w_drop: waited, '
 . 'CREATE INDEX public.w_index: waited, CREATE POLICY public.w_policy: waited, '
 . 'ALTER TABLE public.w_rename: waited, ALTER TABLE public.w_renamed: waited, '
 . 'CREATE TRIGGER public.w_trigger: waited',
   'the journal has the lock wait of each kind');
$node->append_conf('postgresql.conf', "zero_downtime.allow = ''");
$node->reload;

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
 WHERE object IN ('public.committed_before', 'public.never_committed', 'public.prepared_then_committed')}),
   'public.committed_before: committed, public.never_committed: rolled back, public.prepared_then_committed: prepared',
   "the killed backend's statement shows rolled back (its transaction never committed)");
$node->safe_psql('postgres', q{COMMIT PREPARED 'drift'});
is($node->safe_psql('postgres',
    q{SELECT outcome FROM zd_journal() WHERE object = 'public.prepared_then_committed'}),
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
    q{SELECT outcome FROM zd_journal() WHERE object = 'public.committed_then_killed'}),
   'committed', 'a DDL committed before its backend was killed stays committed');

# --- staged: in a mapped file, no write() a record ---------------------------------------------
# A committed statement's record is in its backend's slot of zero_downtime/journal.stage (the
# page cache), not yet in the journal file, and zd_journal() shows it; the backend's exit moves
# it to the file.
my $dir = $node->data_dir . '/zero_downtime';
my $stager = $node->background_psql('postgres', on_error_stop => 1);
$stager->query_safe(q{SET ROLE migrator; COMMENT ON TABLE orders IS 'staged only'});
my $file_before = -s "$dir/journal" // 0;
ok(-e "$dir/journal.stage", 'the staging file exists');
is($node->safe_psql('postgres',
    q{SELECT outcome FROM zd_journal() WHERE statement = 'COMMENT ON TABLE orders IS ''staged only'''}),
   'committed', 'a staged record is read back');
is(-s "$dir/journal" // 0, $file_before, 'and it is not in the journal file yet');
$stager->quit;
$node->poll_query_until('postgres',
    q{SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE 'COMMENT ON TABLE orders IS ''staged only%'})
  or die 'the staging backend never exited';
cmp_ok(-s "$dir/journal", '>', $file_before, "its backend's exit wrote it to the journal file");

# The whole server killed (kill -9 of the postmaster and of every other process of it, no
# shutdown): the records committed before are in the page cache, and the next start moves them
# to the file.
my $doomed = $node->background_psql('postgres', on_error_stop => 1);
$doomed->query_safe(q{SET ROLE migrator; COMMENT ON TABLE orders IS 'before the server was killed'});
my @children = split /\s+/, `pgrep -P $node->{_pid}`;
$node->kill9;
kill 'KILL', @children;
$doomed->{run}->kill_kill;
for (1 .. 100) { last unless grep { kill 0, $_ } @children; usleep(100_000); }
$node->start;
is($node->safe_psql('postgres',
    q{SELECT outcome FROM zd_journal() WHERE statement = 'COMMENT ON TABLE orders IS ''before the server was killed'''}),
   'committed', 'a DDL committed before a kill -9 of the whole server is kept');

# --- bounded: two segments of half zero_downtime.journal_size ------------------------------------
$node->append_conf('postgresql.conf', "zero_downtime.journal_size = '64kB'");
$node->reload;
$node->safe_psql('postgres', join('',
    'SET ROLE migrator;',
    map { "COMMENT ON TABLE orders IS 'comment number $_';" } 1 .. 1500));
my $size = (-s "$dir/journal") + (-s "$dir/journal.old");
cmp_ok($size, '<=', 64 * 1024 + 1024, "the journal's two segments hold at most its size ($size bytes)");
is($node->safe_psql('postgres',
    q{SELECT statement FROM zd_journal() WHERE command = 'COMMENT' ORDER BY at DESC LIMIT 1}),
   "COMMENT ON TABLE orders IS 'comment number 1500'", 'the newest entries are kept');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM zd_journal() WHERE command = 'COMMENT'}),
       '<', 1500, 'the oldest went');

# --- switched off, then on again -----------------------------------------------------------------
# Staged records of a server killed while the journal was on go to the file at the next start
# even when the journal is off by then, the segments kept; switched on again by a reload, the
# first backend that records makes the staging file anew.
my $last = $node->background_psql('postgres', on_error_stop => 1);
$last->query_safe(q{SET ROLE migrator; COMMENT ON TABLE orders IS 'staged, then the journal off'});
my $entries = $node->safe_psql('postgres', q{SELECT count(*) FROM zd_journal()});
@children = split /\s+/, `pgrep -P $node->{_pid}`;
$node->kill9;
kill 'KILL', @children;
$last->{run}->kill_kill;
for (1 .. 100) { last unless grep { kill 0, $_ } @children; usleep(100_000); }
$node->append_conf('postgresql.conf', "zero_downtime.journal_size = 0");
$node->start;
ok(!-e "$dir/journal.stage", 'with the journal off, no staging file after the start');
is($node->safe_psql('postgres', q{SELECT count(*) FROM zd_journal()}), $entries,
   'what was staged went to the file, and nothing else went');
is($node->safe_psql('postgres',
    q{SELECT outcome FROM zd_journal() WHERE statement = 'COMMENT ON TABLE orders IS ''staged, then the journal off'''}),
   'committed', 'the staged record among them');
$node->append_conf('postgresql.conf', "zero_downtime.journal_size = '64kB'");
$node->reload;
$node->safe_psql('postgres', q{SET ROLE migrator; COMMENT ON TABLE orders IS 'journal on again'});
ok(-e "$dir/journal.stage", 'switched on by a reload: the staging file is made again');
is($node->safe_psql('postgres',
    q{SELECT outcome FROM zd_journal() WHERE statement = 'COMMENT ON TABLE orders IS ''journal on again'''}),
   'committed', 'and records');

done_testing();
