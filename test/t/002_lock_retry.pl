# The lock cap in autocommit: while a blocker holds a conflicting lock, a capped DDL gives up
# its place in the queue every zero_downtime.lock_timeout and retries after a backoff; it
# completes once the blocker is gone.  When the retries run out, the error names the blocking
# backend.  Inside a transaction block it fails fast.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('retry');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'zero_downtime'
zero_downtime.lock_timeout = '200ms'
zero_downtime.lock_retries = 30
zero_downtime.lock_retry_budget = '30s'
});
$node->start;
$node->safe_psql('postgres',
    'CREATE TABLE accounts (id int); INSERT INTO accounts SELECT generate_series(1, 100)');

# Starts a psql running $sql without waiting for it.
sub start_psql {
    my ($sql, $out, $err) = @_;
    return IPC::Run::start(
        [ $node->installed_command('psql'), '-X', '-v', 'ON_ERROR_STOP=1',
          '-d', $node->connstr('postgres'), '-c', $sql ],
        '>', $out, '2>', $err);
}

# Waits until a statement starting with $prefix waits for a lock.
sub wait_for_lock_wait {
    my ($prefix) = @_;
    $node->poll_query_until('postgres',
        "SELECT count(*) >= 1 FROM pg_stat_activity WHERE query LIKE '$prefix%' "
      . "AND wait_event_type = 'Lock'") or die "'$prefix' never waited for its lock";
}

# --- the blocker goes away while the DDL retries: the DDL completes --------------------------
my $blocker = $node->background_psql('postgres');
my $blocker_pid = $blocker->query_safe('SELECT pg_backend_pid()');

# retry_behind_blocker(SQL, WAIT_FOR, WAIT_US, WHAT): runs SQL while the blocker holds a lock on
# accounts, lets it time out and retry for WAIT_US after its first lock wait (a query starting
# WAIT_FOR), checks it is still retrying, ends the blocker's transaction and checks SQL
# completes.  Returns SQL's stderr.
sub retry_behind_blocker {
    my ($sql, $wait_for, $wait_us, $what) = @_;
    $blocker->query_safe('BEGIN; SELECT count(*) FROM accounts;');
    my ($out, $err) = ('', '');
    my $ddl = start_psql($sql, \$out, \$err);
    wait_for_lock_wait($wait_for);
    usleep($wait_us);
    ok($ddl->pumpable, "$what is still retrying while the blocker holds its lock");
    $blocker->query_safe('COMMIT');
    $ddl->finish;
    is($ddl->result(0), 0, "$what completes once the blocker is gone");
    return $err;
}

my $err = retry_behind_blocker('ALTER TABLE accounts ADD COLUMN note text',
    'ALTER TABLE accounts', 1_200_000, 'the ALTER');
like($err, qr/NOTICE:  zero_downtime: ACCESS EXCLUSIVE lock on public\.accounts not granted within 200 ms; retry 1 of 30/,
    'each lock timeout is announced, with the retry count');
is($node->safe_psql('postgres',
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'note'"),
    '1', 'the column was added');
is($node->safe_psql('postgres', 'SHOW lock_timeout'), '0', 'lock_timeout is not left changed');
$node->safe_psql('postgres', 'CREATE EXTENSION zero_downtime');
ok($node->safe_psql('postgres',
        "SELECT lock_retries FROM zd_rule_stats WHERE rule = 'lock-cap'") > 0,
    'the retries are counted in zd_rule_stats');

# --- an ALTER that locks only its own table (SET DEFAULT) takes a free lock up front and runs
# without the retry subtransaction; behind a blocker it retries like any other ---------------
$err = retry_behind_blocker('ALTER TABLE accounts ALTER COLUMN note SET DEFAULT 1',
    'ALTER TABLE accounts ALTER', 500_000, 'SET DEFAULT');
like($err, qr/retry 1 of 30/, 'SET DEFAULT retried its lock timeouts');
my $out = '';
$err = '';
my $ddl = start_psql('ALTER TABLE accounts ALTER COLUMN note DROP DEFAULT', \$out, \$err);
$ddl->finish;
is($ddl->result(0) . $err, '0', 'with the lock free, DROP DEFAULT runs at once, no retry');

# --- the retries run out: the error names the blocking backend --------------------------------
$blocker->query_safe('BEGIN; SELECT count(*) FROM accounts;');
my ($ret, $stdout, $stderr) = $node->psql('postgres',
    "SET zero_downtime.lock_retries = 2; ALTER TABLE accounts ADD COLUMN note2 text;");
isnt($ret, 0, 'with the blocker still there, the ALTER fails after its retries');
like($stderr, qr/ERROR:  canceling statement due to lock timeout/, 'the error is the lock timeout');
like($stderr, qr/3 attempts over \d+ ms did not get it/, 'it says how often it tried');
like($stderr, qr/Blocking: pid $blocker_pid \(idle in transaction, transaction open for [0-9:]+, query started [0-9-]+ [0-9:]+ \w+: /,
    'it names the blocker: pid, age of its transaction, start of its query');
like($stderr, qr/HINT:  Run it again once those transactions have ended/, 'and says what to do');

# --- inside a transaction block: one capped attempt, no retry --------------------------------
($ret, $stdout, $stderr) = $node->psql('postgres',
    "BEGIN; ALTER TABLE accounts ADD COLUMN note3 text; COMMIT;");
isnt($ret, 0, 'inside a transaction block the ALTER fails fast');
unlike($stderr, qr/retry 1 of/, 'without retrying');
like($stderr, qr/Inside a transaction block zero_downtime does not retry/, 'and says why');
$blocker->query_safe('COMMIT');
$blocker->quit;

# --- a session's own lower lock_timeout is kept ------------------------------------------------
$blocker = $node->background_psql('postgres');
$blocker->query_safe('BEGIN; SELECT count(*) FROM accounts;');
($ret, $stdout, $stderr) = $node->psql('postgres',
    "SET lock_timeout = '50ms'; SET zero_downtime.lock_retries = 0; ALTER TABLE accounts ADD COLUMN note4 text;");
like($stderr, qr/capped lock_timeout at 50 ms/, 'a lower lock_timeout of the session is kept');
$blocker->query_safe('COMMIT');
$blocker->quit;

$node->stop;
done_testing();
