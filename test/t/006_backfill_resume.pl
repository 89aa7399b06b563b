# zd_backfill keeps its position with every committed batch: cancelled, terminated, or with the
# whole server killed (kill -9 of the postmaster), the same call resumes where it stopped and
# every row ends right.  Concurrent application writes that move rows behind the scan are
# found by the read that follows each pass and updated in a later round.  Lock timeouts are retried; when the retries run out the progress is
# kept and the error says how to continue.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('backfill');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'zero_downtime'
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE t (id int, a int, b int, c text);
    INSERT INTO t SELECT g, g, NULL, '' FROM generate_series(1, 200000) g;
    ANALYZE t;
});

# The CALL every run of this test makes: small, paced batches so it can be stopped part way.
my $call = q{CALL zd_backfill('t', 'b = a * 2', 'b IS NULL', name => 'resume', }
  . q{batch_size => 2000, target_batch_duration => NULL, pause => '20ms')};

sub start_backfill {
    my ($out, $err) = @_;
    return IPC::Run::start(
        [ $node->installed_command('psql'), '-X', '-d', $node->connstr('postgres'), '-c', $call ],
        '>', $out, '2>', $err);
}

sub progress {
    my ($column) = @_;
    return $node->safe_psql('postgres',
        "SELECT $column FROM zd_backfill_progress WHERE name = 'resume'");
}

# Waits until the running backfill has committed more than $rows rows.
sub wait_for_rows {
    my ($rows) = @_;
    $node->poll_query_until('postgres',
        "SELECT rows_done > $rows FROM zd_backfill_progress WHERE name = 'resume'")
      or die "the backfill never got past $rows rows";
}

# What the table holds agrees exactly with what the state says was committed.
sub state_matches_table {
    my ($what) = @_;
    my $done = $node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE b IS NOT NULL');
    is(progress('rows_done'), $done, "$what: rows_done equals the rows committed ($done)");
    is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE b IS DISTINCT FROM a * 2 AND b IS NOT NULL'),
        '0', "$what: every row written is right");
}

# The state of process $pid: 'Z' for a zombie, '' once it is gone.
sub process_state {
    my ($pid) = @_;
    my $stat = -e "/proc/$pid/stat" ? eval { slurp_file("/proc/$pid/stat") } // '' : '';
    return $stat =~ /^\d+ \(.*\) (\S)/ ? $1 : '';
}

# After kill -9 of the postmaster: waits until it and every backend it started have exited.
# In this sandbox the orphaned postmaster may stay a zombie (PID 1 reaps late), and a zombie
# still "holds" the lock files it names, so those are removed once nothing alive remains.
sub wait_until_dead {
    my ($postmaster) = @_;
    for (my $i = 0; $i < 300; $i++) {
        my $alive = 0;
        opendir(my $proc, '/proc') or die;
        for my $pid (grep { /^\d+$/ } readdir $proc) {
            my $stat = eval { slurp_file("/proc/$pid/stat") } // '';
            $alive++ if $stat =~ /^\d+ \(.*\) (\S) (\d+)/ && $1 ne 'Z'
              && ($pid == $postmaster || $2 == $postmaster);
        }
        closedir $proc;
        last unless $alive;
        usleep(100_000);
    }
    if (process_state($postmaster) eq 'Z') {
        unlink($node->data_dir . '/postmaster.pid');
        unlink(glob($node->host . '/.s.PGSQL.' . $node->port . '.lock'));
    }
}

# --- cancel ------------------------------------------------------------------------------------
my ($out, $err) = ('', '');
my $run = start_backfill(\$out, \$err);
wait_for_rows(20000);
my $pid = progress('pid');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$run->finish;
like($err, qr/canceling statement due to user request/, 'cancel: the CALL is cancelled');
is(progress('state'), 'interrupted', 'cancel: the progress view says interrupted');
state_matches_table('cancel');
my $after_cancel = progress('rows_done');
cmp_ok($after_cancel, '<', 200000, 'cancel: it stopped part way');

# --- terminate ---------------------------------------------------------------------------------
($out, $err) = ('', '');
$run = start_backfill(\$out, \$err);
wait_for_rows($after_cancel + 20000);
$pid = progress('pid');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$run->finish;
like($err, qr/resuming at pass 1, block \d+/, 'terminate: the second call resumed');
is(progress('state'), 'interrupted', 'terminate: the progress view says interrupted');
state_matches_table('terminate');

# --- kill -9 of the postmaster mid-run ------------------------------------------------------------
my $before_crash = progress('rows_done');
($out, $err) = ('', '');
$run = start_backfill(\$out, \$err);
wait_for_rows($before_crash + 20000);
my $postmaster = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
$node->kill9;
$run->finish;
wait_until_dead($postmaster);
$node->start;
state_matches_table('crash');
is(progress('state'), 'interrupted', 'crash: the progress view says interrupted');

# --- resume to the end, with an application moving rows behind the scan ------------------------
# Free space in the first pages, so the application's non-HOT updates move rows there, behind
# the scan; each moved row still has b NULL and must be found after the pass.
$node->safe_psql('postgres', q{
    CREATE INDEX t_c ON t (c);
    CREATE INDEX t_id ON t (id);
    SET zero_downtime.mode = off;
    DELETE FROM t WHERE id <= 20000 AND b IS NULL;
    INSERT INTO t SELECT g, g, NULL, '' FROM generate_series(1, 20000) g
      WHERE NOT EXISTS (SELECT FROM t WHERE id = g);
});
$node->safe_psql('postgres', 'VACUUM t');
my ($app_out, $app_err) = ('', '');
my $app = IPC::Run::start(
    [ $node->installed_command('psql'), '-X', '-v', 'ON_ERROR_STOP=1',
      '-d', $node->connstr('postgres'), '-c', q{
        DO $$ BEGIN
          FOR i IN 1..2000 LOOP
            UPDATE t SET c = c || 'x' WHERE id = 100000 + (i * 31) % 100000;
            COMMIT;
          END LOOP;
        END $$} ],
    '>', \$app_out, '2>', \$app_err);
($out, $err) = ('', '');
$run = start_backfill(\$out, \$err);
$run->finish;
$app->finish;
is($app->result(0), 0, 'the application wrote throughout without an error') or diag($app_err);
is($run->result(0), 0, 'the resumed backfill completed') or diag($err);
is(progress('state'), 'done', 'the progress view says done');
cmp_ok(progress('pass'), '>=', 2, 'a later round updated the moved rows');
like($err, qr/rows still match where_clause; pass \d+ updates them/,
    'the moved rows were updated one by one, not by another pass');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE b IS DISTINCT FROM a * 2'), '0',
    'every row is right');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '200000', 'no row lost or added');

# --- lock timeouts are retried ------------------------------------------------------------------
$node->safe_psql('postgres', 'SET zero_downtime.mode = off; UPDATE t SET b = NULL WHERE id % 10 = 0');
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('BEGIN; SELECT count(*) FROM (SELECT FROM t WHERE id = 50000 FOR UPDATE) s;');
($out, $err) = ('', '');
$run = IPC::Run::start(
    [ $node->installed_command('psql'), '-X', '-d', $node->connstr('postgres'), '-c',
      q{CALL zd_backfill('t', 'b = a * 2', 'b IS NULL', name => 'retried', lock_timeout => '100ms', max_retries => 50)} ],
    '>', \$out, '2>', \$err);
$node->poll_query_until('postgres',
    "SELECT retries > 1 FROM zd_backfill_progress WHERE name = 'retried'")
  or die 'the backfill never retried';
$blocker->query_safe('COMMIT');
$run->finish;
like($err, qr/canceling statement due to lock timeout; retry 1 of 50/, 'a batch behind a row lock is retried');
is($run->result(0), 0, 'and the backfill completes once the lock is gone') or diag($err);
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE b IS DISTINCT FROM a * 2'), '0',
    'every row is right');

# --- retries run out: the error says where it stopped; the progress is kept ------------------------
$node->safe_psql('postgres', 'SET zero_downtime.mode = off; UPDATE t SET b = NULL WHERE id % 10 = 0');
# The row locked is the last one to do in the table's order (the UPDATE above may have put any
# row's new version in the first blocks), so that batches before it have rows to commit.
$blocker->query_safe('BEGIN; SELECT count(*) FROM (SELECT FROM t WHERE b IS NULL ORDER BY ctid DESC LIMIT 1 FOR UPDATE) s;');
my ($ret, $stdout, $stderr) = $node->psql('postgres',
    q{CALL zd_backfill('t', 'b = a * 2', 'b IS NULL', name => 'gives-up', lock_timeout => '50ms', max_retries => 2)});
isnt($ret, 0, 'with the lock held throughout, the backfill gives up');
like($stderr, qr/ERROR:  canceling statement due to lock timeout/, 'the error is the lock timeout');
like($stderr, qr/DETAIL:  .*zd_backfill "gives-up" stopped at pass 1, block \d+ of \d+, after \d+ rows in \d+ batches and 2 retries of this batch/s,
    'it says where it stopped');
like($stderr, qr/HINT:  Its progress is kept: CALL zd_backfill\('public.t', 'b = a \* 2', 'b IS NULL', name => 'gives-up'\)/,
    'and how to continue');
is($node->safe_psql('postgres', "SELECT state || ': ' || last_error FROM zd_backfill_progress WHERE name = 'gives-up'"),
    'failed: canceling statement due to lock timeout', 'the progress view says failed, and why');
my $kept = $node->safe_psql('postgres', "SELECT rows_done FROM zd_backfill_progress WHERE name = 'gives-up'");
cmp_ok($kept, '>', 0, 'the batches before it are kept');
$blocker->query_safe('COMMIT');
$blocker->quit;
($ret, $stdout, $stderr) = $node->psql('postgres',
    q{CALL zd_backfill('t', 'b = a * 2', 'b IS NULL', name => 'gives-up')});
is($ret, 0, 'called again, it continues and completes');
like($stderr, qr/resuming at pass 1/, 'from where it stopped');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE b IS DISTINCT FROM a * 2'), '0',
    'every row is right');

# --- one run per name -----------------------------------------------------------------------------
$node->safe_psql('postgres', 'SET zero_downtime.mode = off; UPDATE t SET b = NULL');
($out, $err) = ('', '');
$run = start_backfill(\$out, \$err);
wait_for_rows(0);
($ret, $stdout, $stderr) = $node->psql('postgres', $call);
like($stderr, qr/ERROR:  zd_backfill: the backfill "resume" is already running in another session/,
    'a second run of the same name is refused while the first runs');
$node->safe_psql('postgres', 'SELECT pg_cancel_backend(' . progress('pid') . ')');
$run->finish;

$node->stop;
done_testing();
