# Expand/contract under concurrent load: an old client (old column only) and a new client (new
# column only) write through the whole lifecycle of a rename (users.email -> email_address) and
# of a type change (orders.total int -> bigint, the new client writing the shadow column).
# Each client writes its own rows (old: odd ids, new: even ids), updates and inserts, and logs
# every write in a journal in the same transaction.  No pgbench transaction may fail; at the end
# every row holds the last value its journal says was written (no write lost), both columns
# agree while both exist, and the final table equals what a single-version run would give.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('expand');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'zero_downtime'
max_connections = 40
zero_downtime.contract_quiet_period = 0
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL DEFAULT '', n int);
    CREATE INDEX users_email_idx ON users (email);
    INSERT INTO users SELECT g, 'seed-' || g, 0 FROM generate_series(1, 20000) g;
    CREATE TABLE orders (id bigint PRIMARY KEY, total int NOT NULL DEFAULT 0);
    INSERT INTO orders SELECT g, g FROM generate_series(1, 20000) g;
    CREATE SEQUENCE old_ids START 100001 INCREMENT 2;
    CREATE SEQUENCE new_ids START 100002 INCREMENT 2;
    CREATE TABLE journal (seq bigserial PRIMARY KEY, client text, tbl text, id bigint, v text);
    ANALYZE;});

my $dir = PostgreSQL::Test::Utils::tempdir;
sub script {
    my ($name, $body) = @_;
    my $path = "$dir/$name.sql";
    open my $fh, '>', $path or die $!;
    print $fh $body;
    close $fh;
    return $path;
}

# Old code: users.email and orders.total.  New code: users.email_address and orders.total_big
# (the type change's new column, named for it until contract).
my $old = script('old', q{
\set id 2 * random(1, 10000) - 1
\set v random(1, 1000000000)
BEGIN;
UPDATE users SET email = 'o' || :v WHERE id = :id;
INSERT INTO journal (client, tbl, id, v) VALUES ('old', 'users', :id, 'o' || :v);
UPDATE orders SET total = :v WHERE id = :id;
INSERT INTO journal (client, tbl, id, v) VALUES ('old', 'orders', :id, :v);
SELECT email FROM users WHERE id = :id + 1;
SELECT total FROM orders WHERE id = :id + 1;
END;
BEGIN;
INSERT INTO users (id, email) VALUES (nextval('old_ids'), 'oi' || :v) RETURNING id AS newid \gset
INSERT INTO journal (client, tbl, id, v) VALUES ('old', 'users', :newid, 'oi' || :v);
END;
});
my $new = script('new', q{
\set id 2 * random(1, 10000)
\set v random(1, 1000000000)
BEGIN;
UPDATE users SET email_address = 'n' || :v WHERE id = :id;
INSERT INTO journal (client, tbl, id, v) VALUES ('new', 'users', :id, 'n' || :v);
UPDATE orders SET total_big = :v WHERE id = :id;
INSERT INTO journal (client, tbl, id, v) VALUES ('new', 'orders', :id, :v);
SELECT email_address FROM users WHERE id = :id - 1;
SELECT total_big FROM orders WHERE id = :id - 1;
END;
BEGIN;
INSERT INTO users (id, email_address) VALUES (nextval('new_ids'), 'ni' || :v) RETURNING id AS newid \gset
INSERT INTO journal (client, tbl, id, v) VALUES ('new', 'users', :newid, 'ni' || :v);
END;
});
# After contract the new code's names are the final ones.
my $new_after = script('new_after', q{
\set id 2 * random(1, 10000)
\set v random(1, 1000000000)
BEGIN;
UPDATE users SET email_address = 'n' || :v WHERE id = :id;
INSERT INTO journal (client, tbl, id, v) VALUES ('new', 'users', :id, 'n' || :v);
UPDATE orders SET total = :v WHERE id = :id;
INSERT INTO journal (client, tbl, id, v) VALUES ('new', 'orders', :id, :v);
END;
});

sub start_clients {
    my ($script, $seconds, $clients) = @_;
    my ($out, $err) = ('', '');
    my $h = IPC::Run::start(
        [ 'pgbench', '-n', '-T', $seconds, '-c', $clients, '-f', $script,
          '-h', $node->host, '-p', $node->port, 'postgres' ],
        '>', \$out, '2>', \$err);
    return { h => $h, out => \$out, err => \$err, what => $script };
}

sub finish_clients {
    my ($c, $name) = @_;
    $c->{h}->finish;
    my $ok = $c->{h}->result == 0 && ${ $c->{out} } !~ /number of failed transactions: [1-9]/
      && ${ $c->{err} } !~ /(ERROR|aborted)/;
    ok($ok, "$name: every transaction succeeded")
      or diag(${ $c->{out} } . ${ $c->{err} });
    my ($tx) = ${ $c->{out} } =~ /number of transactions actually processed: (\d+)/;
    ok(defined $tx && $tx > 0, "$name: it did work ($tx transactions)");
}

# --- expand both migrations while the old client writes --------------------------------------
my $old_clients = start_clients($old, 14, 3);
sleep 1;
my $rename = $node->safe_psql('postgres',
    q{SELECT zd_expand_rename_column('users', 'email', 'email_address', version => '2')});
my $retype = $node->safe_psql('postgres',
    q{SELECT zd_expand_change_type('orders', 'total', 'bigint', 'total::bigint',
                                   'total::integer', version => '2', new_column => 'total_big')});
ok($rename && $retype, "both migrations expanded under load ($rename, $retype)");

# --- the new client joins; both migrate (backfill and index copies under both clients) -------
my $new_clients = start_clients($new, 10, 3);
sleep 1;
$node->safe_psql('postgres', "SELECT zd_migrate($rename); SELECT zd_migrate($retype);");
$node->safe_psql('postgres', q{CALL zd_deferred_wait('120s')});
is($node->safe_psql('postgres', 'SELECT string_agg(phase, \',\' ORDER BY id) FROM zd_migrations'),
    'ready,ready', 'both migrations ready while both clients write');
is($node->safe_psql('postgres',
    q{SELECT (SELECT count(*) FROM users WHERE email IS DISTINCT FROM email_address)
           + (SELECT count(*) FROM orders WHERE total IS DISTINCT FROM total_big)}),
    '0', 'old and new columns agree on every row');

# --- the old code is retired (its run ends), then contract while the new client writes -------
finish_clients($old_clients, 'old client');
is($node->safe_psql('postgres',
    q{SELECT (SELECT count(*) FROM users WHERE email IS DISTINCT FROM email_address)
           + (SELECT count(*) FROM orders WHERE total IS DISTINCT FROM total_big)}),
    '0', 'the columns still agree once the old client is gone');
finish_clients($new_clients, 'new client');

# A value the down expression cannot map back (a bigint beyond integer): the documented error,
# to that writer only; after contract the same write succeeds.
my ($ret, $stdout, $stderr) = $node->psql('postgres',
    'UPDATE orders SET total_big = 5000000000 WHERE id = 2');
like($stderr, qr/integer out of range.*\n.*sync trigger of migration $retype/s,
    'before contract, a bigint beyond integer is the documented out-of-range error');

# The rename's contract while the new client writes (its names survive it).
my $across_rename = start_clients($new, 4, 2);
sleep 1;
$node->safe_psql('postgres', "SELECT zd_contract($rename)");
finish_clients($across_rename, 'new client across the rename contract');

# The type change's contract renames total_big to total: the new client's later code uses
# the final name (before the contract commits, it writes the old column through the trigger).
my $across_retype = start_clients($new_after, 4, 2);
sleep 1;
$node->safe_psql('postgres', "SELECT zd_contract($retype)");
finish_clients($across_retype, 'new client across the type contract');
$node->safe_psql('postgres', 'UPDATE orders SET total = 5000000000 WHERE id = 2');
$node->safe_psql('postgres',
    q{INSERT INTO journal (client, tbl, id, v) VALUES ('new', 'orders', 2, '5000000000')});

is($node->safe_psql('postgres', 'SELECT string_agg(phase, \',\' ORDER BY id) FROM zd_migrations'),
    'complete,complete', 'both migrations complete');
is($node->safe_psql('postgres',
    q{SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
      FROM pg_attribute WHERE attrelid IN ('users'::regclass, 'orders'::regclass)
       AND attnum > 0 AND NOT attisdropped GROUP BY attrelid ORDER BY attrelid}),
    "id:bigint,n:integer,email_address:text\nid:bigint,total:bigint", 'the final columns');

# --- no write lost: every row holds its last journaled value ---------------------------------
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM (SELECT DISTINCT ON (id) id, v FROM journal WHERE tbl = 'users'
                          ORDER BY id, seq DESC) j
    LEFT JOIN users u USING (id) WHERE u.email_address IS DISTINCT FROM j.v}),
    '0', 'users: every row holds the last value written to it, by either client');
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM (SELECT DISTINCT ON (id) id, v FROM journal WHERE tbl = 'orders'
                          ORDER BY id, seq DESC) j
    LEFT JOIN orders o USING (id) WHERE o.total IS DISTINCT FROM j.v::bigint}),
    '0', 'orders: every row holds the last value written to it, by either client');
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT FROM journal j WHERE j.id = u.id
                                                   AND j.tbl = 'users')
      AND u.email_address IS DISTINCT FROM 'seed-' || u.id}),
    '0', 'rows no client wrote keep their seed value');
my ($old_rows, $new_rows) = split /\|/, $node->safe_psql('postgres', q{
    SELECT count(*) FILTER (WHERE client = 'old'), count(*) FILTER (WHERE client = 'new')
    FROM journal});
ok($old_rows > 0 && $new_rows > 0, "both clients wrote ($old_rows and $new_rows journaled writes)");
is($node->safe_psql('postgres',
    q{SELECT string_agg(indexrelid::regclass::text || ':' || indisvalid, ','
                        ORDER BY indexrelid::regclass::text)
      FROM pg_index WHERE indrelid = 'users'::regclass}),
    'users_email_idx:true,users_pkey:true', 'the index on the column, copied and renamed');

$node->stop;
done_testing();
