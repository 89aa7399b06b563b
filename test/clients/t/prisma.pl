# Prisma Migrate (prisma migrate deploy, prisma/migrations/<timestamp>_<name>/migration.sql)
# against the guard, offline: Prisma 6.19.3 in driver-adapter mode (test/clients/prisma/, from
# the shared reference).  Prisma holds advisory lock 72707369 during a deploy (how the server
# tells it) and sends each migration file as ONE query: several statements are one implicit
# transaction block, a statement alone in its file runs in autocommit.  A failed migration is
# recorded as failed in _prisma_migrations and blocks every later deploy (P3009) until it is
# marked rolled back; `prisma migrate resolve` needs the native engine, so the test does it
# with the UPDATE the reference README gives.
use strict;
use warnings;
use FindBin;
use File::Copy qw(copy);
use File::Path qw(rmtree);
use lib "$FindBin::Bin/..";
use ZdClients;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_server('prisma', no_table => 1);
my $dir = project_dir($node, 'prisma');
copy("$FindBin::Bin/../prisma/prisma.config.ts", "$dir/prisma.config.ts") or die $!;
write_file("$dir/prisma/schema.prisma", slurp_file("$FindBin::Bin/../prisma/schema.prisma"));
write_file("$dir/prisma/migrations/migration_lock.toml", qq{provider = "postgresql"\n});
my @deploy = ("$dir/node_modules/.bin/prisma", 'migrate', 'deploy');

sub migration {
    my ($name, $sql) = @_;
    write_file("$dir/prisma/migrations/$name/migration.sql", $sql);
}
sub prisma_row {
    my ($name) = @_;
    return $node->safe_psql('app', "SELECT finished_at IS NOT NULL, rolled_back_at IS NOT NULL, "
      . "applied_steps_count FROM _prisma_migrations WHERE migration_name = '$name' "
      . "ORDER BY started_at DESC LIMIT 1");
}
# The recovery of a failed migration without the native engine (reference README).
sub mark_rolled_back {
    my ($name) = @_;
    $node->safe_psql('app', "UPDATE _prisma_migrations SET rolled_back_at = now() "
      . "WHERE migration_name = '$name' AND finished_at IS NULL AND rolled_back_at IS NULL");
}
my $way = 'Prisma Migrate: put each statement in a migration file of its own';

# The table comes from the project's first migration (Prisma refuses to deploy into a schema it
# did not create: P3005), then the application fills it.
migration('20240101000000_init', <<'SQL');
-- CreateTable
CREATE TABLE "items" (
    "id" INTEGER NOT NULL,
    "name" TEXT,
    "note" TEXT,
    "extra" TEXT,

    CONSTRAINT "items_pkey" PRIMARY KEY ("id")
);
SQL
my ($rc, $out) = run_tool($node, $dir, @deploy);
is($rc, 0, 'prisma: the first migration creates the table') or diag($out);
create_items($node, 1);

# --- 1. two CREATE INDEX in one migration file (as Prisma generates two @@index): one implicit
# transaction block: refused, naming Prisma's way out -------------------------------------------
migration('20240101000001_items_indexes', <<'SQL');
-- CreateIndex
CREATE INDEX "items_name_idx" ON "items"("name");

-- CreateIndex
CREATE INDEX "items_note_idx" ON "items"("note");
SQL
($rc, $out) = run_tool($node, $dir, @deploy);
isnt($rc, 0, 'prisma: a migration file of two CREATE INDEX fails');
like($out, refused_re('create-index', $way), "prisma's output has the refusal, naming Prisma's way out")
  or diag($out);
note("prisma migrate deploy prints on a refusal:\n$out");
is(index_valid($node, 'items_name_idx') . index_valid($node, 'items_note_idx'), 'ff',
    'prisma: no index was built');

# --- 5. its bookkeeping: the migration is recorded as failed, the next deploy stops (P3009) ---
is(prisma_row('20240101000001_items_indexes'), 'f|f|0', '_prisma_migrations: recorded as failed');
($rc, $out) = run_tool($node, $dir, @deploy);
isnt($rc, 0, 'prisma: the next deploy refuses to run');
like($out, qr/P3009/, 'prisma: ... with P3009 (failed migrations in the target database)') or diag($out);
mark_rolled_back('20240101000001_items_indexes');
is(prisma_row('20240101000001_items_indexes'), 'f|t|0', '_prisma_migrations: marked rolled back');

# --- 2. Prisma's way out: each statement in a migration file of its own: rewritten -----------
my $rewrites = rewrites($node, 'create-index');
migration('20240101000001_items_indexes', <<'SQL');
-- CreateIndex
CREATE INDEX "items_name_idx" ON "items"("name");
SQL
migration('20240101000002_items_note_idx', <<'SQL');
-- CreateIndex
CREATE INDEX "items_note_idx" ON "items"("note");
SQL
($rc, $out) = run_tool($node, $dir, @deploy);
is($rc, 0, 'prisma: one CREATE INDEX per migration file passes') or diag($out);
is(index_valid($node, 'items_name_idx') . index_valid($node, 'items_note_idx'), 'tt',
    'prisma: both indexes are valid (built CONCURRENTLY)');
is(rewrites($node, 'create-index') - $rewrites, 2, 'prisma: the guard rewrote both to CONCURRENTLY');
is(prisma_row('20240101000002_items_note_idx'), 't|f|1', '_prisma_migrations: recorded as applied');

# --- 3. DROP COLUMN allowed for one statement (under Prisma's own warning comment), the next
# migration's DROP COLUMN refused ---------------------------------------------------------------
migration('20240101000003_drop_note', <<'SQL');
/*
  Warnings:

  - You are about to drop the column `note` on the `items` table. All the data in the column will be lost.

*/
-- AlterTable
/* zero_downtime: allow drop-column */ ALTER TABLE "items" DROP COLUMN "note";
SQL
migration('20240101000004_drop_extra', <<'SQL');
/*
  Warnings:

  - You are about to drop the column `extra` on the `items` table. All the data in the column will be lost.

*/
-- AlterTable
ALTER TABLE "items" DROP COLUMN "extra";
SQL
($rc, $out) = run_tool($node, $dir, @deploy);
isnt($rc, 0, 'prisma: the next migration of the same deploy, an unallowed DROP COLUMN, is refused');
like($out, qr/drop-column: [^\n]*extra/, "prisma: its output names the refused DROP COLUMN of extra")
  or diag($out);
note("prisma migrate deploy prints on a refused DROP COLUMN:\n$out");
is(column_exists($node, 'note'), 0, 'prisma: the allowed DROP COLUMN ran (each file commits on its own)');
is(column_exists($node, 'extra'), 1, 'prisma: extra is still there');
is(prisma_row('20240101000003_drop_note'), 't|f|1', '_prisma_migrations: the allowed one applied');
is(prisma_row('20240101000004_drop_extra'), 'f|f|0', '_prisma_migrations: the refused one failed');
mark_rolled_back('20240101000004_drop_extra');
rmtree("$dir/prisma/migrations/20240101000004_drop_extra");

# --- 4. ADD COLUMN behind an application transaction, in the file's implicit transaction
# block (a second statement follows it) ----------------------------------------------------------
migration('20240101000005_add_column', <<'SQL');
-- AlterTable
ALTER TABLE "items" ADD COLUMN "added" TEXT;

-- CreateTable
CREATE TABLE "labels" (
    "id" SERIAL NOT NULL,
    "label" TEXT NOT NULL,

    CONSTRAINT "labels_pkey" PRIMARY KEY ("id")
);
SQL
my $r = blocked_migration($node, $dir, 'ADD COLUMN "added"', @deploy);
check_blocked($node, $r, 'prisma', 'added');
is(prisma_row('20240101000005_add_column'), 't|f|1', '_prisma_migrations records it once done');

# --- deferred: with zero_downtime.defer_in_transaction on for the role, unchanged migration
# files of several statements (each file one query string: an implicit transaction) pass on the
# first deploy; the safe forms complete after each file's commit --------------------------------
defer_in_transaction($node, 1);
# deferred_migrations(FIRST, TABLE): two migration files on TABLE, as Prisma writes them (the
# backfill added by hand to the second), named from timestamp FIRST.
sub deferred_migrations {
    my ($n, $t) = @_;
    migration("202401010000${n}_${t}_email", <<"SQL");
-- CreateIndex
CREATE INDEX "${t}_email_idx" ON "$t"("email");

-- AlterTable
ALTER TABLE "$t" ALTER COLUMN "email" SET NOT NULL;
SQL
    migration(sprintf('202401010000%02d_%s_token', $n + 1, $t), <<"SQL");
-- AlterTable
ALTER TABLE "$t" ADD COLUMN "token" UUID NOT NULL DEFAULT gen_random_uuid();

-- Backfill (by hand)
CALL zd.zd_backfill(relation => '$t', set_clause => 'score = id % 7', where_clause => 'score IS NULL');

-- AddForeignKey
ALTER TABLE "$t" ADD CONSTRAINT "${t}_owner_fk" FOREIGN KEY ("owner") REFERENCES "${t}_owners"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
SQL
}
create_accounts($node, 'accounts');
deferred_migrations('06', 'accounts');
($rc, $out) = run_tool($node, $dir, @deploy);
is($rc, 0, 'prisma, deferred: the deploy passes on the first run') or diag($out);
note("prisma migrate deploy prints with defer_in_transaction on:\n$out");
is(prisma_row('20240101000006_accounts_email') . ' ' . prisma_row('20240101000007_accounts_token'),
    't|f|1 t|f|1', '_prisma_migrations: both recorded as applied');
check_deferred($node, 'accounts', 'prisma, deferred');

# --- deferred, behind an application transaction that wrote a row ------------------------------
create_accounts($node, 'orders');
deferred_migrations('08', 'orders');
{
    local $ZdClients::BLOCKED_TABLE = 'orders';
    $r = blocked_migration($node, $dir, 'orders', @deploy);
}
check_blocked_deferred($node, $r, 'prisma, deferred, blocked');
is(prisma_row('20240101000008_orders_email') . ' ' . prisma_row('20240101000009_orders_token'),
    't|f|1 t|f|1', '_prisma_migrations: both recorded as applied');
check_deferred($node, 'orders', 'prisma, deferred, blocked');

# --- what Prisma generates for several changes of one table: one ALTER TABLE of several
# subcommands.  Each change runs as a statement of its own (the plain column now; the volatile
# default's fill and SET NOT NULL deferred): every change kept, the deploy passes on the first run
create_accounts($node, 'members');
migration('20240101000010_members', <<'SQL');
-- AlterTable
ALTER TABLE "members" ADD COLUMN     "city" TEXT,
ADD COLUMN     "token" UUID NOT NULL DEFAULT gen_random_uuid(),
ALTER COLUMN "email" SET NOT NULL;

-- CreateIndex
CREATE INDEX "members_email_idx" ON "members"("email");
SQL
($rc, $out) = run_tool($node, $dir, @deploy);
is($rc, 0, 'prisma, deferred: an ALTER TABLE of three changes passes on the first deploy') or diag($out);
note("prisma migrate deploy prints on an ALTER TABLE of three changes:\n$out");
is(prisma_row('20240101000010_members'), 't|f|1', '_prisma_migrations: recorded as applied');
my ($ret, $stdout, $stderr) = $node->psql('app', "CALL zd.zd_deferred_wait('120s')");
is($ret, 0, 'prisma, several changes: CALL zd_deferred_wait() returns') or diag($stderr);
is($node->safe_psql('app', "SELECT string_agg(attname || ':' || attnotnull, ',' ORDER BY attname) "
      . "FROM pg_attribute WHERE attrelid = 'members'::regclass AND attname IN ('city', 'email', 'token')"),
    'city:false,email:true,token:true', 'prisma, several changes: city added, email and token NOT NULL');
is($node->safe_psql('app', 'SELECT count(*) FILTER (WHERE token IS NULL) || \'/\' || count(DISTINCT token) FROM members'),
    '0/1000', 'prisma, several changes: every row has its own token');
is(index_valid($node, 'members_email_idx'), 't', 'prisma, several changes: the index is valid');
is($node->safe_psql('app', "SELECT count(*) FROM pg_constraint WHERE conrelid = 'members'::regclass AND contype = 'c'"),
    '0', 'prisma, several changes: no helper CHECK is left');

done_testing();
