# zd_backfill waits while a streaming standby is behind by more than max_replica_lag, shows it
# in zd_backfill_progress ('waiting for replica'), and goes on once the standby has caught up.
# The standby's replay is paused to make it fall behind: a stopped standby reports no new lag,
# so zd_backfill also counts the age of its own last batch that the standby has not replayed.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'zero_downtime'");
$primary->start;
$primary->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE t (id int, a int, b int);
    INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 100000) g;
    ANALYZE t;
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', 'wal_receiver_status_interval = 1s');
$standby->start;
$primary->wait_for_catchup($standby);

# Batches of about 2000 rows, 10 ms apart: a few seconds in all.
my $call = q{CALL zd_backfill('t', 'b = a * 2', 'b IS NULL', name => 'lagged', }
  . q{batch_size => 2000, target_batch_duration => NULL, max_replica_lag => '300ms', pause => '10ms')};

# --- the standby keeps up: no waiting -----------------------------------------------------------
my ($ret, $out, $err) = $primary->psql('postgres', $call);
is($ret, 0, 'with the standby keeping up, the backfill completes');
unlike($err, qr/waiting/, 'without waiting for it');
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM t WHERE b IS DISTINCT FROM a * 2'), '0',
    'the standby has every row right');

# --- the standby stops replaying: the backfill waits, visibly, and goes on after ------------------
$primary->safe_psql('postgres', 'SET zero_downtime.mode = off; UPDATE t SET b = NULL');
$primary->wait_for_catchup($standby);
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
($out, $err) = ('', '');
my $run = IPC::Run::start(
    [ $primary->installed_command('psql'), '-X', '-d', $primary->connstr('postgres'), '-c', $call ],
    '>', \$out, '2>', \$err);
$primary->poll_query_until('postgres',
    "SELECT state = 'waiting for replica' FROM zd_backfill_progress WHERE name = 'lagged'")
  or die 'the backfill never waited for the standby: ' . $primary->safe_psql('postgres', 'SELECT * FROM zd_backfill_progress') . $primary->safe_psql('postgres', 'SELECT * FROM pg_stat_replication');
my $done_while_waiting = $primary->safe_psql('postgres',
    "SELECT rows_done FROM zd_backfill_progress WHERE name = 'lagged'");
usleep(1_000_000);
is($primary->safe_psql('postgres',
        "SELECT state || ' ' || rows_done FROM zd_backfill_progress WHERE name = 'lagged'"),
    "waiting for replica $done_while_waiting", 'while the standby is stopped, no batch runs');
cmp_ok($done_while_waiting, '<', 100000, 'it stopped part way');
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
$run->finish;
is($run->result(0), 0, 'once the standby replays again, the backfill completes') or diag($err);
like($err, qr/a standby's replay lag is \d+ ms, over max_replica_lag \(300 ms\); waiting/,
    'it said it was waiting');
like($err, qr/standbys caught up after \d+ ms; going on/, 'and when it went on');
is($primary->safe_psql('postgres', "SELECT state FROM zd_backfill_progress WHERE name = 'lagged'"),
    'done', 'the progress view says done');
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM t WHERE b IS DISTINCT FROM a * 2'), '0',
    'the standby has every row right');

$standby->stop;
$primary->stop;
done_testing();
