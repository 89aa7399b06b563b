# Shared by test/clients/t/*.pl: a throwaway guarded server the way a real deployment has it,
# a project directory per tool, running a tool's CLI or script, and the blocked-migration
# harness of scenario 4.
#
# The server: PostgreSQL 15 (the bindir on PATH, as test/run.sh sets it) with zero_downtime in
# shared_preload_libraries, listening on its unix socket and on 127.0.0.1 (node's pg connects
# by host and port).  Database `app` is owned by `migrator`, a non-superuser that owns the
# tables, as a deployment's migration role does:
#   zero_downtime.lock_timeout     = 300ms  (ALTER ROLE: the cap the migrations run under)
#   zero_downtime.small_table_size = 0      (ALTER ROLE: no table is small, so the 1000-row
#                                            test table is judged as a live one; a table over
#                                            the 10MB default would take seconds to load)
#   GRANT SET ON PARAMETER zero_downtime.allow  (the per-statement allow comment works for it)
# Table `items` (id, name, note, extra, 1000 rows) is the live table every scenario touches
# but the deferred one.  The extension lives in schema `zd`, on nobody's search_path: the
# migration role has USAGE on it and calls zd.zd_backfill; the tests read zd.* as superuser.
#
# The deferred scenario (README: Deferred safe forms) turns on, by a superuser,
#   ALTER ROLE migrator SET zero_downtime.defer_in_transaction = on
# and runs, in the tool's transaction and the tool's way, against a live table `accounts`
# (1000 rows; `owners` referenced): CREATE INDEX, SET NOT NULL, ADD FOREIGN KEY, ADD COLUMN with
# a volatile default NOT NULL, CALL zd.zd_backfill; the tool must finish on its first run, and
# after CALL zd.zd_deferred_wait() every safe form must be complete (check_deferred).
package ZdClients;

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use IPC::Run;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(start_server create_items rewrites project_dir write_file run_tool start_tool tool_env
  index_valid column_exists blocked_migration refused_re sql_lines defer_in_transaction
  create_accounts deferred_sql check_deferred blocked_too_long kill_during_deferred_build);

our $CAP_MS = 300;           # zero_downtime.lock_timeout of the migration role
our $MARGIN_MS = 250;        # what an application query may wait beyond the cap (IPC, jitter)
our $BLOCKER_HOLD_S = 2.0;   # how long the blocker keeps its transaction open once the DDL waits
our $BLOCKED_TABLE = 'items';  # the table the blocker writes and the application reads

my $clients_dir = dirname(abs_path(__FILE__));
my $node_modules = "$clients_dir/node_modules";

# start_server(NAME[, no_table => 1]): the guarded server, role, database and live table;
# returns the node.
sub start_server {
    my ($name, %opts) = @_;
    die "node_modules missing in $clients_dir: test/run.sh installs it (npm ci)\n"
      unless -d $node_modules;
    note('node ' . `node --version`);
    my $node = PostgreSQL::Test::Cluster->new($name);
    $node->init;
    $node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'zero_downtime'
listen_addresses = '127.0.0.1'
autovacuum = off
log_statement = 'all'
log_line_prefix = '%m [%p] %u@%d %a: '
});
    $node->start;
    $node->safe_psql('postgres', q{
        CREATE ROLE migrator LOGIN;
        CREATE DATABASE app OWNER migrator;
        GRANT SET ON PARAMETER zero_downtime.allow TO migrator;
        ALTER ROLE migrator SET zero_downtime.lock_timeout = '300ms';
        ALTER ROLE migrator SET zero_downtime.small_table_size = 0;
    });
    # In a schema of its own: Prisma deploys only into an empty public schema (P3005).
    # The migration role calls zd.zd_backfill in a migration (the deferred scenario).
    $node->safe_psql('app',
        'CREATE SCHEMA zd; CREATE EXTENSION zero_downtime SCHEMA zd; GRANT USAGE ON SCHEMA zd TO migrator');
    create_items($node) unless $opts{no_table};
    return $node;
}

# create_items(NODE): the live table, created by the migration role (or, with FILL_ONLY, only
# its rows: Prisma's first migration creates it).
sub create_items {
    my ($node, $fill_only) = @_;
    $node->safe_psql('app', 'SET ROLE migrator;'
      . ($fill_only ? '' : 'CREATE TABLE items (id int PRIMARY KEY, name text, note text, extra text);')
      . q{INSERT INTO items SELECT g, 'n' || g, 'note', 'extra' FROM generate_series(1, 1000) g;});
}

# project_dir(NODE, TOOL): an empty directory for the tool's project (config, migrations),
# writable by the tests' OS user, with node_modules linked in so configs resolve packages.
sub project_dir {
    my ($node, $tool) = @_;
    my $dir = "$PostgreSQL::Test::Utils::tmp_check/$tool-" . $node->name;
    File::Path::rmtree($dir);
    make_path($dir);
    symlink($node_modules, "$dir/node_modules") or die "symlink: $!";
    return $dir;
}

sub write_file {
    my ($path, $text) = @_;
    make_path(dirname($path));
    open(my $fh, '>', $path) or die "$path: $!";
    print $fh $text;
    close $fh;
}

# The environment a tool runs in: where the database is, and no network, colour or prompt.
sub tool_env {
    my ($node, $dir) = @_;
    my $port = $node->port;
    return (
        DATABASE_URL => "postgresql://migrator\@127.0.0.1:$port/app",
        PGHOST => '127.0.0.1', PGPORT => $port, PGUSER => 'migrator', PGDATABASE => 'app',
        HOME => $dir,
        NO_COLOR => '1', FORCE_COLOR => '0',
        CHECKPOINT_DISABLE => '1',                 # Prisma: no update check
        PRISMA_HIDE_UPDATE_MESSAGE => '1',
        PRISMA_DISABLE_WARNINGS => '',
        npm_config_update_notifier => 'false',
    );
}

# run_tool(NODE, DIR, CMD...): runs a command in DIR; returns (exit code, stdout and stderr).
sub run_tool {
    my ($node, $dir, @cmd) = @_;
    my $out = '';
    local %ENV = (%ENV, tool_env($node, $dir));
    delete $ENV{PGAPPNAME};    # set by PostgreSQL::Test::Utils; a tool's own name must show
    my $cwd = Cwd::getcwd();
    chdir $dir or die "$dir: $!";
    IPC::Run::run(\@cmd, '<', \undef, '>&', \$out,
        IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
    chdir $cwd;
    return ($? >> 8, $out);
}

# start_tool(NODE, DIR, \$out, CMD...): the same, in the background; returns the harness.
sub start_tool {
    my ($node, $dir, $out, @cmd) = @_;
    local %ENV = (%ENV, tool_env($node, $dir));
    delete $ENV{PGAPPNAME};
    my $cwd = Cwd::getcwd();
    chdir $dir or die "$dir: $!";
    my $h = IPC::Run::start(\@cmd, '<', \undef, '>&', $out,
        IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
    chdir $cwd;
    return $h;
}

sub index_valid {
    my ($node, $index) = @_;
    return $node->safe_psql('app',
        "SELECT coalesce((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('$index')), false)");
}

# rewrites(NODE, RULE): how many statements the guard has rewritten under RULE (zd_rule_stats;
# the steps of a rewrite run inside the server, so the statement log does not show them).
sub rewrites {
    my ($node, $rule) = @_;
    return $node->safe_psql('app',
        "SELECT coalesce(sum(rewritten), 0) FROM zd.zd_rule_stats WHERE rule = '$rule'");
}

sub column_exists {
    my ($node, $column) = @_;
    return $node->safe_psql('app',
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = '$column' AND NOT attisdropped");
}

# refused_re(RULE, TOOL_WAY): the refusal's primary message for a statement refused in a
# transaction block, with the way out of the tool the server recognised (README: what it does).
sub refused_re {
    my ($rule, $way) = @_;
    return qr/\Q$rule\E: [^\n]*; run its safe form outside the transaction \(\Q$way\E/;
}

# sql_lines(TEXT): the lines of TEXT the server logged since offset (for what a tool sent).
sub sql_lines { my ($node, $offset) = @_; return slurp_file($node->logfile, $offset); }

# blocked_migration(NODE, DIR, CMD...): scenario 4.  An application transaction that wrote a
# row of items stays open (the blocker); the tool runs its migration (an ADD COLUMN: an
# ACCESS EXCLUSIVE lock for an instant) meanwhile; once the migration's statement has waited for
# its lock, the blocker is kept BLOCKER_HOLD_S more, then commits.  Throughout, another session
# (the application) runs SELECTs on items and each one is timed.  Returns a hash: exit, out,
# waited (the DDL was seen waiting for its lock), app_max_ms, app_queries, seconds (the run).
sub blocked_migration {
    my ($node, $dir, $ddl_like, @cmd) = @_;
    my $blocker = $node->background_psql('app');
    my $app = $node->background_psql('app');
    my $monitor = $node->background_psql('app');
    my $retries_before = lock_retries($monitor);
    $blocker->query_safe("BEGIN; UPDATE $BLOCKED_TABLE SET id = id WHERE id = 1;");
    my $out = '';
    my $t0 = time;
    my $h = start_tool($node, $dir, \$out, @cmd);
    my ($waited_at, $released, $max, $n) = (undef, 0, 0, 0);
    while ($h->pumpable) {
        # Seen once as a lock wait: the statement's attempts and the guard's waits between
        # them alternate, so the check comes before the application's query (which waits
        # exactly while an attempt does).
        if (!defined $waited_at) {
            $waited_at = time if $monitor->query_safe(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
              . "AND query ILIKE '%$ddl_like%' AND pid <> pg_backend_pid()") > 0;
        }
        my $s = time;
        $app->query_safe("SELECT count(*) FROM $BLOCKED_TABLE");
        my $ms = (time - $s) * 1000;
        $max = $ms if $ms > $max;
        $n++;
        if (!$released && defined $waited_at && time - $waited_at >= $BLOCKER_HOLD_S) {
            $blocker->query_safe('COMMIT');
            $released = 1;
        }
        if (!$released && time - $t0 > 30) {    # never seen waiting: end it anyway
            $blocker->query_safe('COMMIT');
            $released = 1;
        }
        $h->pump_nb;
        usleep(20_000);
    }
    $h->finish;
    my $exit = $h->result(0);
    $blocker->query_safe('COMMIT') unless $released;
    my $retries = lock_retries($monitor) - $retries_before;
    $_->quit for ($blocker, $app, $monitor);
    note(sprintf('blocked migration: %.1f s, %d application queries, the slowest %.0f ms',
        time - $t0, $n, $max));
    return { exit => $exit, out => $out, waited => defined $waited_at, app_max_ms => $max,
        app_queries => $n, seconds => time - $t0, retries => $retries };
}

sub lock_retries {
    my ($session) = @_;
    return $session->query_safe(
        'SELECT coalesce(sum(lock_retries), 0) FROM zd.zd_rule_stats');
}

# check_blocked(NODE, RESULT, WHAT, COLUMN): the assertions of scenario 4.
sub check_blocked {
    my ($node, $r, $what, $column) = @_;
    ok($r->{waited}, "$what: the ADD COLUMN waited behind the blocker");
    is($r->{exit}, 0, "$what: the migration completes once the blocker commits")
      or diag($r->{out});
    ok($r->{seconds} >= $BLOCKER_HOLD_S,
        sprintf('%s: it waited for the blocker (%.1f s)', $what, $r->{seconds}));
    cmp_ok($r->{retries}, '>', 0, "$what: the guard retried its lock ($r->{retries} lock timeouts)");
    is(column_exists($node, $column), 1, "$what: the column was added");
    cmp_ok($r->{app_max_ms}, '<', $CAP_MS + $MARGIN_MS,
        "$what: no application query waited longer than the cap + ${MARGIN_MS} ms "
      . sprintf('(slowest %.0f ms of %d)', $r->{app_max_ms}, $r->{app_queries}));
}
push @EXPORT, 'check_blocked';

# check_blocked_deferred(NODE, RESULT, WHAT): scenario 4's assertions for the deferred run.
sub check_blocked_deferred {
    my ($node, $r, $what) = @_;
    ok($r->{waited}, "$what: the migration waited behind the blocker");
    is($r->{exit}, 0, "$what: the tool finishes on its first run once the blocker commits")
      or diag($r->{out});
    ok($r->{seconds} >= $BLOCKER_HOLD_S,
        sprintf('%s: it waited for the blocker (%.1f s)', $what, $r->{seconds}));
    cmp_ok($r->{retries}, '>', 0, "$what: the guard retried its lock ($r->{retries} lock timeouts)");
    cmp_ok($r->{app_max_ms}, '<', $CAP_MS + $MARGIN_MS,
        "$what: no application query waited longer than the cap + ${MARGIN_MS} ms "
      . sprintf('(slowest %.0f ms of %d)', $r->{app_max_ms}, $r->{app_queries}));
}
push @EXPORT, 'check_blocked_deferred';

# --- the deferred scenario ---------------------------------------------------------------------

# defer_in_transaction(NODE, ON): the migration role's setting, by a superuser (new sessions).
sub defer_in_transaction {
    my ($node, $on) = @_;
    $node->safe_psql('postgres',
        'ALTER ROLE migrator ' . ($on ? 'SET zero_downtime.defer_in_transaction = on'
                                      : 'RESET zero_downtime.defer_in_transaction'));
}

# create_accounts(NODE, TABLE): the live table TABLE (id, owner, email: no NULL, score: NULL
# everywhere; 1000 rows) and the table it will reference, TABLE_owners (ids 0..9), created and
# filled by the migration role as the application's data.
sub create_accounts {
    my ($node, $t) = @_;
    $node->safe_psql('app', qq{SET ROLE migrator;
        CREATE TABLE ${t}_owners (id int PRIMARY KEY);
        INSERT INTO ${t}_owners SELECT generate_series(0, 9);
        CREATE TABLE $t (id int PRIMARY KEY, owner int, email text, score int);
        INSERT INTO $t SELECT g, g % 10, 'a' || g || '\@example.com', NULL
          FROM generate_series(1, 1000) g;});
}

# deferred_sql(TABLE): the five statements of the deferred scenario, as SQL (the tools that
# take SQL files write them so; Knex and node-pg-migrate generate their own).
sub deferred_sql {
    my ($t) = @_;
    return (
        qq{CREATE INDEX "${t}_email_idx" ON "$t" ("email")},
        qq{ALTER TABLE "$t" ALTER COLUMN "email" SET NOT NULL},
        qq{ALTER TABLE "$t" ADD CONSTRAINT "${t}_owner_fk" FOREIGN KEY ("owner") REFERENCES "${t}_owners" ("id")},
        qq{ALTER TABLE "$t" ADD COLUMN "token" uuid NOT NULL DEFAULT gen_random_uuid()},
        qq{CALL zd.zd_backfill(relation => '$t', set_clause => 'score = id % 7', where_clause => 'score IS NULL')},
    );
}

# check_deferred(NODE, TABLE, WHAT): after the tool's run, CALL zd_deferred_wait() (psql,
# autocommit) returns and every safe form of the scenario is complete.
sub check_deferred {
    my ($node, $t, $what) = @_;
    my $t0 = time;
    my ($ret, $out, $err) = $node->psql('app', "CALL zd.zd_deferred_wait('120s')");
    is($ret, 0, "$what: CALL zd_deferred_wait() returns") or diag($err);
    note(sprintf('%s: the deferred work finished %.1f s after the tool', $what, time - $t0));
    my $q = sub { $node->safe_psql('app', shift) };
    is(index_valid($node, "${t}_email_idx"), 't', "$what: the index is valid (built CONCURRENTLY)");
    is($q->("SELECT string_agg(contype::text || ':' || convalidated, ',' ORDER BY conname) FROM pg_constraint "
          . "WHERE conrelid = '$t'::regclass AND contype <> 'p'"),
        'f:true', "$what: the foreign key is validated, no helper CHECK is left");
    is($q->("SELECT attnotnull FROM pg_attribute WHERE attrelid = '$t'::regclass AND attname = 'email'"),
        't', "$what: email is NOT NULL");
    is($q->("SELECT count(*) FILTER (WHERE token IS NULL) || '/' || count(DISTINCT token) || '/' || "
          . "(SELECT attnotnull FROM pg_attribute WHERE attrelid = '$t'::regclass AND attname = 'token') FROM $t"),
        '0/1000/true', "$what: token has a value in every row (each its own) and is NOT NULL");
    is($q->("SELECT count(*) FROM $t WHERE score IS NULL"), '0', "$what: the backfill is done");
    my $states = $q->("SELECT string_agg(rule || '=' || state, ',' ORDER BY rule, id) FROM zd.zd_deferred_status "
          . "WHERE relation = 'public.$t' OR run_sql LIKE '%$t%'");
    is($states, 'add-column-volatile-default=done,add-column-volatile-default=done,add-foreign-key=done,'
          . 'create-index=done,set-not-null=done,zd_backfill=done',
        "$what: zd_deferred_status: each deferred statement done") or
      diag($q->("SELECT id, state, rule, run_sql, error FROM zd.zd_deferred_status ORDER BY id"));
}

# blocked_too_long(NODE, DIR, TABLE, CMD...): an application transaction that wrote a row of
# TABLE stays open until the tool has exited; returns (exit code, output, seconds).
sub blocked_too_long {
    my ($node, $dir, $t, @cmd) = @_;
    my $blocker = $node->background_psql('app');
    $blocker->query_safe("BEGIN; UPDATE $t SET id = id WHERE id = 1;");
    my $t0 = time;
    my ($rc, $out) = run_tool($node, $dir, @cmd);
    my $seconds = time - $t0;
    $blocker->query_safe('COMMIT');
    $blocker->quit;
    return ($rc, $out, $seconds);
}

# kill_during_deferred_build(NODE, DIR, TABLE, CMD...): an old snapshot (a REPEATABLE READ
# transaction of another session) keeps the deferred CREATE INDEX CONCURRENTLY waiting after
# the tool's run; the postmaster is killed (kill -9) meanwhile, then started again.  Returns the
# tool's (exit code, output).
sub kill_during_deferred_build {
    my ($node, $dir, $t, @cmd) = @_;
    my $snapshot = $node->background_psql('app');
    $snapshot->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class;');
    my ($rc, $out) = run_tool($node, $dir, @cmd);
    $node->poll_query_until('app',
        "SELECT count(*) = 1 FROM zd.zd_deferred WHERE run_sql LIKE '%${t}_email_idx%' AND state = 'running'")
      or die 'the deferred build never started';
    $node->poll_query_until('app', "SELECT count(*) = 1 FROM pg_class WHERE relname = '${t}_email_idx'")
      or die 'the deferred build never created its index';
    my @children = split /\n/, $node->safe_psql('app', 'SELECT pid FROM pg_stat_activity');
    $node->kill9;
    $snapshot->{run}->kill_kill;
    for (1 .. 120) {    # the killed server's children exit; until then a new one may not start
        last unless grep { kill 0, $_ } @children;
        usleep(250_000);
    }
    $node->start;
    return ($rc, $out);
}

1;
