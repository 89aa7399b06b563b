# Rewrites that fail part way, for the rewrites pg_regress cannot make fail in one session:
# each error keeps its own SQLSTATE and says what is left behind and the SQL to finish or undo,
# and the catalog is in the state it says.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('failures');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'zero_downtime'
zero_downtime.small_table_size = 0
zero_downtime.lock_timeout = '200ms'
zero_downtime.lock_retries = 1
});
$node->start;
$node->safe_psql('postgres', q{
CREATE TABLE items (id int, v int);
INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g;
CREATE INDEX CONCURRENTLY items_v ON items (v);
CREATE MATERIALIZED VIEW item_totals AS SELECT id, v FROM items;
CREATE UNIQUE INDEX CONCURRENTLY item_totals_id ON item_totals (id);
CREATE TABLE readings (at date, v int) PARTITION BY RANGE (at);
CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO readings VALUES ('2025-05-01', 1);
});

# Runs $sql while another session holds $lock_sql; returns psql's stderr.
sub fails_behind {
    my ($lock_sql, $sql) = @_;
    my $blocker = $node->background_psql('postgres');
    $blocker->query_safe("BEGIN; $lock_sql");
    my ($ret, $out, $err) = $node->psql('postgres', "SET lock_timeout = '300ms'; $sql");
    $blocker->query_safe('ROLLBACK');
    $blocker->quit;
    return $err;
}

my $err = fails_behind('LOCK TABLE items IN SHARE UPDATE EXCLUSIVE MODE;', 'DROP INDEX items_v');
like($err, qr/ERROR:  canceling statement due to lock timeout/, 'drop-index: the step fails on its lock');
like($err, qr/zero_downtime \(drop-index\) ran this statement as 1 step.*step 1 failed: DROP INDEX CONCURRENTLY public\.items_v\./s,
    'drop-index: the error names the failed step');
like($err, qr/HINT:  To finish, fix the cause, then run outside a transaction block:\nDROP INDEX CONCURRENTLY public\.items_v;/,
    'drop-index: and the SQL to finish');
is($node->safe_psql('postgres', "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_v'::regclass"),
    't', 'drop-index: the index is still there and valid');

$err = fails_behind('LOCK TABLE items IN SHARE UPDATE EXCLUSIVE MODE;', 'REINDEX INDEX items_v');
like($err, qr/zero_downtime \(reindex\) ran this statement as 1 step.*REINDEX INDEX CONCURRENTLY items_v/s,
    'reindex: the error names the failed step');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_index WHERE NOT indisvalid"), '0',
    'reindex: no invalid index is left');

$err = fails_behind('ANALYZE item_totals;', 'REFRESH MATERIALIZED VIEW item_totals');
like($err, qr/ERROR:  canceling statement due to lock timeout/, 'refresh: the capped step fails');
like($err, qr/capped lock_timeout at 200 ms for the EXCLUSIVE lock on public\.item_totals .*; 2 attempts/,
    'refresh: the lock cap explains its attempts');
like($err, qr/zero_downtime \(refresh-materialized-view\) ran this statement as 1 step; step 1 failed: REFRESH MATERIALIZED VIEW CONCURRENTLY item_totals\. The failed step left nothing behind\./,
    'refresh: and the rewrite says nothing is left behind');

$err = fails_behind('LOCK TABLE readings IN SHARE UPDATE EXCLUSIVE MODE;',
    'ALTER TABLE readings DETACH PARTITION readings_2025');
like($err, qr/zero_downtime \(detach-partition\).*DETACH PARTITION readings_2025 CONCURRENTLY/s,
    'detach-partition: the error names the failed step');
like($err, qr/To undo instead:\nALTER TABLE public\.readings DETACH PARTITION public\.readings_2025 FINALIZE;/,
    'detach-partition: and how to finish a pending detach');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings'::regclass"),
    '1', 'detach-partition: the partition is still attached');

# A concurrent build cancelled while it waits for an open transaction: the INVALID index it
# leaves is named, and the cleanup the hint gives removes it.
my $writer = $node->background_psql('postgres');
$writer->query_safe('BEGIN; INSERT INTO items VALUES (0, 0);');
my ($out, $stderr) = ('', '');
my $build = IPC::Run::start(
    [ $node->installed_command('psql'), '-X', '-d', $node->connstr('postgres'),
      '-c', 'CREATE INDEX items_id ON items (id)' ], '>', \$out, '2>', \$stderr);
$node->poll_query_until('postgres',
    "SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'CREATE INDEX items_id ON items (id)' "
  . "AND wait_event_type = 'Lock'") or die 'the build never waited';
$node->safe_psql('postgres',
    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'CREATE INDEX items_id ON items (id)'");
$build->finish;
$writer->query_safe('COMMIT');
$writer->quit;
like($stderr, qr/ERROR:  canceling statement due to user request/, 'cancelled build: the cancel is the error');
like($stderr, qr/left behind an INVALID index items_id/, 'cancelled build: it names the invalid index');
like($stderr, qr/DROP INDEX CONCURRENTLY IF EXISTS public\.items_id;/, 'cancelled build: with the cleanup');
is($node->safe_psql('postgres', "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_id'::regclass"),
    'f', 'cancelled build: the catalog holds that invalid index');
$node->safe_psql('postgres', 'DROP INDEX CONCURRENTLY IF EXISTS public.items_id');
is($node->safe_psql('postgres', "SELECT to_regclass('items_id') IS NULL"), 't',
    'cancelled build: the cleanup removes it');

$node->stop;
done_testing();
