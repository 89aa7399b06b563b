-- The schema drift policy and the DDL journal (README "Schema drift"): per statement kind, per
-- kind of role membership, the journal's entries and outcomes (rollback, savepoint, prepared
-- transaction), the drift report, and a hostile ordinary role.
CREATE EXTENSION zero_downtime;
SET client_min_messages = warning;
CREATE ROLE regress_migrator;
CREATE ROLE regress_deployer IN ROLE regress_migrator;           -- a member
CREATE ROLE regress_nested IN ROLE regress_deployer;             -- a member of a member
CREATE ROLE regress_noinherit NOINHERIT IN ROLE regress_migrator;  -- a member without its rights
CREATE ROLE regress_app;
CREATE ROLE regress_reader IN ROLE pg_read_all_stats;
CREATE SCHEMA drift AUTHORIZATION regress_migrator;
GRANT USAGE, CREATE ON SCHEMA drift TO regress_app, regress_noinherit;
CREATE TABLE drift.orders (id int PRIMARY KEY, v int);
INSERT INTO drift.orders SELECT g, g FROM generate_series(1, 100) g;
ALTER TABLE drift.orders OWNER TO regress_migrator;
-- The application role owns a table of its own: ownership is not what stops it below.
CREATE TABLE drift.app_cache (k int, v text);
CREATE MATERIALIZED VIEW drift.app_totals AS SELECT count(*) AS n FROM drift.orders;
CREATE FUNCTION drift.add_index() RETURNS void SECURITY DEFINER LANGUAGE plpgsql
  SET search_path = pg_catalog AS $$
BEGIN
  CREATE INDEX IF NOT EXISTS orders_v ON drift.orders (v);
END $$;
ALTER FUNCTION drift.add_index() OWNER TO regress_migrator;
GRANT SELECT ON drift.orders TO regress_app;
ALTER TABLE drift.app_cache OWNER TO regress_app;
ALTER MATERIALIZED VIEW drift.app_totals OWNER TO regress_app;
CREATE SCHEMA regress_hidden;  -- the application role may not use it
CREATE TABLE regress_hidden.t (a int);
CREATE FOREIGN DATA WRAPPER regress_fdw;
CREATE SERVER regress_server FOREIGN DATA WRAPPER regress_fdw;
SET search_path = drift, public;
RESET client_min_messages;
SELECT pg_catalog.clock_timestamp() AS started, current_user AS superuser \gset

-- The settings are superuser-only.
SET zero_downtime.schema_roles = 'regress_migrator';
SET zero_downtime.schema_drift = refuse;
SELECT name, context FROM pg_settings
 WHERE name IN ('zero_downtime.schema_roles', 'zero_downtime.schema_drift', 'zero_downtime.journal_size')
 ORDER BY name;

\set VERBOSITY terse
-- An application role: every statement that changes the schema is refused.
SET ROLE regress_app;
CREATE INDEX ON app_cache (k);
ALTER TABLE app_cache ADD COLUMN w int;
ALTER TABLE app_cache RENAME COLUMN v TO value;
DROP TABLE app_cache;
CREATE TABLE drift.more (a int);
CREATE TABLE drift.copy AS SELECT * FROM app_cache;
CREATE VIEW drift.v AS SELECT 1 AS one;
CREATE SEQUENCE drift.s;
CREATE FUNCTION drift.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TYPE drift.mood AS ENUM ('ok');
COMMENT ON TABLE app_cache IS 'cache';
GRANT SELECT ON app_cache TO PUBLIC;
CREATE POLICY p ON app_cache USING (true);
CREATE TRIGGER t BEFORE INSERT ON app_cache FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE SCHEMA regress_app_schema;
DO $$ BEGIN EXECUTE 'CREATE INDEX ON drift.app_cache (v)'; END $$;
/* zero_downtime: allow schema-drift */ CREATE INDEX ON app_cache (v);
CREATE INDEX ON regress_hidden.t (a);  -- (refused by the policy before PostgreSQL's own error)
-- Statements that change no schema pass.
VACUUM app_cache;
ANALYZE app_cache;
REFRESH MATERIALIZED VIEW app_totals;
TRUNCATE app_cache;
BEGIN; LOCK TABLE app_cache IN SHARE MODE; COMMIT;
COPY app_cache TO STDOUT;
SET work_mem = '8MB';
RESET work_mem;
CHECKPOINT;  -- (PostgreSQL's own refusal: the policy let it through)
-- Temporary objects are exempt.
CREATE TEMP TABLE scratch (a int);
CREATE INDEX ON scratch (a);
ALTER TABLE scratch ADD COLUMN b int;
ALTER TABLE pg_temp.scratch ADD COLUMN c int;
DROP TABLE scratch;
-- An application role cannot turn the policy off, widen it, or allow the rule.
SET zero_downtime.schema_drift = off;
SET zero_downtime.schema_roles = 'regress_app';
SET zero_downtime.allow = 'schema-drift';
SET zero_downtime.journal_size = 0;
-- Nor does a spoofed application_name help (it is recorded as given).
SET application_name = 'regress_migrator';
CREATE INDEX ON app_cache (k);
SET application_name = E'psql\n2026-01-01 | regress_migrator | committed';
SHOW application_name;
CREATE INDEX ON app_cache (k);
RESET application_name;
-- A SECURITY DEFINER function owned by a schema role runs its DDL as that role: allowed.
SELECT drift.add_index();
RESET ROLE;

-- Membership counts: a member, a member of a member, a member without INHERIT.
SET ROLE regress_deployer;
CREATE INDEX orders_id_v ON orders (id, v);
SET ROLE regress_nested;
ALTER TABLE orders ADD COLUMN note text;
SET ROLE regress_noinherit;
CREATE TABLE drift.noinherit_made (a int);  -- allowed (its own table, in a schema it may use)
RESET ROLE;
-- A superuser gets no pass unless listed (or a member of a role listed).
CREATE INDEX ON orders (v);
SELECT set_config('zero_downtime.schema_roles', 'regress_migrator, ' || quote_ident(:'superuser'), false) IS NOT NULL AS listed;
DROP TABLE drift.noinherit_made;
-- Membership taken away is seen at once (the cache is dropped with pg_auth_members' change).
REVOKE regress_migrator FROM regress_deployer;
SET ROLE regress_nested;
ALTER TABLE orders ADD COLUMN other text;
RESET ROLE;
GRANT regress_migrator TO regress_deployer;
SET ROLE regress_nested;
ALTER TABLE drift.orders ADD COLUMN other text;
RESET ROLE;
SELECT set_config('zero_downtime.schema_roles', 'regress_migrator', false) IS NOT NULL AS unlisted;

-- warn: the statement runs, with a WARNING; objects created in the same transaction are exempt.
SET zero_downtime.schema_drift = warn;
SET ROLE regress_app;
BEGIN;
CREATE TABLE drift.app_new (a int);
ALTER TABLE drift.app_new ADD COLUMN b int;
CREATE INDEX ON drift.app_new (a);
ROLLBACK;
ALTER TABLE app_cache ADD COLUMN warned int;
RESET ROLE;
SET zero_downtime.schema_drift = refuse;
\set VERBOSITY default

-- The journal: what committed, what rolled back (also to a savepoint), what was prepared.
SET ROLE regress_migrator;
BEGIN;
ALTER TABLE orders ADD COLUMN gone int;
ROLLBACK;
BEGIN;
SAVEPOINT s;
ALTER TABLE orders ADD COLUMN to_savepoint int;
ROLLBACK TO SAVEPOINT s;
ALTER TABLE orders ADD COLUMN kept int;
COMMIT;
\set VERBOSITY terse
ALTER TABLE orders ADD COLUMN id int;  -- fails: rolled back
\set VERBOSITY default
CREATE INDEX orders_kept ON orders (kept);  -- a small table: as written, lock capped
BEGIN;
ALTER TABLE orders ADD COLUMN prepared int;
PREPARE TRANSACTION 'regress_drift';
RESET ROLE;
SELECT outcome FROM zd_journal() WHERE statement LIKE '%ADD COLUMN prepared int';
COMMIT PREPARED 'regress_drift';
SELECT outcome FROM zd_journal() WHERE statement LIKE '%ADD COLUMN prepared int';

-- Secrets never reach the journal (the superuser listed: these run).
SELECT set_config('zero_downtime.schema_roles', 'regress_migrator, ' || quote_ident(:'superuser'), false) IS NOT NULL AS listed;
CREATE ROLE regress_secret PASSWORD 'hunter2';
ALTER ROLE regress_secret PASSWORD E'hunter\\3';
CREATE USER MAPPING FOR regress_app SERVER regress_server OPTIONS (user 'app', password 'hunter4');
-- Text that looks like other entries stays inside its own.
COMMENT ON TABLE orders IS E'line one\n2026-01-01 | postgres | DROP TABLE | committed';
SELECT set_config('zero_downtime.schema_roles', 'regress_migrator', false) IS NOT NULL AS unlisted;

SELECT role, command, object, statement, policy, decision, rule, by_schema_role,
       regexp_replace(locks, 'pg_temp_[0-9]+', 'pg_temp') AS locks,
       lock_wait_ms IS NOT NULL AS wait_known,
       lock_hold_ms IS NOT NULL AS hold_known, outcome
  FROM zd_journal()
 WHERE at >= :'started' AND database = current_database()
 ORDER BY at;
SELECT count(*) AS entries_with_secrets FROM zd_journal()
 WHERE statement ~ 'hunter' OR application_name ~ 'hunter';
SELECT position(convert_to('hunter', 'UTF8') IN pg_read_binary_file('zero_downtime/journal')) AS in_file;
SELECT DISTINCT application_name FROM zd_journal()
 WHERE at >= :'started' AND role = 'regress_app' ORDER BY 1;

-- The drift report: the changes outside the schema roles, per object.
SELECT object, role, command, policy, decision, outcome FROM zd_schema_drift(:'started');
-- Since the last change a schema role committed (the default): only what came after it.
SET zero_downtime.schema_drift = warn;
SET ROLE regress_app;
ALTER TABLE app_cache ADD COLUMN after_migration int;
RESET ROLE;
SELECT object, role, command, policy, decision, outcome FROM zd_schema_drift();

-- One object however a statement names it: unqualified (found on the search path),
-- schema-qualified, quoted, a column of it (its table).  Another table of the same name
-- elsewhere is another object.
SET client_min_messages = error;
CREATE TABLE public.orders (a int);
ALTER TABLE public.orders OWNER TO regress_app;
RESET client_min_messages;
SET search_path = public, drift;
\set VERBOSITY terse
SET ROLE regress_app;
COMMENT ON TABLE orders IS 'unqualified';
COMMENT ON TABLE public.orders IS 'qualified';
COMMENT ON TABLE "orders" IS 'quoted';
ALTER TABLE "public"."orders" ADD COLUMN b int;
COMMENT ON COLUMN orders.b IS 'a column';
GRANT SELECT ON orders TO regress_reader;
COMMENT ON TABLE app_cache IS 'found in drift';
RESET ROLE;
\set VERBOSITY default
SET search_path = drift, public;
SELECT object, string_agg(command, ', ' ORDER BY at) AS commands FROM zd_schema_drift(:'started')
 WHERE at > (SELECT max(at) FROM zd_journal() WHERE statement LIKE 'ALTER TABLE public.orders OWNER%')
 GROUP BY object ORDER BY object;
SET client_min_messages = error;
DROP TABLE public.orders;
RESET client_min_messages;

-- Who may read them: superusers and pg_read_all_stats, nobody else (not even with EXECUTE).
SET ROLE regress_reader;
SELECT count(*) > 0 AS reader_sees FROM zd_journal();
SET ROLE regress_app;
SELECT count(*) FROM zd_journal();
SELECT count(*) FROM zd_schema_drift();
RESET ROLE;
GRANT EXECUTE ON FUNCTION zd_journal() TO regress_app;
SET ROLE regress_app;
SELECT count(*) FROM zd_journal();
RESET ROLE;
REVOKE EXECUTE ON FUNCTION zd_journal() FROM regress_app;

RESET zero_downtime.schema_drift;
RESET zero_downtime.schema_roles;
SET client_min_messages = warning;
SET zero_downtime.mode = off;
DROP USER MAPPING FOR regress_app SERVER regress_server;
DROP SERVER regress_server;
DROP FOREIGN DATA WRAPPER regress_fdw;
DROP SCHEMA drift CASCADE;
DROP SCHEMA regress_hidden CASCADE;
DROP EXTENSION zero_downtime;
DROP ROLE regress_migrator, regress_deployer, regress_nested, regress_noinherit, regress_app,
          regress_reader, regress_secret;
