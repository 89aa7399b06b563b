# The lock cap in autocommit: while a blocker holds a conflicting lock, a capped DDL gives up
# its place in the queue every zero_downtime.lock_timeout and retries after a backoff; it
# completes once the blocker is gone.  When the retries run out, the error names the blocking
# backend.  Inside a transaction block it is retried the same way while the transaction holds no
# lock that blocks the application yet, and fails fast once it does.
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

# --- CREATE TABLE ... REFERENCES a table the application writes: retried (its tree is
# transformed anew each time: the retry of the column form crashed the backend), whether the
# foreign key is a column's or the table's (the latter was capped only inside, unretried) ------
$node->safe_psql('postgres', 'CREATE TABLE parent_t (id int PRIMARY KEY); INSERT INTO parent_t VALUES (1)');
for my $create (
    'CREATE TABLE child_col (id int, pid int REFERENCES parent_t (id))',
    'CREATE TABLE child_tab (id int, pid int, CONSTRAINT child_tab_fk FOREIGN KEY (pid) REFERENCES parent_t (id))') {
    $blocker->query_safe('BEGIN; UPDATE parent_t SET id = id;');
    my ($out, $err) = ('', '');
    my $ddl = start_psql($create, \$out, \$err);
    wait_for_lock_wait('CREATE TABLE child');
    usleep(700_000);
    ok($ddl->pumpable, "still retrying: $create");
    $blocker->query_safe('COMMIT');
    $ddl->finish;
    is($ddl->result(0), 0, "completes once the blocker is gone: $create") or diag($err);
    like($err, qr/retry 1 of 30/, "it retried: $create");
}
is($node->safe_psql('postgres',
        q{SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = 'parent_t'::regclass}),
    '2', 'both foreign keys exist');

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

# --- inside a transaction block that holds no blocking lock yet (a migration tool's transaction
# before its first DDL): retried like in autocommit, and completes once the blocker is gone ----
$blocker->query_safe('COMMIT');
$err = retry_behind_blocker(
    'BEGIN; CREATE TABLE tool_bookkeeping (id int); ALTER TABLE accounts ADD COLUMN note3 text; COMMIT;',
    'BEGIN; CREATE TABLE tool_bookkeeping', 700_000, 'the ALTER in a transaction block');
like($err, qr/retry 1 of 30/, 'it retried its lock timeouts inside the transaction');

# --- one that already holds a blocking lock: one capped attempt, no retry (every retry would
# keep the application waiting on the lock held), and the error says which lock and why -------
$node->safe_psql('postgres', 'CREATE TABLE other (id int); INSERT INTO other VALUES (1)');
$blocker->query_safe('BEGIN; SELECT count(*) FROM accounts;');
($ret, $stdout, $stderr) = $node->psql('postgres',
    "BEGIN; ALTER TABLE other ADD COLUMN x int; ALTER TABLE accounts ADD COLUMN note5 text; COMMIT;");
isnt($ret, 0, 'holding a blocking lock already, the ALTER fails fast');
unlike($stderr, qr/retry 1 of/, 'without retrying');
like($stderr, qr/1 attempt over [1-9]\d* ms did not get it/, 'the time it waited is counted');
like($stderr, qr/This transaction already holds the ACCESS EXCLUSIVE lock on public\.other \(taken by: ALTER TABLE other ADD COLUMN x int\)/,
    'and says which lock it holds and why it does not retry');
$blocker->query_safe('COMMIT');

# --- a migration role without pg_read_all_stats still sees who blocks it ----------------------
$node->safe_psql('postgres', q{
    CREATE ROLE migrator LOGIN;
    ALTER ROLE migrator SET zero_downtime.lock_retries = 0;
    ALTER TABLE accounts OWNER TO migrator;});
$blocker->query_safe('BEGIN; SELECT count(*) FROM accounts;');
($ret, $stdout, $stderr) = $node->psql('postgres',
    "ALTER TABLE accounts ADD COLUMN note6 text;",
    extra_params => [ '-U', 'migrator' ]);
like($stderr, qr/Blocking: pid $blocker_pid \(idle in transaction, transaction open for [0-9:]+, query started [^)]*\)/,
    'a role without pg_read_all_stats sees the blocker\'s pid, state and transaction age');
unlike($stderr, qr/insufficient privilege/, 'nothing reads <insufficient privilege>');
unlike($stderr, qr/SELECT count\(\*\) FROM accounts/, 'but not its query, which is not its to see');
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
