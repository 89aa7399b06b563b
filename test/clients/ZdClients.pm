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
# Table `items` (id, name, note, extra, 1000 rows) is the live table every scenario touches.
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
  index_valid column_exists blocked_migration refused_re sql_lines);

our $CAP_MS = 300;           # zero_downtime.lock_timeout of the migration role
our $MARGIN_MS = 250;        # what an application query may wait beyond the cap (IPC, jitter)
our $BLOCKER_HOLD_S = 2.0;   # how long the blocker keeps its transaction open once the DDL waits

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
    $node->safe_psql('app', 'CREATE SCHEMA zd; CREATE EXTENSION zero_downtime SCHEMA zd');
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
    $blocker->query_safe('BEGIN; UPDATE items SET name = name WHERE id = 1;');
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
        $app->query_safe('SELECT count(*) FROM items');
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
        "SELECT coalesce(sum(lock_retries), 0) FROM zd.zd_rule_stats WHERE rule = 'lock-cap'");
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

1;
