# psql -f and psql -1 -f (--single-transaction) of the same migration files against the
# guard.  psql sets application_name 'psql' (how the server tells it); -1 wraps the file in
# one transaction, -f alone sends each statement on its own, in autocommit.  psql prints the
# errmsg, DETAIL and HINT, and the guard's NOTICEs (a rewrite's SQL, each lock retry).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use ZdClients;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_server('psql');
my $dir = project_dir($node, 'psql');
my @psql = ('psql', '-X', '-v', 'ON_ERROR_STOP=1');
my $way = 'psql: send each statement on its own';

write_file("$dir/001_items_name_idx.sql", <<'SQL');
CREATE TABLE tags (id int PRIMARY KEY, label text NOT NULL);
CREATE INDEX items_name_idx ON items (name);
SQL

# --- 1. psql -1 -f: CREATE INDEX in the file's transaction: refused, naming psql's way -------
my ($rc, $out) = run_tool($node, $dir, @psql, '-1', '-f', '001_items_name_idx.sql');
isnt($rc, 0, 'psql -1 -f: CREATE INDEX in the transaction fails');
like($out, refused_re('create-index', $way), "psql's output has the refusal, naming psql's way out")
  or diag($out);
like($out, qr/HINT:  Run instead, outside any transaction block:\nCREATE INDEX CONCURRENTLY/,
    'psql prints the hint with the safe form');
note("psql -1 -f prints on a refusal:\n$out");
is(index_valid($node, 'items_name_idx'), 'f', 'psql -1 -f: no index was built');

# --- 5. nothing of the file stays (one transaction) ---------------------------------------------
is($node->safe_psql('app', "SELECT to_regclass('tags') IS NULL"), 't',
    'psql -1 -f: the statement before it rolled back too');

# --- 2. psql -f, the same file: each statement on its own, CREATE INDEX rewritten -------------
my $rewrites = rewrites($node, 'create-index');
($rc, $out) = run_tool($node, $dir, @psql, '-f', '001_items_name_idx.sql');
is($rc, 0, 'psql -f: the same file passes') or diag($out);
like($out, qr/NOTICE: [^\n]*create-index[^\n]*\n(?:[^\n]*\n)*?[^\n]*CREATE INDEX CONCURRENTLY/,
    'psql -f: the NOTICE shows the CREATE INDEX CONCURRENTLY run instead') or diag($out);
note("psql -f prints on a rewrite:\n$out");
is(index_valid($node, 'items_name_idx'), 't', 'psql -f: the index is valid');
is(rewrites($node, 'create-index') - $rewrites, 1, 'psql -f: the guard rewrote it to CONCURRENTLY');

# --- 3. DROP COLUMN allowed for one statement, the next one refused --------------------------
write_file("$dir/002_drop_columns.sql", <<'SQL');
/* zero_downtime: allow drop-column */ ALTER TABLE items DROP COLUMN note;
ALTER TABLE items DROP COLUMN extra;
SQL
($rc, $out) = run_tool($node, $dir, @psql, '-1', '-f', '002_drop_columns.sql');
isnt($rc, 0, 'psql -1 -f: the unallowed DROP COLUMN after the allowed one is refused');
like($out, qr/ERROR:  drop-column: [^\n]*extra/, 'psql -1 -f: it names the DROP COLUMN of extra')
  or diag($out);
note("psql -1 -f prints on a refused DROP COLUMN:\n$out");
is(column_exists($node, 'note'), 1, 'psql -1 -f: one transaction: the allowed DROP rolled back');
($rc, $out) = run_tool($node, $dir, @psql, '-f', '002_drop_columns.sql');
isnt($rc, 0, 'psql -f: the unallowed DROP COLUMN is refused');
is(column_exists($node, 'note') . column_exists($node, 'extra'), '01',
    'psql -f: the allowed DROP ran, the next one did not');

# --- 4. ADD COLUMN behind an application transaction, in psql -1's transaction ----------------
write_file("$dir/003_add_column.sql", <<'SQL');
ALTER TABLE items ADD COLUMN added text;
SQL
my $r = blocked_migration($node, $dir, 'ADD COLUMN added', @psql, '-1', '-f', '003_add_column.sql');
check_blocked($node, $r, 'psql -1 -f', 'added');
like($r->{out}, qr/NOTICE:  zero_downtime: ACCESS EXCLUSIVE lock on public\.items not granted within 300 ms; retry 1 of/,
    'psql -1 -f: psql shows each retry') or diag($r->{out});
note("psql prints while the guard retries:\n$r->{out}");

# --- deferred: with zero_downtime.defer_in_transaction on for the role, the unchanged file runs
# through psql -1 -f on its first run; the safe forms complete after its commit -------------------
defer_in_transaction($node, 1);
create_accounts($node, 'accounts');
write_file("$dir/004_accounts.sql", join('', map { "$_;\n" } deferred_sql('accounts')));
($rc, $out) = run_tool($node, $dir, @psql, '-1', '-f', '004_accounts.sql');
is($rc, 0, 'psql -1 -f, deferred: the file runs through on its first run') or diag($out);
like($out, qr/NOTICE:  zero_downtime: create-index: [^\n]*deferred: its safe form runs after this transaction commits/,
    'psql -1 -f, deferred: psql shows what was deferred');
note("psql -1 -f prints with defer_in_transaction on:\n$out");
check_deferred($node, 'accounts', 'psql -1 -f, deferred');

# --- deferred, behind an application transaction that wrote a row: capped and retried while
# the transaction holds no blocking lock yet; the file completes on its first run --------------
create_accounts($node, 'orders');
write_file("$dir/005_orders.sql", join('', map { "$_;\n" } deferred_sql('orders')));
{
    local $ZdClients::BLOCKED_TABLE = 'orders';
    $r = blocked_migration($node, $dir, 'orders', @psql, '-1', '-f', '005_orders.sql');
}
check_blocked_deferred($node, $r, 'psql -1 -f, deferred, blocked');
check_deferred($node, 'orders', 'psql -1 -f, deferred, blocked');

# --- the blocker holds longer than the retries: the file fails (55P03, nothing committed), and
# runs through once the blocker is gone ------------------------------------------------------------
create_accounts($node, 'members');
write_file("$dir/006_members.sql", join('', map { "$_;\n" } deferred_sql('members')));
my $seconds;
($rc, $out, $seconds) = blocked_too_long($node, $dir, 'members', @psql, '-1', '-f', '006_members.sql');
isnt($rc, 0, sprintf('psql -1 -f, blocked beyond the retries: fails (after %.1f s)', $seconds));
like($out, qr/ERROR:  canceling statement due to lock timeout\nDETAIL:  [^\n]*ACCESS EXCLUSIVE lock on public\.members[^\n]*6 attempts over \d+ ms did not get it\. Blocking: pid/,
    'psql -1 -f: ... on the lock, after its 6 attempts, naming the blocker')
  or diag($out);
note("psql -1 -f prints when the blocker outlasts the retries:\n$out");
is($node->safe_psql('app', "SELECT count(*) FROM zd.zd_deferred WHERE run_sql LIKE '%members%' "
      . "UNION ALL SELECT count(*) FROM pg_constraint WHERE conrelid = 'members'::regclass AND contype <> 'p'"),
    "0\n0", 'psql -1 -f: nothing was queued nor left on the table');
($rc, $out) = run_tool($node, $dir, @psql, '-1', '-f', '006_members.sql');
is($rc, 0, 'psql -1 -f: run again without the blocker, it passes') or diag($out);
check_deferred($node, 'members', 'psql -1 -f, rerun');

done_testing();
