# Expand/contract of the kinds that retire no column: making a column NOT NULL
# (zd_expand_set_not_null) and adding a column filled from an expression
# (zd_expand_add_column).  Their migrate work (the backfill, the VALIDATE) runs in the
# deferred-work worker after the commit and finishes after an interruption:
#   - add column: the worker terminated mid-backfill while an old client (never naming the
#     new column) inserts and updates: the work resumes by itself, every row is filled (the
#     old client's by the fill trigger), contract sets NOT NULL;
#   - set not null: the backfill cancelled (pg_cancel_backend of the worker): the step fails,
#     the migration stays migrating and says so; zd_migrate resumes it to ready;
#   - set not null: the server killed (kill -9 of the postmaster) mid-backfill: resumed at
#     restart, ready, contracts.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('expand_kinds');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'zero_downtime'
zero_downtime.contract_quiet_period = 0});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    CREATE TABLE a1 (id int PRIMARY KEY, price int NOT NULL, qty int NOT NULL);
    INSERT INTO a1 SELECT g, g % 1000, 1 + g % 7 FROM generate_series(1, 400000) g;
    CREATE TABLE n1 (id int PRIMARY KEY, email text);
    INSERT INTO n1 SELECT g, CASE WHEN g % 2 = 0 THEN 'e' || g END
    FROM generate_series(1, 400000) g;
    CREATE TABLE n2 (id int PRIMARY KEY, email text);
    INSERT INTO n2 SELECT g, CASE WHEN g % 2 = 0 THEN 'e' || g END
    FROM generate_series(1, 400000) g;
    ANALYZE;});

sub backfill_running {
    my ($name) = @_;
    $node->poll_query_until('postgres',
        "SELECT rows_done > 0 FROM zd_backfill_progress WHERE name = '$name' AND state = 'running'")
      or die "the backfill $name never ran";
}

sub terminate_worker {
    my ($how) = @_;
    return $node->safe_psql('postgres',
        "SELECT count($how(pid)) FROM pg_stat_activity "
      . "WHERE backend_type = 'zero_downtime deferred'");
}

# --- add column: the worker terminated mid-backfill, an old client writing throughout --------
my $id1 = $node->safe_psql('postgres',
    q{SELECT zd_expand_add_column('a1', 'total', 'bigint', 'price::bigint * qty',
                                  not_null => true)});
my ($old_out, $old_err) = ('', '');
my $old_client = IPC::Run::start(
    [ $node->installed_command('psql'), '-X', '-v', 'ON_ERROR_STOP=1', '-d',
      $node->connstr('postgres'), '-c',
      q{SET application_name = 'old client';
        DO $$ BEGIN
          FOR i IN 1..3000 LOOP
            INSERT INTO a1 (id, price, qty) VALUES (1000000 + i, i, 2);
            UPDATE a1 SET qty = qty + 1 WHERE id = i * 100;
            PERFORM pg_sleep(0.001);
          END LOOP;
        END $$;} ],
    '>', \$old_out, '2>', \$old_err);
$node->safe_psql('postgres', "SELECT zd_migrate($id1)");
backfill_running("zd_migration_$id1");
is(terminate_worker('pg_terminate_backend'), '1', 'add column: the worker is terminated');
ok($old_client->finish, 'add column: the old client never failed') or diag($old_err);
$node->safe_psql('postgres', q{CALL zd_deferred_wait('300s')});
is($node->safe_psql('postgres', "SELECT phase FROM zd_migrations WHERE id = $id1"), 'ready',
    'add column: after the worker was terminated, the migration ends ready');
is($node->safe_psql('postgres',
    'SELECT count(*) FROM a1 WHERE total IS DISTINCT FROM price::bigint * qty'), '0',
    'add column: every row holds the expression, the old client\'s too');
is($node->safe_psql('postgres', 'SELECT count(*) FROM a1 WHERE id > 1000000'), '3000',
    'add column: every write of the old client is there');
is($node->safe_psql('postgres', "SELECT zd_contract($id1) IS NOT NULL"), 't',
    'add column: contracts');
is($node->safe_psql('postgres',
    q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'a1'::regclass AND attname = 'total'}),
    't', 'add column: the column is NOT NULL');

# --- set not null: the backfill cancelled; zd_migrate resumes ---------------------------------
my $id2 = $node->safe_psql('postgres',
    q{SELECT zd_expand_set_not_null('n1', 'email', $$'filled ' || id$$)});
$node->safe_psql('postgres', "SELECT zd_migrate($id2)");
backfill_running("zd_migration_$id2");
is(terminate_worker('pg_cancel_backend'), '1', 'set not null: the backfill is cancelled');
$node->poll_query_until('postgres',
    "SELECT count(*) > 0 FROM zd_deferred_status WHERE statement = 'SELECT zd_migrate($id2)' "
  . "AND state IN ('failed', 'done') AND run_sql LIKE 'CALL %'")
  or die 'the cancelled step never ended';
my $state = $node->safe_psql('postgres',
    "SELECT state FROM zd_deferred_status WHERE statement = 'SELECT zd_migrate($id2)' "
  . "AND run_sql LIKE 'CALL %' ORDER BY id DESC LIMIT 1");
is($state, 'failed', 'set not null: the cancelled backfill step failed');
like($node->safe_psql('postgres', "SELECT blocked_by FROM zd_migrations WHERE id = $id2"),
    qr/failed/, 'set not null: the view says the step failed');
is($node->safe_psql('postgres', "SELECT phase FROM zd_migrations WHERE id = $id2"),
    'migrating', 'set not null: still migrating');
my ($crc, $cout, $cerr) = $node->psql('postgres', "SELECT zd_contract($id2)");
like($cerr, qr/SELECT zd_migrate\($id2\) resumes it/,
    'set not null: contract refused, naming the call that resumes');
$node->psql('postgres', q{CALL zd_deferred_wait('300s')});  # (reports the failure, once)
$node->safe_psql('postgres', "SELECT zd_migrate($id2)");
$node->safe_psql('postgres', q{CALL zd_deferred_wait('300s')});
is($node->safe_psql('postgres', "SELECT phase FROM zd_migrations WHERE id = $id2"), 'ready',
    'set not null: after the cancel and zd_migrate, ready');
is($node->safe_psql('postgres',
    q{SELECT count(*) FILTER (WHERE email IS NULL) || ',' ||
             count(*) FILTER (WHERE email = 'filled ' || id) FROM n1}),
    '0,200000', 'set not null: every NULL filled, nothing else touched');
is($node->safe_psql('postgres', "SELECT zd_contract($id2) IS NOT NULL"), 't',
    'set not null: contracts');

# --- set not null: the server killed mid-backfill; resumed at restart -------------------------
my $id3 = $node->safe_psql('postgres',
    q{SELECT zd_expand_set_not_null('n2', 'email', $$'filled ' || id$$)});
$node->safe_psql('postgres', "SELECT zd_migrate($id3)");
backfill_running("zd_migration_$id3");
my @children = split /\n/, $node->safe_psql('postgres', 'SELECT pid FROM pg_stat_activity');
$node->kill9;
for (1 .. 120) {
    last unless grep { kill 0, $_ } @children;
    select(undef, undef, undef, 0.25);
}
$node->start;
$node->poll_query_until('postgres', 'SELECT true') or die 'the server never came back';
$node->safe_psql('postgres', q{CALL zd_deferred_wait('300s')});
is($node->safe_psql('postgres', "SELECT phase FROM zd_migrations WHERE id = $id3"), 'ready',
    'set not null: after kill -9 of the server, ready');
is($node->safe_psql('postgres', 'SELECT count(*) FROM n2 WHERE email IS NULL'), '0',
    'set not null: every NULL filled');
is($node->safe_psql('postgres', "SELECT zd_contract($id3)"),
    "migration $id3 complete: public.n2.email is NOT NULL", 'set not null: contracts');
my ($rc, $out, $err) = $node->psql('postgres', 'INSERT INTO n2 (id) VALUES (0)');
like($err, qr/violates not-null constraint/, 'set not null: the column is NOT NULL');

$node->stop;
done_testing();
