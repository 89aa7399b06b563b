# Background mode: zd_backfill_start() hands the backfill to a background worker that runs as
# the caller and goes on after the client has disconnected; zd_backfill_progress shows it from
# any session; zd_backfill_cancel() stops it (its progress kept) and a new start resumes it.
# Bad input and missing privileges are the caller's errors, before any worker starts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('background');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'zero_downtime'");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE t (id int, a int, b int);
    INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 200000) g;
    ANALYZE t;
    CREATE ROLE app_owner LOGIN;
    GRANT SELECT, UPDATE ON t TO app_owner;
    CREATE ROLE bystander LOGIN;
    GRANT SELECT ON t TO bystander;
});

sub progress {
    my ($column) = @_;
    return $node->safe_psql('postgres',
        "SELECT $column FROM zd_backfill_progress WHERE name = 'bg' AND started_by = 'app_owner'");
}

# Started by an ordinary role; the starting session ends right away.
my ($ret, $out, $err) = $node->psql('postgres',
    q{SELECT zd_backfill_start('t', 'b = a * 2', 'b IS NULL', name => 'bg', batch_size => 2000, }
  . q{target_batch_duration => NULL, pause => '20ms')},
    extra_params => [ '-U', 'app_owner' ]);
is($ret, 0, 'zd_backfill_start returns at once');
is($out, 'bg', 'with the name of the backfill');
like($err, qr/NOTICE:  zd_backfill "bg" runs in the background \(pid \d+\)/, 'and says where it runs');

$node->poll_query_until('postgres', "SELECT rows_done > 20000 FROM zd_backfill_progress WHERE name = 'bg' AND started_by = 'app_owner'")
  or die 'the background backfill made no progress';
is(progress('state'), 'running', 'it goes on after the client disconnected');
is(progress('started_by'), 'app_owner', 'as the role that started it');
is($node->safe_psql('postgres',
        "SELECT backend_type FROM pg_stat_activity WHERE pid = " . progress('pid')),
    'zd_backfill', 'in a background worker');

# Another role neither sees nor cancels it.
is($node->safe_psql('postgres', "SELECT zd_backfill_cancel('bg')", extra_params => [ '-U', 'bystander' ]),
    'f', 'another role cannot cancel it');
is(progress('state'), 'running', 'it still runs');

# Started again by its role while it runs: the worker's refusal is the caller's error, at once.
($ret, $out, $err) = $node->psql('postgres',
    q{SELECT zd_backfill_start('t', 'b = a * 2', 'b IS NULL', name => 'bg', batch_size => 2000, }
  . q{target_batch_duration => NULL, pause => '20ms')},
    extra_params => [ '-U', 'app_owner' ]);
like($err, qr/ERROR:  zd_backfill: the backfill "bg" is already running in another session/,
    'a second start of a running name fails in the caller');
# Names are per role: another role's "bg" runs beside it, and finishes.
$node->safe_psql('postgres', q{
    CREATE TABLE other_t (id int, b int);
    INSERT INTO other_t SELECT g, NULL FROM generate_series(1, 1000) g;
    ALTER TABLE other_t OWNER TO bystander;
});
($ret, $out, $err) = $node->psql('postgres',
    q{SELECT zd_backfill_start('other_t', 'b = 1', 'b IS NULL', name => 'bg')},
    extra_params => [ '-U', 'bystander' ]);
is($ret, 0, "another role's backfill of the same name starts") or diag($err);
$node->poll_query_until('postgres',
    "SELECT state = 'done' FROM zd_backfill_progress WHERE name = 'bg' AND started_by = 'bystander'")
  or die "the other role's backfill did not finish";
is(progress('state'), 'running', 'and the first one still runs');

# Its own role cancels it; the progress is kept.
is($node->safe_psql('postgres', "SELECT zd_backfill_cancel('bg')", extra_params => [ '-U', 'app_owner' ]),
    't', 'its role cancels it');
$node->poll_query_until('postgres', "SELECT state = 'interrupted' FROM zd_backfill_progress WHERE name = 'bg' AND started_by = 'app_owner'")
  or die 'the cancelled backfill still runs';
my $kept = progress('rows_done');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE b IS NOT NULL'), $kept,
    'what it committed is kept, and matches its progress');
cmp_ok($kept, '<', 200000, 'it stopped part way');

# Started again: it resumes and completes in the background.
$node->safe_psql('postgres',
    q{SELECT zd_backfill_start('t', 'b = a * 2', 'b IS NULL', name => 'bg', batch_size => 2000, }
  . q{target_batch_duration => NULL, pause => '20ms')},
    extra_params => [ '-U', 'app_owner' ]);
$node->poll_query_until('postgres', "SELECT state = 'done' FROM zd_backfill_progress WHERE name = 'bg' AND started_by = 'app_owner'")
  or die 'the resumed backfill did not finish';
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE b IS DISTINCT FROM a * 2'), '0',
    'every row is right');
is(progress('rows_done'), '200000', 'its count covers both runs');

# Bad input and missing privileges: the caller's error, no worker, nothing changed.
($ret, $out, $err) = $node->psql('postgres',
    q{SELECT zd_backfill_start('t', 'no_such_column = 1', 'b IS NULL', name => 'bad')});
like($err, qr/ERROR:  column "no_such_column" of relation "t" does not exist/, 'an unknown column is refused at once');
($ret, $out, $err) = $node->psql('postgres',
    q{SELECT zd_backfill_start('t', 'b = 1', 'b IS NULL', name => 'bad', batch_size => 0)});
like($err, qr/ERROR:  zd_backfill: batch_size must be between 1 and/, 'a bad size is refused at once');
($ret, $out, $err) = $node->psql('postgres',
    q{SELECT zd_backfill_start('t', 'b = 1', 'b IS NULL', name => 'intruder')},
    extra_params => [ '-U', 'bystander' ]);
like($err, qr/ERROR:  permission denied for table t/, 'a role without UPDATE is refused at once');
is($node->safe_psql('postgres', "SELECT count(*) FROM zd_backfill_state WHERE name IN ('bad', 'intruder')"),
    '0', 'and no backfill was recorded');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'zd_backfill'"),
    '0', 'no worker is left running');

$node->stop;
done_testing();
