# Expand/contract: the migrate step's work (the backfill, the concurrent index copy) runs in the
# deferred-work worker after the commit and resumes when it is interrupted: the worker
# terminated mid-backfill, then the server killed (kill -9 of the postmaster) mid-backfill.
# Each time the migration ends ready, every row filled, its index copy valid, and it contracts.
# Then the index copy's CONCURRENTLY build interrupted (the worker terminated while the build
# waits for a writer): the INVALID index it left is dropped and built again when the work
# resumes (CREATE INDEX CONCURRENTLY IF NOT EXISTS alone would keep it, and the migration
# could never be ready).
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('expand_resume');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'zero_downtime'
zero_downtime.contract_quiet_period = 0});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE t1 (id int PRIMARY KEY, v text);
    CREATE INDEX t1_v_idx ON t1 (v);
    INSERT INTO t1 SELECT g, 'v' || g FROM generate_series(1, 400000) g;
    CREATE TABLE t2 (id int PRIMARY KEY, v text);
    INSERT INTO t2 SELECT g, 'v' || g FROM generate_series(1, 400000) g;
    CREATE TABLE t3 (id int PRIMARY KEY, v text);
    CREATE INDEX t3_v_idx ON t3 (v);
    INSERT INTO t3 SELECT g, 'v' || g FROM generate_series(1, 20000) g;
    ANALYZE;});

sub backfill_running {
    my ($name) = @_;
    $node->poll_query_until('postgres',
        "SELECT rows_done > 0 FROM zd_backfill_progress WHERE name = '$name' AND state = 'running'")
      or die "the backfill $name never ran";
}

sub ends_ready {
    my ($id, $table, $what) = @_;
    $node->safe_psql('postgres', q{CALL zd_deferred_wait('300s')});
    is($node->safe_psql('postgres', "SELECT phase FROM zd_migrations WHERE id = $id"), 'ready',
        "$what: the migration ends ready");
    is($node->safe_psql('postgres', "SELECT count(*) FROM $table WHERE w IS DISTINCT FROM v"),
        '0', "$what: every row filled");
    is($node->safe_psql('postgres', "SELECT zd_contract($id) IS NOT NULL"), 't',
        "$what: and contracts");
}

# --- the worker terminated while the backfill runs --------------------------------------------
my $id1 = $node->safe_psql('postgres', q{SELECT zd_expand_rename_column('t1', 'v', 'w')});
$node->safe_psql('postgres', "SELECT zd_migrate($id1)");
backfill_running("zd_migration_$id1");
is($node->safe_psql('postgres',
    q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
      WHERE backend_type = 'zero_downtime deferred'}), '1', 'the worker is terminated');
ends_ready($id1, 't1', 'after the worker was terminated');
is($node->safe_psql('postgres',
    q{SELECT string_agg(indexrelid::regclass::text || ':' || indisvalid, ','
                        ORDER BY indexrelid::regclass::text)
      FROM pg_index WHERE indrelid = 't1'::regclass}),
    't1_pkey:true,t1_v_idx:true', 'its index copy is valid and has the original name');

# --- the server killed while the backfill runs; the launcher resumes at restart ---------------
my $id2 = $node->safe_psql('postgres', q{SELECT zd_expand_rename_column('t2', 'v', 'w')});
$node->safe_psql('postgres', "SELECT zd_migrate($id2)");
backfill_running("zd_migration_$id2");
my @children = split /\n/, $node->safe_psql('postgres', 'SELECT pid FROM pg_stat_activity');
$node->kill9;
# The killed server's children notice and exit; until they have, a new one may not start.
for (1 .. 120) {
    last unless grep { kill 0, $_ } @children;
    select(undef, undef, undef, 0.25);
}
$node->start;
ends_ready($id2, 't2', 'after kill -9 of the server');

# --- the index copy's build interrupted: its INVALID index dropped and built again -----------
# A writer's open transaction (ROW EXCLUSIVE on t3): the concurrent build has made its INVALID
# catalog entry and waits for that transaction; the worker is terminated there.
my $id3 = $node->safe_psql('postgres', q{SELECT zd_expand_rename_column('t3', 'v', 'w')});
my ($blocker_out, $blocker_err) = ('', '');
my $blocker = IPC::Run::start(
    [ $node->installed_command('psql'), '-X', '-d', $node->connstr('postgres'), '-c',
      "SET application_name = 'writer'; BEGIN; LOCK TABLE t3 IN ROW EXCLUSIVE MODE; "
      . "SELECT pg_sleep(600)" ],
    '>', \$blocker_out, '2>', \$blocker_err);
$node->poll_query_until('postgres',
    q{SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
      WHERE a.application_name = 'writer' AND l.relation = 't3'::regclass AND l.granted})
  or die 'the writer never locked t3';
$node->safe_psql('postgres', "SELECT zd_migrate($id3)");
$node->poll_query_until('postgres',
    "SELECT count(*) = 1 FROM pg_index WHERE indexrelid::regclass::text = 't3_v_idx_zd$id3' "
  . "AND NOT indisvalid")
  or die 'the index copy build never started';
is($node->safe_psql('postgres',
    q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
      WHERE backend_type = 'zero_downtime deferred'}), '1',
    'the worker is terminated during the index copy build');
$node->safe_psql('postgres',
    q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'writer'});
$blocker->finish;
is($node->safe_psql('postgres',
    "SELECT indisvalid FROM pg_index WHERE indexrelid::regclass::text = 't3_v_idx_zd$id3'"),
    'f', 'the interrupted build left its INVALID index');
$node->safe_psql('postgres', q{CALL zd_deferred_wait('300s')});
is($node->safe_psql('postgres', "SELECT phase FROM zd_migrations WHERE id = $id3"), 'ready',
    'after the interrupted index build: the migration ends ready');
is($node->safe_psql('postgres',
    "SELECT count(*) FROM pg_class WHERE relname LIKE 't3_v_idx%'"), '2',
    'the original and one copy, no INVALID leftover beside it');
is($node->safe_psql('postgres', "SELECT zd_contract($id3) IS NOT NULL"), 't',
    'after the interrupted index build: and contracts');
is($node->safe_psql('postgres',
    q{SELECT string_agg(indexrelid::regclass::text || ':' || indisvalid, ','
                        ORDER BY indexrelid::regclass::text)
      FROM pg_index WHERE indrelid = 't3'::regclass}),
    't3_pkey:true,t3_v_idx:true', 'the rebuilt copy is valid and has the original name');
is($node->safe_psql('postgres', "SELECT count(*) FROM t3 WHERE w IS NULL"), '0',
    'every row filled');

$node->stop;
done_testing();
