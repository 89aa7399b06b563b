# Expand/contract: the migrate step's work (the backfill, the concurrent index copy) runs in the
# deferred-work worker after the commit and resumes when it is interrupted: the worker
# terminated mid-backfill, then the server killed (kill -9 of the postmaster) mid-backfill.
# Each time the migration ends ready, every row filled, its index copy valid, and it contracts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('expand_resume');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'zero_downtime'});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE t1 (id int PRIMARY KEY, v text);
    CREATE INDEX t1_v_idx ON t1 (v);
    INSERT INTO t1 SELECT g, 'v' || g FROM generate_series(1, 400000) g;
    CREATE TABLE t2 (id int PRIMARY KEY, v text);
    INSERT INTO t2 SELECT g, 'v' || g FROM generate_series(1, 400000) g;
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

$node->stop;
done_testing();
