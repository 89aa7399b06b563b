# Deferred safe forms (zero_downtime.defer_in_transaction) survive what can happen to the
# background work after the migration's commit: the worker terminated, the server killed
# (kill -9 of the postmaster) while a deferred CREATE INDEX CONCURRENTLY waits, a restart.
# Each time the work resumes (the launcher at start, or CALL zd_deferred_wait()), and what an
# interrupted build left is replaced: one valid index in the end, nothing left behind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('deferred');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'zero_downtime'
zero_downtime.small_table_size = 0
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE ROLE migrator LOGIN;
    ALTER ROLE migrator SET zero_downtime.defer_in_transaction = on;
    GRANT CREATE ON SCHEMA public TO migrator;
    SET ROLE migrator;
    CREATE TABLE items (id int, v int);
    INSERT INTO items SELECT g, g FROM generate_series(1, 10000) g;});

sub migrate {
    my ($sql) = @_;
    return $node->psql('postgres', "BEGIN; $sql; COMMIT;", extra_params => [ '-U', 'migrator' ]);
}

sub state_of {
    my ($like) = @_;
    return $node->safe_psql('postgres',
        "SELECT state FROM zd_deferred WHERE run_sql LIKE '$like' ORDER BY id DESC LIMIT 1");
}

sub wait_for_state {
    my ($like, $state) = @_;
    $node->poll_query_until('postgres',
        "SELECT state = '$state' FROM zd_deferred WHERE run_sql LIKE '$like' ORDER BY id DESC LIMIT 1")
      or die "the deferred statement never reached '$state'";
}

# --- a snapshot older than the deferred build holds it in CREATE INDEX CONCURRENTLY's wait;
# the server is killed; on restart the launcher runs it again -----------------------------------
my $old_snapshot = $node->background_psql('postgres');
$old_snapshot->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM items;');
my ($ret, $out, $err) = migrate('CREATE INDEX items_v_idx ON items (v)');
is($ret, 0, 'the migration commits, its CREATE INDEX deferred') or diag($err);
like($err, qr/deferred: its safe form runs after this transaction commits/, 'and says so');
wait_for_state('%items_v_idx%', 'running');
$node->poll_query_until('postgres',
    "SELECT count(*) = 1 FROM pg_class WHERE relname = 'items_v_idx'")
  or die 'the build never started';
# zd_deferred_status shows the running build's progress (PostgreSQL shows an index build's
# progress to pg_read_all_stats, the worker's session being the bootstrap superuser's).
ok($node->poll_query_until('postgres',
        "SELECT progress LIKE 'waiting for old snapshots%' "
          . "FROM zd_deferred_status WHERE run_sql LIKE '%items_v_idx%' AND state = 'running'"),
    "zd_deferred_status: the running build's progress (its phase)");
my @children = split /\n/, $node->safe_psql('postgres', 'SELECT pid FROM pg_stat_activity');
$node->kill9;
$old_snapshot->{run}->kill_kill;
# The killed server's children notice and exit; until they have, a new one may not start.
for (1 .. 120) {
    last unless grep { kill 0, $_ } @children;
    select(undef, undef, undef, 0.25);
}
ok(!(grep { kill 0, $_ } @children), 'the killed server\'s processes are gone');
$node->start;
$node->poll_query_until('postgres',
    "SELECT state = 'done' FROM zd_deferred WHERE run_sql LIKE '%items_v_idx%'")
  or diag('the build did not resume after the restart');
is(state_of('%items_v_idx%'), 'done', 'resumed after kill -9 of the server and finished');
is($node->safe_psql('postgres',
        q{SELECT string_agg(c.relname || ':' || i.indisvalid, ',') FROM pg_index i
          JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'items'::regclass}),
    'items_v_idx:true', 'one valid index, nothing left of the interrupted build');

# --- the worker terminated while it waits: CALL zd_deferred_wait() starts another ----------------
$old_snapshot = $node->background_psql('postgres');
$old_snapshot->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM items;');
($ret, $out, $err) = migrate('CREATE INDEX items_id_idx ON items (id)');
is($ret, 0, 'a second deferred index') or diag($err);
wait_for_state('%items_id_idx%', 'running');
$node->safe_psql('postgres', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE backend_type = 'zero_downtime deferred'});
$old_snapshot->query_safe('COMMIT');
$old_snapshot->quit;
($ret, $out, $err) = $node->psql('postgres', "CALL zd_deferred_wait('60s')");
is($ret, 0, 'zd_deferred_wait starts a worker and returns once it is done') or diag($err);
is(state_of('%items_id_idx%'), 'done', 'the terminated build was run again');
is($node->safe_psql('postgres',
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_id_idx'::regclass"),
    't', 'and its index is valid');

# --- rolled back: nothing queued, nothing built ---------------------------------------------------
($ret, $out, $err) = $node->psql('postgres',
    'BEGIN; CREATE INDEX items_rollback_idx ON items (v, id); ROLLBACK;',
    extra_params => [ '-U', 'migrator' ]);
is($node->safe_psql('postgres',
        "SELECT count(*) FROM zd_deferred WHERE run_sql LIKE '%items_rollback_idx%'"),
    '0', 'a rolled-back migration queues nothing');

# --- a restart with nothing queued: the launcher starts, finds nothing, stays idle --------------
$node->restart;
is($node->safe_psql('postgres',
        q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'zero_downtime launcher'}),
    '1', 'the launcher runs after a restart');

$node->stop;
done_testing();
