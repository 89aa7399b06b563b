# zero_downtime beside the hook extensions people already preload: pg_stat_statements,
# auto_explain, pgaudit and set_user, with zero_downtime last and first in
# shared_preload_libraries.  What each order shows to the others:
#   last   its hook runs first and hands each statement it runs to the hooks loaded before it:
#          pg_stat_statements records and pgaudit logs every step of a rewrite as actually run;
#   first  the others' hooks run before it and see the statement as the client sent it:
#          recorded and logged once, as written, although the guard ran its safe form.
# In both orders the guard guards and the statements it lets through are recorded and logged.
# A refusal is logged by zero_downtime itself (LOG "zero_downtime: refused (rule)") and by the
# server's ERROR line; pgaudit logs statements that ran, so not a refused one in either order.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $others = 'pg_stat_statements,auto_explain,pgaudit,set_user';

# pgaudit and set_user are Debian's packages for PostgreSQL 15 (scripts/install-deps.sh); a
# server built from source for another major (test/versions/build_server.sh) has neither.
my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
my ($major) = `pg_config --version` =~ /PostgreSQL (\d+)/;
my @missing = grep { !-e "$pkglibdir/$_.so" } qw(pgaudit set_user);
plan skip_all => "@missing not built for PostgreSQL $major"
  if @missing && $major != 15;

my $node = PostgreSQL::Test::Cluster->new('neighbours');
$node->init;
$node->append_conf('postgresql.conf', qq{
pgaudit.log = 'ddl'
auto_explain.log_min_duration = 0
zero_downtime.small_table_size = 0
});

# The statements pg_stat_statements recorded whose text matches $like, in order.
sub recorded {
    my ($like) = @_;
    return $node->safe_psql('postgres',
        "SELECT string_agg(query, ' | ' ORDER BY query) FROM pg_stat_statements "
        . "WHERE query LIKE '$like'");
}

foreach my $order ('last', 'first') {
    my $libs = $order eq 'last' ? "$others,zero_downtime" : "zero_downtime,$others";
    $node->append_conf('postgresql.conf', "shared_preload_libraries = '$libs'");
    $order eq 'last' ? $node->start : $node->restart;
    $node->safe_psql('postgres', qq{
        SET zero_downtime.mode = off;
        DROP TABLE IF EXISTS orders;
        RESET zero_downtime.mode;
        CREATE TABLE orders (id int, amount int);
        INSERT INTO orders SELECT g, g FROM generate_series(1, 1000) g;
        CREATE EXTENSION IF NOT EXISTS zero_downtime;
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
        CREATE EXTENSION IF NOT EXISTS pgaudit;
        SELECT pg_stat_statements_reset();
    });
    is($node->safe_psql('postgres', 'SELECT loaded_by FROM zd_status()'),
        'shared_preload_libraries', "$order: loaded by shared_preload_libraries");

    my $log_offset = -s $node->logfile;
    # Rewritten: one step.  Rewritten: two steps.  Let through with its lock capped.  Refused.
    my ($ret, $out, $err) = $node->psql('postgres', 'CREATE INDEX orders_amount ON orders (amount)');
    like($err, qr/NOTICE:  zero_downtime: create-index/, "$order: CREATE INDEX is rewritten");
    $node->safe_psql('postgres',
        'ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0)');
    $node->safe_psql('postgres', 'ALTER TABLE orders ADD COLUMN note text');
    ($ret, $out, $err) = $node->psql('postgres', 'VACUUM FULL orders');
    like($err, qr/ERROR:  vacuum-full/, "$order: VACUUM FULL is refused");
    is($node->safe_psql('postgres',
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_amount'::regclass"),
        't', "$order: the index was built, valid");
    my $log = slurp_file($node->logfile, $log_offset);

    # The statement let through is recorded and audited in both orders.
    is(recorded('ALTER TABLE orders ADD COLUMN%'), 'ALTER TABLE orders ADD COLUMN note text',
        "$order: pg_stat_statements records the statement let through");
    like($log, qr/AUDIT: SESSION,\d+,\d+,DDL,ALTER TABLE,TABLE,public.orders,ALTER TABLE orders ADD COLUMN note text,/,
        "$order: pgaudit logs the statement let through");
    like($log, qr/LOG:  zero_downtime: refused \(vacuum-full\)/,
        "$order: zero_downtime logs the refusal");

    if ($order eq 'last') {
        is(recorded('CREATE%INDEX%orders_amount%'),
            'CREATE INDEX CONCURRENTLY orders_amount ON orders (amount)',
            'last: pg_stat_statements records the rewrite as run, not the original');
        is(recorded('ALTER TABLE %orders%CONSTRAINT amount_positive%'),
            'ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0) NOT VALID | '
            . 'ALTER TABLE public.orders VALIDATE CONSTRAINT amount_positive',
            'last: pg_stat_statements records both steps of the NOT VALID + VALIDATE rewrite');
        like($log, qr/AUDIT: SESSION,\d+,\d+,DDL,CREATE INDEX,[^\n]*,CREATE INDEX CONCURRENTLY orders_amount ON orders \(amount\)/,
            'last: pgaudit logs the CREATE INDEX CONCURRENTLY actually run');
        like($log, qr/DDL,ALTER TABLE,[^\n]*,ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK \(amount > 0\) NOT VALID/,
            'last: pgaudit logs the NOT VALID step');
        like($log, qr/DDL,ALTER TABLE,[^\n]*,ALTER TABLE public.orders VALIDATE CONSTRAINT amount_positive/,
            'last: pgaudit logs the VALIDATE step');
        unlike($log, qr/AUDIT:[^\n]*VACUUM FULL/,
            'last: a refused statement never reaches pgaudit (zero_downtime refuses it first)');
    } else {
        is(recorded('CREATE%INDEX%orders_amount%'), 'CREATE INDEX orders_amount ON orders (amount)',
            'first: pg_stat_statements records the statement as sent');
        like($log, qr/AUDIT: SESSION,\d+,\d+,DDL,CREATE INDEX,[^\n]*,CREATE INDEX orders_amount ON orders \(amount\)/,
            'first: pgaudit logs the statement as sent');
        unlike($log, qr/AUDIT:[^\n]*VALIDATE CONSTRAINT/,
            'first: pgaudit does not see the steps of a rewrite');
    }
    # A lock timeout retried: each attempt is a statement the hooks below see start and end.
    my $blocker = $node->background_psql('postgres');
    $blocker->query_safe('BEGIN; SELECT count(*) FROM orders;');
    my ($ddl_out, $ddl_err) = ('', '');
    my $ddl = IPC::Run::start(
        [ $node->installed_command('psql'), '-X', '-d', $node->connstr('postgres'), '-c',
          "SET zero_downtime.lock_timeout = '100ms'", '-c', 'ALTER TABLE orders ADD COLUMN retried int' ],
        '>', \$ddl_out, '2>', \$ddl_err);
    $node->poll_query_until('postgres',
        "SELECT count(*) >= 1 FROM pg_stat_activity WHERE query LIKE '%ADD COLUMN retried%' "
      . "AND wait_event_type = 'Lock'") or die 'the ALTER never waited for its lock';
    usleep(400_000);
    $blocker->query_safe('COMMIT');
    $blocker->quit;
    $ddl->finish;
    like($ddl_err, qr/retry 1 of/, "$order: the ALTER was retried behind the blocker");
    is($ddl->result(0), 0, "$order: and completed once the blocker was gone") or diag($ddl_err);

    $log = slurp_file($node->logfile, $log_offset);
    unlike($log, qr/terminated by signal|PANIC|pgaudit stack/, "$order: no backend crashed, no pgaudit error");
}

done_testing();
