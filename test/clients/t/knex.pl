# Knex (knex migrate:latest, JS migrations with knex.schema / knex.raw) against the guard.
# Knex runs every pending migration of a run in ONE transaction when none opts out (and takes
# its lock, an UPDATE of knex_migrations_lock, in that transaction: how the server tells Knex);
# a migration with exports.config = { transaction: false } runs in autocommit.  On an error
# Knex prints only the errmsg (no DETAIL, no HINT).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use ZdClients;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_server('knex');
my $dir = project_dir($node, 'knex');
my @knex = ("$dir/node_modules/.bin/knex", 'migrate:latest', '--knexfile', "$dir/knexfile.js");

write_file("$dir/knexfile.js", <<'JS');
module.exports = {
  client: 'pg',
  connection: process.env.DATABASE_URL,
  migrations: { directory: './migrations' },
};
JS

sub migration {
    my ($name, $body) = @_;
    write_file("$dir/migrations/$name.js", $body);
}
sub knex_rows {
    my ($like) = @_;
    return $node->safe_psql('app',
        "SELECT count(*) FROM knex_migrations WHERE name LIKE '$like%'");
}

# --- 1. CREATE INDEX in Knex's transaction: refused, the errmsg names Knex's way out ---------
my $index_up = <<'JS';
exports.up = function (knex) {
  return knex.schema.alterTable('items', (t) => {
    t.index(['name'], 'items_name_idx');
  });
};
exports.down = function (knex) {
  return knex.schema.alterTable('items', (t) => {
    t.dropIndex(['name'], 'items_name_idx');
  });
};
JS
migration('001_items_name_idx', $index_up);
my ($rc, $out) = run_tool($node, $dir, @knex);
isnt($rc, 0, 'knex: CREATE INDEX in the migration transaction fails');
like($out, refused_re('create-index', 'Knex: in that migration, exports.config = { transaction: false }'),
    "knex's output has the refusal, naming Knex's way out") or diag($out);
unlike($out, qr/HINT|DETAIL/, 'knex prints only the errmsg (why the way out is in it)');
note("knex prints on a refusal:\n$out");
is(index_valid($node, 'items_name_idx'), 'f', 'knex: no index was built');

# --- 5. its bookkeeping after the refusal ------------------------------------------------------
is(knex_rows('001'), 0, 'knex_migrations has no row for the refused migration');
is($node->safe_psql('app', 'SELECT is_locked FROM knex_migrations_lock'), '0',
    'knex_migrations_lock is released');

# --- 2. the same migration with Knex's way out: rewritten to CONCURRENTLY --------------------
migration('001_items_name_idx', "exports.config = { transaction: false };\n$index_up");
my $rewrites = rewrites($node, 'create-index');
($rc, $out) = run_tool($node, $dir, @knex);
is($rc, 0, 'knex: with transaction: false the migration passes') or diag($out);
is(index_valid($node, 'items_name_idx'), 't', 'knex: the index is valid (built CONCURRENTLY)');
is(rewrites($node, 'create-index') - $rewrites, 1, 'knex: the guard rewrote it to CONCURRENTLY');
is(knex_rows('001'), 1, 'knex_migrations records it');

# --- 3. DROP COLUMN allowed for one statement, never carried over -----------------------------
migration('002_drop_note', <<'JS');
exports.up = function (knex) {
  return knex.raw('/* zero_downtime: allow drop-column */ ALTER TABLE items DROP COLUMN note');
};
exports.down = function () {};
JS
my $drop_extra = <<'JS';
exports.up = function (knex) {
  return knex.schema.alterTable('items', (t) => {
    t.dropColumn('extra');
  });
};
exports.down = function () {};
JS
migration('003_drop_extra', $drop_extra);
($rc, $out) = run_tool($node, $dir, @knex);
isnt($rc, 0, 'knex: the next migration of the same run, an unallowed DROP COLUMN, is refused');
like($out, qr/drop-column: [^\n]*extra/, 'knex: its output names the refused DROP COLUMN of extra')
  or diag($out);
note("knex prints on a refused DROP COLUMN:\n$out");
is(column_exists($node, 'note'), 1, 'knex: the run was one transaction: the allowed DROP rolled back');
is(knex_rows('00'), 1, 'knex_migrations: neither 002 nor 003 recorded');
unlink("$dir/migrations/003_drop_extra.js");
($rc, $out) = run_tool($node, $dir, @knex);
is($rc, 0, 'knex: the allowed DROP COLUMN alone passes') or diag($out);
is(column_exists($node, 'note'), 0, 'knex: note was dropped');
migration('003_drop_extra', $drop_extra);
($rc, $out) = run_tool($node, $dir, @knex);
isnt($rc, 0, 'knex: in the next run, the unallowed DROP COLUMN is still refused');
is(column_exists($node, 'extra'), 1, 'knex: extra is still there');
unlink("$dir/migrations/003_drop_extra.js");

# --- 4. ADD COLUMN behind an application transaction, in Knex's transaction ------------------
migration('004_add_column', <<'JS');
exports.up = function (knex) {
  return knex.schema.alterTable('items', (t) => {
    t.text('added');
  });
};
exports.down = function () {};
JS
my $r = blocked_migration($node, $dir, 'add column "added"', @knex);
check_blocked($node, $r, 'knex', 'added');
is(knex_rows('004'), 1, 'knex_migrations records the blocked migration once done');

# --- a run in which one pending migration opts out of the transaction: Knex then takes its
# lock in a transaction of its own (committed) and runs each other migration in a transaction
# of its own on a pooled connection, without touching knex_migrations_lock: the server cannot
# tell Knex there.  The errmsg then carries the safe statement itself (Knex prints no HINT).
migration('005_tags', <<'JS');
exports.config = { transaction: false };
exports.up = function (knex) {
  return knex.schema.createTable('tags', (t) => {
    t.increments('id');
    t.text('label').notNullable();
  });
};
exports.down = function (knex) {
  return knex.schema.dropTable('tags');
};
JS
migration('006_items_added_idx', <<'JS');
exports.up = function (knex) {
  return knex.schema.alterTable('items', (t) => {
    t.index(['added'], 'items_added_idx');
  });
};
exports.down = function () {};
JS
($rc, $out) = run_tool($node, $dir, @knex);
isnt($rc, 0, 'knex, mixed run: CREATE INDEX in a migration of its own transaction fails');
like($out, qr/create-index: [^\n]*; run it outside a transaction block as: create index CONCURRENTLY "items_added_idx"/i,
    'knex, mixed run: no tool named, the errmsg carries the safe statement (Knex prints no HINT)')
  or diag($out);
note("knex prints on a refusal in a mixed run:\n$out");
is(knex_rows('005') . knex_rows('006'), '10',
    'knex, mixed run: the opted-out migration before it stays committed and recorded');
is($node->safe_psql('app', 'SELECT is_locked FROM knex_migrations_lock'), '0',
    'knex, mixed run: knex_migrations_lock is released');

# --- deferred: with zero_downtime.defer_in_transaction on for the role, unchanged knex.schema
# migrations (in one transaction: none opts out) run through on the first run, the safe forms
# complete after the commit --------------------------------------------------------------------
unlink("$dir/migrations/005_tags.js", "$dir/migrations/006_items_added_idx.js");
$node->safe_psql('app', "DELETE FROM knex_migrations WHERE name LIKE '005%'");
defer_in_transaction($node, 1);
# deferred_migrations(PREFIX, TABLE): three migrations on TABLE, the way Knex writes them.
sub deferred_migrations {
    my ($n, $t) = @_;
    migration("${n}1_${t}_email", <<"JS");
exports.up = async function (knex) {
  await knex.schema.alterTable('$t', (t) => {
    t.index(['email'], '${t}_email_idx');
  });
  // Knex's usual way to make a column NOT NULL: it sends DROP DEFAULT, DROP NOT NULL,
  // TYPE text USING ("email"::text), SET NOT NULL.
  await knex.schema.alterTable('$t', (t) => {
    t.text('email').notNullable().alter();
  });
};
exports.down = function () {};
JS
    migration("${n}2_${t}_owner_token", <<"JS");
exports.up = async function (knex) {
  await knex.schema.alterTable('$t', (t) => {
    t.foreign('owner', '${t}_owner_fk').references('id').inTable('${t}_owners');
  });
  await knex.schema.alterTable('$t', (t) => {
    t.uuid('token').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
  });
};
exports.down = function () {};
JS
    migration("${n}3_${t}_score", <<"JS");
exports.up = function (knex) {
  return knex.raw(
    "CALL zd.zd_backfill(relation => '$t', set_clause => 'score = id % 7', where_clause => 'score IS NULL')");
};
exports.down = function () {};
JS
}
create_accounts($node, 'accounts');
deferred_migrations('01', 'accounts');
($rc, $out) = run_tool($node, $dir, @knex);
is($rc, 0, 'knex, deferred: the migrations run through on the first run') or diag($out);
note("knex prints with defer_in_transaction on:\n$out");
is(knex_rows('01'), 3, 'knex, deferred: knex_migrations records all three');
check_deferred($node, 'accounts', 'knex, deferred');

# --- deferred, behind an application transaction that wrote a row ------------------------------
create_accounts($node, 'orders');
deferred_migrations('02', 'orders');
{
    local $ZdClients::BLOCKED_TABLE = 'orders';
    $r = blocked_migration($node, $dir, 'orders', @knex);
}
check_blocked_deferred($node, $r, 'knex, deferred, blocked');
is(knex_rows('02'), 3, 'knex, deferred, blocked: knex_migrations records all three');
check_deferred($node, 'orders', 'knex, deferred, blocked');

# --- the blocker holds longer than the retries: the run fails (nothing recorded, nothing
# left), and runs through once the blocker is gone -----------------------------------------------
create_accounts($node, 'members');
deferred_migrations('03', 'members');
my $seconds;
($rc, $out, $seconds) = blocked_too_long($node, $dir, 'members', @knex);
isnt($rc, 0, sprintf('knex, blocked beyond the retries: fails (after %.1f s)', $seconds));
like($out, qr/canceling statement due to lock timeout/, 'knex: ... with the lock timeout (its errmsg only)')
  or diag($out);
note("knex prints when the blocker outlasts the retries:\n$out");
is(knex_rows('03'), 0, 'knex: nothing recorded');
is($node->safe_psql('app', "SELECT count(*) FROM zd.zd_deferred WHERE run_sql LIKE '%members%'"),
    '0', 'knex: nothing queued');
($rc, $out) = run_tool($node, $dir, @knex);
is($rc, 0, 'knex: run again without the blocker, it passes') or diag($out);
check_deferred($node, 'members', 'knex, rerun');

# --- the server killed (kill -9) while the deferred CREATE INDEX CONCURRENTLY waits for an old
# snapshot; restarted, the launcher resumes the work ---------------------------------------------
create_accounts($node, 'killed');
deferred_migrations('04', 'killed');
($rc, $out) = kill_during_deferred_build($node, $dir, 'killed', @knex);
is($rc, 0, 'knex, deferred, server killed after the run: the run itself passed') or diag($out);
is(knex_rows('04'), 3, 'knex, server killed: knex_migrations records all three');
$node->poll_query_until('app',
    "SELECT count(*) = 0 FROM zd.zd_deferred WHERE state IN ('pending', 'running')")
  or diag('the deferred work did not resume after the restart');
check_deferred($node, 'killed', 'knex, server killed and restarted');
is($node->safe_psql('app', q{SELECT string_agg(c.relname || ':' || i.indisvalid, ',' ORDER BY c.relname)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'killed'::regclass}),
    'killed_email_idx:true,killed_pkey:true', 'knex, server killed: nothing left of the interrupted build');

done_testing();
