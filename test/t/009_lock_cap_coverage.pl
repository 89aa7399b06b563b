# The lock cap follows the locks PostgreSQL takes, not the statement's main table: behind a
# transaction that holds a conflicting lock, each statement below gives up after
# zero_downtime.lock_timeout instead of waiting (and queueing the application behind it).
# Without the cap each one would wait for the whole blocker; statement_timeout (5 s) is only
# the backstop that shows such a miss as a failure.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('coverage');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'zero_downtime'");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION zero_downtime;
    SET zero_downtime.mode = off;
    CREATE TABLE big (id int PRIMARY KEY, v int, CONSTRAINT big_chk CHECK (id > 0));
    INSERT INTO big SELECT g, g FROM generate_series(1, 1000) g;
    CREATE INDEX big_v ON big (v);
    CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
    CREATE TRIGGER big_trg BEFORE UPDATE ON big FOR EACH ROW EXECUTE FUNCTION noop();
    CREATE POLICY big_pol ON big USING (true);
    CREATE RULE big_rule AS ON DELETE TO big DO ALSO NOTHING;
    CREATE SEQUENCE seq;
    CREATE VIEW big_view AS SELECT id FROM big;
    CREATE MATERIALIZED VIEW big_mv AS SELECT id FROM big;
    CREATE TABLE parts (id int) PARTITION BY RANGE (id);
    CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (100);
    CREATE SCHEMA elsewhere;
    CREATE DOMAIN amount AS int;
    ALTER TABLE big ADD COLUMN amt amount;
    CREATE ROLE app;
    CREATE TABLE app_t (id int);
    ALTER TABLE app_t OWNER TO app;
    CREATE FOREIGN DATA WRAPPER dummy;
    CREATE SERVER dummy_server FOREIGN DATA WRAPPER dummy;
});
my $tablespace_dir = PostgreSQL::Test::Utils::tempdir;
$node->safe_psql('postgres', "CREATE TABLESPACE elsewhere LOCATION '$tablespace_dir'");

# The blocker: an application transaction that wrote a row of big and of parts, took a value
# of the sequence, read app_t and the views (ROW EXCLUSIVE on the tables and big's indexes, ACCESS
# SHARE on the views), left open.
my $blocker = $node->background_psql('postgres');
$blocker->query_safe(q{BEGIN;
    UPDATE big SET v = v WHERE id = 1;
    INSERT INTO parts VALUES (1);
    SELECT nextval('seq');
    SELECT count(*) FROM app_t;
    SELECT count(*) FROM big_view;
    SELECT count(*) FROM big_mv;});

my @statements = (
    'CREATE TABLE child (id int REFERENCES big (id))',
    'BEGIN; CREATE TABLE child2 (id int); ALTER TABLE child2 ADD FOREIGN KEY (id) REFERENCES big (id); COMMIT',
    'CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (100) TO (200)',
    'CREATE RULE big_rule2 AS ON INSERT TO big DO ALSO NOTHING',
    'DROP RULE big_rule ON big',
    'CREATE POLICY big_pol2 ON big USING (true)',
    'ALTER POLICY big_pol ON big USING (id > 0)',
    'DROP POLICY big_pol ON big',
    'DROP TRIGGER big_trg ON big',
    'ALTER TRIGGER big_trg ON big RENAME TO big_trg2',
    'ALTER TABLE big RENAME CONSTRAINT big_chk TO big_chk2',
    'ALTER TABLE big SET SCHEMA elsewhere',
    'ALTER INDEX big_v SET TABLESPACE pg_default',
    'ALTER MATERIALIZED VIEW big_mv SET TABLESPACE pg_default',
    'ALTER SEQUENCE seq RESTART',
    'CREATE OR REPLACE VIEW big_view AS SELECT id FROM big',
    'ALTER VIEW big_view RENAME TO big_view2',
    'DROP VIEW big_view',
    'DROP MATERIALIZED VIEW big_mv',
    'ALTER DOMAIN amount ADD CONSTRAINT amount_positive CHECK (VALUE > 0)',
    'REASSIGN OWNED BY app TO CURRENT_USER',
    'ALTER TABLE ALL IN TABLESPACE pg_default OWNED BY app SET TABLESPACE elsewhere',
    'ALTER INDEX big_v DEPENDS ON EXTENSION zero_downtime',
    'CREATE FOREIGN TABLE parts_f PARTITION OF parts FOR VALUES FROM (200) TO (300) SERVER dummy_server',
    # Statements that commit internally: the cap must survive their first commit.
    'VACUUM FULL big',
    "SET zero_downtime.allow = 'reindex'; REINDEX SCHEMA public",
);
for my $sql (@statements) {
    my ($ret, $out, $err) = $node->psql('postgres',
        "SET zero_downtime.lock_timeout = '200ms'; SET zero_downtime.lock_retries = 0; "
      . "SET statement_timeout = '5s'; $sql;");
    like($err, qr/canceling statement due to lock timeout/, "capped: $sql")
      or diag($err);
}

$blocker->query_safe('COMMIT');

# A reader of big (ACCESS SHARE only) lets a foreign key to it be added (SHARE ROW EXCLUSIVE),
# but dropping one drops its triggers on big under ACCESS EXCLUSIVE: capped, though the table
# the statement names is new.
$blocker->query_safe('BEGIN; SELECT count(*) FROM big;');
for my $drop ('ALTER TABLE t_new DROP CONSTRAINT t_new_id_fkey', 'DROP TABLE t_new') {
    my ($ret, $out, $err) = $node->psql('postgres',
        "SET zero_downtime.lock_timeout = '200ms'; SET statement_timeout = '5s'; "
      . "BEGIN; CREATE TABLE t_new (id int REFERENCES big (id)); $drop; COMMIT;");
    like($err, qr/canceling statement due to lock timeout/, "capped: $drop (new table)")
      or diag($err);
}
$blocker->query_safe('COMMIT');
# Nothing was changed by the statements that gave up.
is($node->safe_psql('postgres',
        q{SELECT count(*) FROM pg_class WHERE relname IN ('child', 'child2', 'parts_2')}),
    '0', 'the statements that gave up left nothing behind');
# Once the blocker is gone, the same statements run.
my ($ret, $out, $err) = $node->psql('postgres', 'CREATE TABLE child (id int REFERENCES big (id))');
is($ret, 0, 'and run once it is gone') or diag($err);

$blocker->quit;
$node->stop;
done_testing();
