# node-pg-migrate (node-pg-migrate up, JS migrations with pgm.*) against the guard.
# It holds advisory lock 7241865325823964 for the whole run (how the server tells it) and, by
# default (--single-transaction), runs every pending migration in ONE transaction; a migration
# that calls pgm.noTransaction() is run between a COMMIT and a BEGIN, in autocommit.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use ZdClients;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_server('pgm');
my $dir = project_dir($node, 'node-pg-migrate');
my @up = ("$dir/node_modules/.bin/node-pg-migrate", 'up', '-m', 'migrations');

sub migration {
    my ($name, $body) = @_;
    write_file("$dir/migrations/$name.js", $body);
}
sub pgm_rows {
    my ($like) = @_;
    return $node->safe_psql('app', "SELECT count(*) FROM pgmigrations WHERE name LIKE '$like%'");
}
my $way = 'node-pg-migrate: call pgm.noTransaction() in that migration';

# --- 1. CREATE INDEX in the run's transaction: refused, naming node-pg-migrate's way out -----
my $index_up = <<'JS';
exports.up = (pgm) => {
  pgm.createIndex('items', 'name', { name: 'items_name_idx' });
};
exports.down = (pgm) => {
  pgm.dropIndex('items', 'name', { name: 'items_name_idx' });
};
JS
migration('1700000000001_items-name-idx', $index_up);
my ($rc, $out) = run_tool($node, $dir, @up);
isnt($rc, 0, 'node-pg-migrate: CREATE INDEX in the migration transaction fails');
like($out, refused_re('create-index', $way), "its output has the refusal, naming its way out")
  or diag($out);
like($out, qr/hint: 'Run instead, outside any transaction block:\\n' \+\s+'CREATE INDEX CONCURRENTLY/,
    'node-pg-migrate prints the whole error, the hint with the safe form included');
note("node-pg-migrate prints on a refusal:\n$out");
is(index_valid($node, 'items_name_idx'), 'f', 'node-pg-migrate: no index was built');

# --- 5. its bookkeeping after the refusal ------------------------------------------------------
is(pgm_rows('1700000000001'), 0, 'pgmigrations has no row for the refused migration');
is($node->safe_psql('app',
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = (7241865325823964 & x'ffffffff'::bigint)"),
    '0', 'its advisory lock is released');

# --- 2. the same migration with pgm.noTransaction(): rewritten to CONCURRENTLY ---------------
my $rewrites = rewrites($node, 'create-index');
migration('1700000000001_items-name-idx', <<'JS');
exports.up = (pgm) => {
  pgm.noTransaction();
  pgm.createIndex('items', 'name', { name: 'items_name_idx' });
};
exports.down = (pgm) => {
  pgm.noTransaction();
  pgm.dropIndex('items', 'name', { name: 'items_name_idx' });
};
JS
($rc, $out) = run_tool($node, $dir, @up);
is($rc, 0, 'node-pg-migrate: with pgm.noTransaction() the migration passes') or diag($out);
is(index_valid($node, 'items_name_idx'), 't', 'node-pg-migrate: the index is valid (built CONCURRENTLY)');
is(rewrites($node, 'create-index') - $rewrites, 1,
    'node-pg-migrate: the guard rewrote it to CONCURRENTLY');
is(pgm_rows('1700000000001'), 1, 'pgmigrations records it');

# --- 3. DROP COLUMN allowed for one statement, never carried over -----------------------------
migration('1700000000002_drop-note', <<'JS');
exports.up = (pgm) => {
  pgm.sql('/* zero_downtime: allow drop-column */ ALTER TABLE items DROP COLUMN note');
};
exports.down = () => {};
JS
my $drop_extra = <<'JS';
exports.up = (pgm) => {
  pgm.dropColumns('items', ['extra']);
};
exports.down = () => {};
JS
migration('1700000000003_drop-extra', $drop_extra);
($rc, $out) = run_tool($node, $dir, @up);
isnt($rc, 0, 'node-pg-migrate: the next migration of the same run, an unallowed DROP COLUMN, is refused');
like($out, qr/drop-column: [^\n]*extra/, 'its output names the refused DROP COLUMN of extra')
  or diag($out);
note("node-pg-migrate prints on a refused DROP COLUMN:\n$out");
is(column_exists($node, 'note'), 1, 'node-pg-migrate: the run was one transaction: the allowed DROP rolled back');
is(pgm_rows('170000000000'), 1, 'pgmigrations: neither 2 nor 3 recorded');
unlink("$dir/migrations/1700000000003_drop-extra.js");
($rc, $out) = run_tool($node, $dir, @up);
is($rc, 0, 'node-pg-migrate: the allowed DROP COLUMN alone passes') or diag($out);
is(column_exists($node, 'note'), 0, 'node-pg-migrate: note was dropped');
migration('1700000000003_drop-extra', $drop_extra);
($rc, $out) = run_tool($node, $dir, @up);
isnt($rc, 0, 'node-pg-migrate: in the next run, the unallowed DROP COLUMN is still refused');
is(column_exists($node, 'extra'), 1, 'node-pg-migrate: extra is still there');
unlink("$dir/migrations/1700000000003_drop-extra.js");

# --- 4. ADD COLUMN behind an application transaction, in the run's transaction ---------------
migration('1700000000004_add-column', <<'JS');
exports.up = (pgm) => {
  pgm.addColumns('items', { added: { type: 'text' } });
};
exports.down = () => {};
JS
my $r = blocked_migration($node, $dir, 'ADD "added"', @up);
check_blocked($node, $r, 'node-pg-migrate', 'added');
is(pgm_rows('1700000000004'), 1, 'pgmigrations records the blocked migration once done');

# --- deferred: with zero_downtime.defer_in_transaction on for the role, unchanged pgm.*
# migrations (one transaction for the run) pass on the first run; the safe forms complete after
# the commit --------------------------------------------------------------------------------------
defer_in_transaction($node, 1);
# deferred_migrations(PREFIX, TABLE): three migrations on TABLE, the way node-pg-migrate writes them.
sub deferred_migrations {
    my ($n, $t) = @_;
    migration("17000001${n}001_${t}-email", <<"JS");
exports.up = (pgm) => {
  pgm.createIndex('$t', 'email', { name: '${t}_email_idx' });
  pgm.alterColumn('$t', 'email', { notNull: true });
};
exports.down = () => {};
JS
    migration("17000001${n}002_${t}-owner-token", <<"JS");
exports.up = (pgm) => {
  pgm.addConstraint('$t', '${t}_owner_fk', {
    foreignKeys: { columns: 'owner', references: '${t}_owners(id)' },
  });
  pgm.addColumns('$t', {
    token: { type: 'uuid', notNull: true, default: pgm.func('gen_random_uuid()') },
  });
};
exports.down = () => {};
JS
    migration("17000001${n}003_${t}-score", <<"JS");
exports.up = (pgm) => {
  pgm.sql("CALL zd.zd_backfill(relation => '$t', set_clause => 'score = id % 7', where_clause => 'score IS NULL')");
};
exports.down = () => {};
JS
}
create_accounts($node, 'accounts');
deferred_migrations('01', 'accounts');
($rc, $out) = run_tool($node, $dir, @up);
is($rc, 0, 'node-pg-migrate, deferred: the migrations pass on the first run') or diag($out);
note("node-pg-migrate prints with defer_in_transaction on:\n$out");
is(pgm_rows("1700000101"), 3, 'node-pg-migrate, deferred: pgmigrations records all three');
check_deferred($node, 'accounts', 'node-pg-migrate, deferred');

# --- deferred, behind an application transaction that wrote a row ------------------------------
create_accounts($node, 'orders');
deferred_migrations('02', 'orders');
{
    local $ZdClients::BLOCKED_TABLE = 'orders';
    $r = blocked_migration($node, $dir, 'orders', @up);
}
check_blocked_deferred($node, $r, 'node-pg-migrate, deferred, blocked');
is(pgm_rows("1700000102"), 3, 'node-pg-migrate, deferred, blocked: pgmigrations records all three');
check_deferred($node, 'orders', 'node-pg-migrate, deferred, blocked');

done_testing();
