# Rewrites whose backend is terminated part way (pg_terminate_backend: no error report, no
# cleanup), then the same statement run again: the re-run finishes the job with what the
# interrupted run left, and nothing of that run is left over (no second index beside an INVALID
# one, no helper constraint).
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rerun');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'zero_downtime'
zero_downtime.small_table_size = 0
zero_downtime.lock_timeout = '60s'
zero_downtime.lock_retries = 0
});
$node->start;
$node->safe_psql('postgres', q{
CREATE TABLE items (id int, v int);
INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g;
CREATE TABLE readings (at date, v int) PARTITION BY RANGE (at);
CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE readings_2026 PARTITION OF readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO readings SELECT date '2025-01-01' + g, g FROM generate_series(0, 700) g;
CREATE TABLE parcels (id int, weight int);
INSERT INTO parcels SELECT g, g FROM generate_series(1, 1000) g;
});

# Starts $sql in a psql of its own; returns the harness, its pid and its stderr.
sub start_statement {
    my ($sql) = @_;
    my ($out, $err) = ('', '');
    my $h = IPC::Run::start(
        [ $node->installed_command('psql'), '-X', '-d', $node->connstr('postgres'),
          '-c', "SET application_name = 'rerun_victim'", '-c', $sql ],
        '>', \$out, '2>', \$err);
    return ($h, \$err);
}

sub victim_pid {
    return $node->safe_psql('postgres',
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'rerun_victim'");
}

# Terminates the victim once $condition (SQL, may use :pid) holds.
sub terminate_when {
    my ($h, $condition) = @_;
    $node->poll_query_until('postgres',
        "SELECT count(*) > 0 FROM pg_stat_activity a WHERE a.application_name = 'rerun_victim' "
      . "AND ($condition)") or die "the victim never reached: $condition";
    $node->safe_psql('postgres',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rerun_victim'");
    $h->finish;
}

# 1. An unnamed CREATE INDEX terminated while its concurrent build waits for a writer: the
#    INVALID index is left; the re-run takes its name, drops it and builds it again.
my $writer = $node->background_psql('postgres');
$writer->query_safe('BEGIN; INSERT INTO items VALUES (0, 0);');
my ($h, $err) = start_statement('CREATE INDEX ON items (v)');
terminate_when($h, "a.wait_event_type = 'Lock'");
$writer->query_safe('COMMIT');
is($node->safe_psql('postgres',
    "SELECT string_agg(indexrelid::regclass || ':' || indisvalid, ',') FROM pg_index WHERE indrelid = 'items'::regclass"),
    'items_v_idx:false', 'terminated build: it left its INVALID index');
my ($ret, $out, $stderr) = $node->psql('postgres', 'CREATE INDEX ON items (v)');
is($ret, 0, 'unnamed re-run: succeeds');
like($stderr, qr/An earlier run left the INVALID index public\.items_v_idx: dropped CONCURRENTLY and built again\./,
    'unnamed re-run: the NOTICE says it replaces the leftover');
is($node->safe_psql('postgres',
    "SELECT string_agg(indexrelid::regclass || ':' || indisvalid, ',') FROM pg_index WHERE indrelid = 'items'::regclass"),
    'items_v_idx:true', 'unnamed re-run: one index, valid, nothing left beside it');

# 2. A partitioned CREATE INDEX terminated while building the second partition's index: the
#    re-run reuses the INVALID parent, attaches the first partition's valid index and replaces
#    the second's INVALID one.
$writer->query_safe("BEGIN; INSERT INTO readings_2026 VALUES ('2026-02-01', 0);");
($h, $err) = start_statement('CREATE INDEX readings_v ON readings (v)');
terminate_when($h, "a.wait_event_type = 'Lock'");
$writer->query_safe('COMMIT');
my $indexes = q{SELECT string_agg(c.relname || ':' || i.indisvalid || ':' ||
       coalesce((SELECT p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
                  WHERE h.inhrelid = c.oid), '-'), ',' ORDER BY c.relname)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'readings%'};
is($node->safe_psql('postgres', $indexes),
    'readings_2025_v_idx:true:-,readings_2026_v_idx:false:-,readings_v:false:-',
    'terminated partitioned build: parent INVALID, one valid and one INVALID partition index');
($ret, $out, $stderr) = $node->psql('postgres', 'CREATE INDEX readings_v ON readings (v)');
is($ret, 0, 'partitioned re-run: succeeds');
unlike($stderr, qr/CREATE INDEX CONCURRENTLY readings_2025/, 'partitioned re-run: the valid partition index is not built again');
is($node->safe_psql('postgres', $indexes),
    'readings_2025_v_idx:true:readings_v,readings_2026_v_idx:true:readings_v,readings_v:true:-',
    'partitioned re-run: every index valid and attached, no second one');

# 3. SET NOT NULL terminated while its VALIDATE waits: the NOT VALID helper is left; the re-run
#    validates it, sets NOT NULL and drops it.  A reader holds off step 1 until a second
#    session has queued a SHARE UPDATE EXCLUSIVE lock behind it, which then holds off step 2.
my $reader = $node->background_psql('postgres');
$reader->query_safe('BEGIN; SELECT count(*) FROM parcels;');
($h, $err) = start_statement('ALTER TABLE parcels ALTER COLUMN weight SET NOT NULL');
$node->poll_query_until('postgres',
    "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'rerun_victim' AND wait_event_type = 'Lock'")
  or die 'step 1 never waited';
my $holder = $node->background_psql('postgres');
$holder->query_until(qr/locking/, "\\echo locking\nBEGIN; LOCK TABLE parcels IN SHARE UPDATE EXCLUSIVE MODE;\n");
$node->poll_query_until('postgres',
    "SELECT count(*) = 2 FROM pg_locks WHERE relation = 'parcels'::regclass AND NOT granted")
  or die 'the lock never queued';
$reader->query_safe('COMMIT');
terminate_when($h, "EXISTS (SELECT FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted "
                 . "AND l.mode = 'ShareUpdateExclusiveLock')");
$holder->query_safe('ROLLBACK');
$holder->quit;
$reader->quit;
is($node->safe_psql('postgres',
    "SELECT string_agg(conname || ':' || convalidated, ',') FROM pg_constraint WHERE conrelid = 'parcels'::regclass"),
    'parcels_weight_not_null:false', 'terminated SET NOT NULL: the NOT VALID helper is left');
($ret, $out, $stderr) = $node->psql('postgres', 'ALTER TABLE parcels ALTER COLUMN weight SET NOT NULL');
is($ret, 0, 'SET NOT NULL re-run: succeeds');
# (15-17: a helper CHECK; 18+: the column's own NOT NULL constraint, NOT VALID.)
like($stderr, qr/An earlier run left its helper constraint parcels_weight_not_null \(NOT VALID\)|Its NOT NULL constraint parcels_weight_not_null is there NOT VALID/,
    'SET NOT NULL re-run: it finishes with the helper that run left');
is($node->safe_psql('postgres',
    "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'parcels'::regclass AND attname = 'weight'"),
    't', 'SET NOT NULL re-run: the column is NOT NULL');
# (CHECK constraints: PostgreSQL 18 catalogues the column's NOT NULL as a constraint too.)
is($node->safe_psql('postgres',
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'parcels'::regclass AND contype = 'c'"),
    '0', 'SET NOT NULL re-run: no helper constraint is left');

$writer->quit;
$node->stop;
done_testing();
