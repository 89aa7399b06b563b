# Expand/contract from the tools' own migration files, run by the real tools against a guarded
# server (README: ORM migration files).  For each of Prisma Migrate (migration.sql), Drizzle
# Kit (an SQL file of its journal), Knex and node-pg-migrate (JS migrations):
#   1. a rename through three migration files, each run by the tool on its own: expand
#      (zd_expand_rename_column, named by its version), migrate (zd_migrate), and, once the
#      backfill is done and nothing used the old column for the quiet period, contract
#      (zd_contract); between expand and contract an old and a new application write through
#      their own names and each sees the other's rows;
#   2. with zero_downtime.orm_renames = migrate (ALTER ROLE, by a superuser), the tool's own
#      RENAME COLUMN (Knex's renameColumn, node-pg-migrate's renameColumn, the RENAME COLUMN of
#      a Prisma or Drizzle Kit SQL file) runs unchanged and starts the migration; the next
#      files migrate and contract it.  Knex's alter() of a column to bigint (its generated
#      ALTER COLUMN TYPE ... USING) does the same for a type change.
use strict;
use warnings;
use FindBin;
use File::Copy qw(copy);
use lib "$FindBin::Bin/..";
use ZdClients;
use PostgreSQL::Test::Utils;
use Test::More;

# The tools: how a migration file is written (SQL or a generated change) and how a run is made.
my %tools = (
    prisma => {
        setup => sub {
            my ($node, $dir) = @_;
            copy("$FindBin::Bin/../prisma/prisma.config.ts", "$dir/prisma.config.ts") or die $!;
            write_file("$dir/prisma/schema.prisma", slurp_file("$FindBin::Bin/../prisma/schema.prisma"));
            write_file("$dir/prisma/migrations/migration_lock.toml", qq{provider = "postgresql"\n});
        },
        sql => sub {
            my ($dir, $n, $name, $sql) = @_;
            write_file(sprintf('%s/prisma/migrations/2024010100%04d_%s/migration.sql', $dir, $n, $name), $sql);
        },
        run => sub { my ($dir) = @_; return ("$dir/node_modules/.bin/prisma", 'migrate', 'deploy') },
    },
    'drizzle-kit' => {
        setup => sub {
            my ($node, $dir) = @_;
            write_file("$dir/drizzle.config.js", <<'JS');
module.exports = {
  dialect: 'postgresql',
  out: './drizzle',
  dbCredentials: { url: process.env.DATABASE_URL },
};
JS
        },
        sql => sub {
            my ($dir, $n, $name, $sql) = @_;
            my $tag = sprintf('%04d_%s', $n, $name);
            write_file("$dir/drizzle/$tag.sql", $sql);
            my $journal = "$dir/drizzle/meta/_journal.json";
            my @entries = -e $journal ? (slurp_file($journal) =~ /(\{"idx"[^}]*\})/g) : ();
            push @entries, sprintf('{"idx":%d,"version":"7","when":%d,"tag":"%s","breakpoints":true}',
                scalar @entries, 1700000000000 + 1000 * $n, $tag);
            write_file($journal,
                '{"version":"7","dialect":"postgresql","entries":[' . join(',', @entries) . "]}\n");
        },
        run => sub {
            my ($dir) = @_;
            return ("$dir/node_modules/.bin/drizzle-kit", 'migrate', '--config', 'drizzle.config.js');
        },
    },
    knex => {
        setup => sub {
            my ($node, $dir) = @_;
            write_file("$dir/knexfile.js", <<'JS');
module.exports = {
  client: 'pg',
  connection: process.env.DATABASE_URL,
  migrations: { directory: './migrations' },
};
JS
        },
        sql => sub {
            my ($dir, $n, $name, $sql) = @_;
            js_migration($dir, $n, $name, "exports.up = (knex) => knex.raw(" . js_string($sql) . ");");
        },
        rename => sub {
            my ($dir, $n) = @_;
            js_migration($dir, $n, 'rename_note', <<'JS');
exports.up = (knex) => knex.schema.alterTable('items', (t) => {
  t.renameColumn('note', 'remark');
});
JS
        },
        run => sub {
            my ($dir) = @_;
            return ("$dir/node_modules/.bin/knex", 'migrate:latest', '--knexfile', "$dir/knexfile.js");
        },
    },
    'node-pg-migrate' => {
        setup => sub { },
        sql => sub {
            my ($dir, $n, $name, $sql) = @_;
            js_migration($dir, 1700000000000 + $n, $name,
                "exports.up = (pgm) => {\n  pgm.sql(" . js_string($sql) . ");\n};");
        },
        rename => sub {
            my ($dir, $n) = @_;
            js_migration($dir, 1700000000000 + $n, 'rename-note', <<'JS');
exports.up = (pgm) => {
  pgm.renameColumn('items', 'note', 'remark');
};
JS
        },
        run => sub {
            my ($dir) = @_;
            return ("$dir/node_modules/.bin/node-pg-migrate", 'up', '-m', 'migrations');
        },
    },
);

sub js_string {
    my ($s) = @_;
    $s =~ s/\\/\\\\/g;
    $s =~ s/'/\\'/g;
    $s =~ s/\n/\\n/g;
    return "'$s'";
}
sub js_migration {
    my ($dir, $n, $name, $up) = @_;
    write_file(sprintf('%s/migrations/%03d_%s.js', $dir, $n, $name),
        "$up\nexports.down = () => {};\n");
}

# The SQL files of the rename by the calls (the version names the migration in later files).
my $expand_sql = q{SELECT zd.zd_expand_rename_column('items', 'name', 'full_name', version => 'items-full-name');};
my $migrate_sql = q{SELECT zd.zd_migrate(id) FROM zd.zd_migrations WHERE version = 'items-full-name';};
my $contract_sql = q{SELECT zd.zd_contract(id) FROM zd.zd_migrations WHERE version = 'items-full-name';};
# Of a migration the ORM's RENAME started (no version): found by its table and old column.
my $orm_migrate_sql = q{SELECT zd.zd_migrate(id) FROM zd.zd_migrations WHERE relation = 'items'::regclass AND old_column = 'note' AND phase = 'expanded';};
my $orm_contract_sql = q{SELECT zd.zd_contract(id) FROM zd.zd_migrations WHERE relation = 'items'::regclass AND old_column = 'note' AND phase = 'ready';};

for my $tool ('prisma', 'drizzle-kit', 'knex', 'node-pg-migrate') {
    my $t = $tools{$tool};
    (my $node_name = $tool) =~ s/-/_/g;
    my $node = start_server("ec_$node_name", no_table => $tool eq 'prisma');
    # The quiet period of contract, for the test; the ORM setting comes in part 2.  (NOTICEs in
    # the server log: not every tool prints them.)
    $node->safe_psql('postgres', q{ALTER ROLE migrator SET zero_downtime.contract_quiet_period = '1s'});
    $node->safe_psql('postgres', q{ALTER SYSTEM SET log_min_messages = notice; SELECT pg_reload_conf()});
    my $dir = project_dir($node, "ec-$tool");
    $t->{setup}->($node, $dir);
    my @run = $t->{run}->($dir);
    my $n = 0;
    my $q = sub { $node->safe_psql('app', shift) };
    my $deploy = sub {
        my ($what) = @_;
        my $offset = -s $node->logfile;
        my ($rc, $out) = run_tool($node, $dir, @run);
        is($rc, 0, "$tool: $what") or diag($out . join("\n", grep { /ERROR|DETAIL|HINT/ } split /\n/, slurp_file($node->logfile, $offset)));
        return $out;
    };
    my $phase = sub {
        my ($where) = @_;
        return $q->("SELECT string_agg(phase, ',') FROM zd.zd_migrations WHERE $where");
    };
    my $wait_ready = sub {
        my ($where) = @_;
        my ($ret, $out, $err) = $node->psql('app', q{CALL zd.zd_deferred_wait('120s')});
        is($ret, 0, "$tool: the migrate work finishes after the tool's run") or diag($err);
        is($phase->($where), 'ready', "$tool: the migration is ready");
    };
    if ($tool eq 'prisma') {    # Prisma deploys only into a schema its migrations made (P3005)
        $t->{sql}->($dir, ++$n, 'init', <<'SQL');
CREATE TABLE "items" (
    "id" INTEGER NOT NULL,
    "name" TEXT,
    "note" TEXT,
    "extra" TEXT,

    CONSTRAINT "items_pkey" PRIMARY KEY ("id")
);
SQL
        $deploy->('the first migration creates the table');
        create_items($node, 1);
    }
    $q->(q{SET ROLE migrator; CREATE INDEX CONCURRENTLY items_name_idx ON items (name)});

    # --- 1. a rename by the calls, across three migration files ---------------------------------
    $t->{sql}->($dir, ++$n, 'expand_full_name', "$expand_sql\n");
    $deploy->('the expand file runs');
    is($phase->(q{version = 'items-full-name'}), 'expanded', "$tool: the migration is expanded");
    # The old application writes the old name, the new one the new name: each sees the other's.
    $q->(q{SET application_name = 'old-app'; INSERT INTO items (id, name) VALUES (2001, 'from old')});
    $q->(q{SET application_name = 'new-app'; INSERT INTO items (id, full_name) VALUES (2002, 'from new');
           UPDATE items SET full_name = 'renamed by new' WHERE id = 1});
    is($q->(q{SELECT string_agg(id || ':' || name || '=' || full_name, ',' ORDER BY id) FROM items WHERE id IN (1, 2001, 2002)}),
        '1:renamed by new=renamed by new,2001:from old=from old,2002:from new=from new',
        "$tool: old and new code both work between expand and contract");

    $t->{sql}->($dir, ++$n, 'migrate_full_name', "$migrate_sql\n");
    $deploy->('the migrate file runs');
    $wait_ready->(q{version = 'items-full-name'});
    is($q->(q{SELECT count(*) FROM items WHERE full_name IS DISTINCT FROM name}), '0',
        "$tool: the backfill filled every row");

    sleep 2;    # nothing used the old column for the quiet period (1 s)
    $t->{sql}->($dir, ++$n, 'contract_full_name', "$contract_sql\n");
    $deploy->('the contract file runs');
    is($phase->(q{version = 'items-full-name'}), 'complete', "$tool: the migration is complete");
    is(column_exists($node, 'name') . column_exists($node, 'full_name'), '01',
        "$tool: name is gone, full_name stays");
    is($q->(q{SELECT pg_get_indexdef('items_name_idx'::regclass)}),
        'CREATE INDEX items_name_idx ON public.items USING btree (full_name)',
        "$tool: the index is on the new column, under its old name");
    is($q->(q{SELECT count(*) FROM items WHERE full_name IS NULL}), '0', "$tool: no value lost");

    # --- 2. the tool's own RENAME COLUMN, with zero_downtime.orm_renames = migrate --------------
    $node->safe_psql('postgres', q{ALTER ROLE migrator SET zero_downtime.orm_renames = migrate});
    if ($t->{rename}) {
        $t->{rename}->($dir, ++$n);
    } else {    # the statement the tool writes into its SQL file
        $t->{sql}->($dir, ++$n, 'rename_note', qq{-- AlterTable\nALTER TABLE "items" RENAME COLUMN "note" TO "remark";\n});
    }
    my $offset = -s $node->logfile;
    $deploy->('its generated RENAME COLUMN runs unchanged');
    like(slurp_file($node->logfile, $offset),
        qr/NOTICE:  zero_downtime: RENAME COLUMN note TO remark on public.items started expand\/contract migration (\d+) in its place/,
        "$tool: the server's notice names the migration") ;
    is($q->(q{SELECT kind || ':' || old_column || '->' || new_column || ':' || phase FROM zd.zd_migrations WHERE old_column = 'note'}),
        'rename column:note->remark:expanded', "$tool: the RENAME started a rename migration");
    $q->(q{INSERT INTO items (id, note) VALUES (3001, 'old'); INSERT INTO items (id, remark) VALUES (3002, 'new')});
    is($q->(q{SELECT string_agg(note || '=' || remark, ',' ORDER BY id) FROM items WHERE id IN (3001, 3002)}),
        'old=old,new=new', "$tool: after the RENAME both names work");
    $t->{sql}->($dir, ++$n, 'migrate_remark', "$orm_migrate_sql\n");
    $deploy->('the next file migrates it');
    $wait_ready->(q{old_column = 'note'});
    sleep 2;
    $t->{sql}->($dir, ++$n, 'contract_remark', "$orm_contract_sql\n");
    $deploy->('a later file contracts it');
    is(column_exists($node, 'note') . column_exists($node, 'remark'), '01',
        "$tool: note is gone, remark has its rows");
    is($q->(q{SELECT count(*) FROM items WHERE remark IS NULL AND id NOT IN (2001, 2002)}), '0',
        "$tool: no value lost (every row had a note but the two part 1 added)");

    if ($tool eq 'knex') {
        # Knex's alter() to bigint: its generated ALTER COLUMN TYPE ... USING starts a type change.
        $q->(q{SET ROLE migrator; ALTER TABLE items ADD COLUMN qty int DEFAULT 7});
        js_migration($dir, ++$n, 'qty_bigint', <<'JS');
exports.up = (knex) => knex.schema.alterTable('items', (t) => {
  t.bigInteger('qty').alter();
});
JS
        $deploy->('its generated ALTER COLUMN TYPE bigint runs unchanged');
        is($q->(q{SELECT kind || ':' || new_type || ':' || up_sql || ':' || phase FROM zd.zd_migrations WHERE old_column = 'qty'}),
            'change type:bigint:(qty)::bigint:expanded', "knex: the alter() started a type change, USING as its up expression");
        $q->(q{INSERT INTO items (id, qty) VALUES (4001, 5)});
        is($q->(q{SELECT qty || '=' || qty_zd_new FROM items WHERE id = 4001}), '5=5',
            'knex: the old column is written, the new one kept equal');
    }
    $node->stop;
}

done_testing();
