# How zero_downtime is loaded, and that its hook chains with others: LOAD / CREATE EXTENSION
# (this session only, with a warning), session_preload_libraries, shared_preload_libraries in
# either order beside pg_stat_statements, an immediate-mode crash, and a streaming standby.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# True when the guard runs in a fresh session: the hidden fault setting makes it fail on purpose.
sub guard_active_in_new_session {
    my ($node, $prefix) = @_;
    $prefix //= '';
    my ($ret, $out, $err) = $node->psql('postgres',
        "$prefix SET zero_downtime.debug_fault = 'zd_error'; CREATE INDEX ON probe (a);");
    $node->safe_psql('postgres', 'DROP INDEX IF EXISTS probe_a_idx');
    return $err =~ /injected zero_downtime error/ ? 1 : 0;
}

my $node = PostgreSQL::Test::Cluster->new('loading');
$node->init(allows_streaming => 1);
$node->start;
$node->safe_psql('postgres', 'CREATE TABLE probe (a int)');

# --- not preloaded: CREATE EXTENSION works but warns ----------------------------------------
my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION zero_downtime');
is($ret, 0, 'CREATE EXTENSION succeeds without preloading');
like($err, qr/WARNING:  zero_downtime: the guard is active in this session only/,
    'CREATE EXTENSION warns that other sessions are not guarded');
like($err, qr/HINT:  Add zero_downtime to shared_preload_libraries/, 'the warning says how to fix it');
is($node->safe_psql('postgres', 'SELECT loaded_by FROM zd_status()'),
    'LOAD or CREATE EXTENSION (this session only)', 'zd_status reports how it was loaded');
is(guard_active_in_new_session($node), 0, 'a new session is not guarded');
is(guard_active_in_new_session($node, "LOAD 'zero_downtime';"), 1,
    'LOAD activates the guard in its own session');

# --- session_preload_libraries --------------------------------------------------------------
$node->append_conf('postgresql.conf', "session_preload_libraries = 'zero_downtime'");
$node->reload;
is(guard_active_in_new_session($node), 1, 'session_preload_libraries guards every new session');
$node->safe_psql('postgres', 'DROP EXTENSION zero_downtime');
($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION zero_downtime');
is($ret, 0, 'CREATE EXTENSION succeeds with session_preload_libraries');
unlike($err, qr/WARNING/, 'and does not warn');

# --- shared_preload_libraries, beside pg_stat_statements, in both orders ---------------------
$node->append_conf('postgresql.conf', "session_preload_libraries = ''");
foreach my $libs ('pg_stat_statements,zero_downtime', 'zero_downtime,pg_stat_statements') {
    $node->append_conf('postgresql.conf', "shared_preload_libraries = '$libs'");
    $node->restart;
    $node->safe_psql('postgres', 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    $node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
    is($node->safe_psql('postgres', 'SELECT loaded_by FROM zd_status()'),
        'shared_preload_libraries', "$libs: zd_status reports shared_preload_libraries");
    is(guard_active_in_new_session($node), 1, "$libs: the guard is active");
    $node->safe_psql('postgres', 'CREATE TABLE chained (a int); DROP TABLE chained;');
    is($node->safe_psql('postgres',
            "SELECT count(*) FROM pg_stat_statements WHERE query LIKE 'CREATE TABLE chained%'"),
        '1', "$libs: pg_stat_statements still records utility statements");
}

# --- an immediate-mode crash: the server recovers and the guard is back ---------------------
$node->stop('immediate');
$node->start;
is(guard_active_in_new_session($node), 1, 'after crash recovery the guard is active');

# --- a streaming standby with the library preloaded serves reads ------------------------------
$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;
$node->safe_psql('postgres', 'INSERT INTO probe SELECT generate_series(1, 10)');
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM probe'), '10',
    'the standby replays and answers queries');
is($standby->safe_psql('postgres', 'SELECT loaded_by FROM zd_status()'),
    'shared_preload_libraries', 'the standby has the guard loaded');

$standby->stop;
$node->stop;
done_testing();
