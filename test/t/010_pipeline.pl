# A libpq pipeline (extended protocol, one Sync for several statements) is one implicit
# transaction: the guard classifies it as PreventInTransactionBlock does.  A dangerous statement
# after another in the pipeline is refused with the hint (its safe form would commit, making the
# earlier statements permanent before the pipeline ends); first in a pipeline it is rewritten as
# in autocommit.  The client is test/pipeline/pipeline_client.c, built here against libpq.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $client = "$PostgreSQL::Test::Utils::tmp_check/pipeline_client";
my $source = "$ENV{REPO}/test/pipeline/pipeline_client.c";
my $includedir = `pg_config --includedir`;
chomp $includedir;
system('gcc', '-O1', "-I$includedir", '-o', $client, $source, '-lpq') == 0
  or BAIL_OUT('cannot build the pipeline client');

my $node = PostgreSQL::Test::Cluster->new('pipeline');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'zero_downtime'");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE t (id int, v int);
    INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;
});
my $conninfo = $node->connstr('postgres') . " options='-c zero_downtime.small_table_size=0'";

sub pipeline { my $out = `$client "$conninfo" @{[ map { "\"$_\"" } @_ ]}`; return $out; }

my $out = pipeline('INSERT INTO t VALUES (5000, 1)', 'ALTER TABLE t ALTER COLUMN v SET NOT NULL',
                   'SELECT 1');
like($out, qr/^ok INSERT 0 1\nerror ZD001 set-not-null: /, 'second in a pipeline: refused, not rewritten');
like($out, qr/\naborted\n$/, 'and the rest of the pipeline is skipped');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id = 5000'), '0',
   'the earlier INSERT was not made permanent by a step commit');
is($node->safe_psql('postgres',
       q{SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass}), '0',
   'no helper constraint was left');

$out = pipeline('INSERT INTO t VALUES (5001, 1)', 'CREATE INDEX t_v ON t (v)');
like($out, qr/\nerror ZD001 create-index: /, 'CREATE INDEX second in a pipeline: ZD001, not 25001');

$out = pipeline('CREATE INDEX t_v ON t (v)');
is($out, "ok CREATE INDEX\n", 'alone in a pipeline: rewritten as in autocommit');
is($node->safe_psql('postgres',
       q{SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v'::regclass}), 't',
   'the index was built CONCURRENTLY and is valid');

$node->stop;
done_testing();
