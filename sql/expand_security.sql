-- Expand/contract against hostile ordinary roles (README "Security").  regress_xmallory owns a
-- schema whose operators and functions shadow pg_catalog's, and may CREATE in a schema that
-- regress_xalice puts before pg_catalog in her search_path; each shadow springs a trap that
-- records who ran it and, run by a superuser, makes regress_xmallory a superuser.  Cases:
--   1. mallory's own lifecycle under her search_path: none of zero_downtime's SQL uses her
--      operators (state written as the owner, steps, plan, view, the worker's steps);
--   2. a shadow created after alice's expand: alice's expressions keep their meaning in the
--      trigger, for every writer, and in the worker's backfill and index copies;
--   3. the table owner's expression never runs with a writer's rights: a superuser's INSERT
--      into mallory's table runs her up expression as mallory;
--   4. a table mallory does not own: refused before any lock (a prepared transaction holds
--      ACCESS EXCLUSIVE on it);
--   5. a migration mallory did not create: every call refused before its lock is taken,
--      the view shows her none of it, a leaky function sees nothing;
--   6. a relation squatting the name of an index copy: never taken for the copy;
--   7. the fill expressions of set-not-null and add-column migrations: alice's keep their
--      meaning for writers under a hostile search_path and in the worker's backfill; mallory's
--      fill function runs as mallory for a superuser's and alice's writes.
CREATE EXTENSION zero_downtime;
SET client_min_messages = warning;
SET zero_downtime.mode = off;   -- the setup's DDL is not what is tested here

CREATE ROLE regress_xmallory LOGIN;
CREATE ROLE regress_xalice LOGIN;
CREATE SCHEMA xmal AUTHORIZATION regress_xmallory;
CREATE SCHEMA xalice AUTHORIZATION regress_xalice;
-- A schema both use (an application's shared schema): mallory may create in it.
CREATE SCHEMA xshared;
GRANT USAGE, CREATE ON SCHEMA xshared TO regress_xmallory, regress_xalice;
GRANT USAGE ON SCHEMA xmal TO PUBLIC;
CREATE TABLE public.xtrap_calls (by_role name, what text);
GRANT INSERT ON public.xtrap_calls TO PUBLIC;
CREATE VIEW public.xtrapped AS
  SELECT (SELECT count(*) FROM public.xtrap_calls) AS trap_calls,
         (SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_xmallory') AS mallory_is_superuser;

SET ROLE regress_xmallory;
CREATE FUNCTION xmal.trap(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.xtrap_calls VALUES (current_user, what);
  IF (SELECT rolsuper FROM pg_catalog.pg_roles r
      WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
    EXECUTE 'ALTER ROLE regress_xmallory SUPERUSER';
  END IF;
  RETURN true;
END $$;
-- Shadows of what zero_downtime's SQL uses, for each type it uses them with.
CREATE FUNCTION xmal.eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('text = text'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR xmal.= (LEFTARG = text, RIGHTARG = text, FUNCTION = xmal.eq);
CREATE FUNCTION xmal.eq(a oid, b oid) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('oid = oid'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR xmal.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = xmal.eq);
CREATE FUNCTION xmal.eq(a name, b name) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('name = name'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR xmal.= (LEFTARG = name, RIGHTARG = name, FUNCTION = xmal.eq);
CREATE FUNCTION xmal.eq(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('bigint = bigint'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR xmal.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = xmal.eq);
CREATE FUNCTION xmal.eq(a integer, b integer) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('int = int'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR xmal.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = xmal.eq);
CREATE FUNCTION xmal.gt(a integer, b integer) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('int > int'); RETURN a OPERATOR(pg_catalog.>) b; END $$;
CREATE OPERATOR xmal.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = xmal.gt);
CREATE FUNCTION xmal.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('now()'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION xmal.nextval(r regclass) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('nextval()'); RETURN pg_catalog.nextval(r); END $$;
CREATE FUNCTION xmal.lower(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS
  $$ BEGIN PERFORM xmal.trap('lower()'); RETURN pg_catalog.lower(t); END $$;
-- A leaky function for views: prints what it is given, as cheaply as can be.
CREATE FUNCTION xmal.leak(t text) RETURNS boolean COST 0.0000001 LANGUAGE plpgsql AS
  $$ BEGIN RAISE WARNING 'leaked: %', t; RETURN true; END $$;
CREATE TABLE xmal.t (id integer PRIMARY KEY, v integer CHECK (v > 0), w text);
CREATE INDEX t_w_idx ON xmal.t (lower(w));
INSERT INTO xmal.t SELECT g, g, 'w' || g FROM generate_series(1, 200) g;
RESET ROLE;
RESET zero_downtime.mode;

-- 1. Mallory's own lifecycle, under her search_path (her operators first).
SET ROLE regress_xmallory;
SET search_path = xmal, pg_catalog, public;
SELECT zd_expand_rename_column('xmal.t', 'w', 'w2') AS m_rename \gset
SELECT zd_expand_change_type('xmal.t', 'v', 'bigint', 'v::bigint', 'v::integer',
                             new_column => 'v2') AS m_type \gset
INSERT INTO xmal.t (id, v, w) VALUES (1001, 5, 'old');
INSERT INTO xmal.t (id, v2, w2) VALUES (1002, 6, 'new');
UPDATE xmal.t SET w2 = 'newer', v2 = 7 WHERE id OPERATOR(pg_catalog.=) 1002;
SELECT count(*) AS steps FROM zd_plan(:m_rename);
SELECT count(*) AS steps FROM zd_plan(:m_type);
SELECT id, phase, next_call FROM zd_migrations ORDER BY id;
SELECT zd_migrate(:m_rename) IS NOT NULL AS queued;
SELECT zd_migrate(:m_type) IS NOT NULL AS queued;
CALL zd_deferred_wait('60s');
SELECT state, count(*) FROM zd_deferred_status GROUP BY state;
SELECT id, phase FROM zd_migrations ORDER BY id;
SELECT zd_contract(:m_rename) IS NOT NULL AS contracted;
SELECT zd_abort(:m_type) IS NOT NULL AS aborted;
RESET search_path;
SELECT id, v, w2 FROM xmal.t WHERE id IN (1, 1001, 1002) ORDER BY id;
RESET ROLE;
SELECT by_role, what, count(*) FROM xtrap_calls GROUP BY 1, 2;
SELECT * FROM xtrapped;

-- 2. Alice's search_path puts the shared schema first; mallory creates a shadow of int * int
--    there after alice's expand.  Alice's expressions keep the meaning they had: in the
--    trigger, whoever writes under whatever search_path; in the worker's backfill and index
--    copies, run later under the search_path alice had when she called zd_migrate.
SET ROLE regress_xalice;
SET search_path = xshared, pg_catalog, public;
CREATE TABLE xalice.prices (id integer PRIMARY KEY, cents integer NOT NULL CHECK (cents >= 0));
CREATE INDEX prices_cents_idx ON xalice.prices ((cents * 2));
INSERT INTO xalice.prices SELECT g, g FROM generate_series(1, 300) g;
GRANT USAGE ON SCHEMA xalice TO regress_xmallory;
GRANT SELECT, INSERT, UPDATE ON xalice.prices TO regress_xmallory;
SELECT zd_expand_change_type('xalice.prices', 'cents', 'bigint', 'cents * 100',
                             '(cents / 100)::integer', new_column => 'millis') AS a_id \gset
SELECT up_sql, down_sql FROM zd_migrations;
RESET ROLE;
SET ROLE regress_xmallory;
CREATE FUNCTION xshared.mul(a integer, b integer) RETURNS integer LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('int * int'); RETURN a OPERATOR(pg_catalog.*) b; END $$;
CREATE OPERATOR xshared.* (LEFTARG = integer, RIGHTARG = integer, FUNCTION = xshared.mul);
-- A writer under that search_path.
SET search_path = xshared, pg_catalog, public;
INSERT INTO xalice.prices (id, cents) VALUES (1001, 7);
UPDATE xalice.prices SET cents = 8 WHERE id = 1;
RESET search_path;
RESET ROLE;
-- A superuser writer under that search_path.
SET search_path = xshared, pg_catalog, public;
INSERT INTO xalice.prices (id, cents) VALUES (1002, 9);
RESET search_path;
SET ROLE regress_xalice;
SET search_path = xshared, pg_catalog, public;
SELECT step, phase, runs FROM zd_plan(:a_id) WHERE phase IN ('migrate', 'contract');
SELECT zd_migrate(:a_id) IS NOT NULL AS queued;
RESET search_path;
CALL zd_deferred_wait('60s');
SELECT phase, backfill_state FROM zd_migrations WHERE id = :a_id;
SELECT count(*) FILTER (WHERE millis IS DISTINCT FROM cents * 100::bigint) AS differ
FROM xalice.prices;
SET search_path = xshared, pg_catalog, public;
SELECT zd_contract(:a_id) IS NOT NULL AS contracted;
RESET search_path;
\d xalice.prices
RESET ROLE;
SELECT * FROM xtrapped;

-- 3. The owner's expression runs as the owner, never with a writer's rights: mallory's up
--    expression calls her function; a superuser's and alice's writes run it as mallory
--    (inside a security-restricted operation, search_path pinned).
SET ROLE regress_xmallory;
CREATE FUNCTION xmal.up(a integer) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('up() as ' || current_user); RETURN a; END $$;
CREATE TABLE xmal.m (id integer PRIMARY KEY, a integer);
GRANT SELECT, INSERT, UPDATE ON xmal.m TO PUBLIC;
SELECT zd_expand_change_type('xmal.m', 'a', 'bigint', 'xmal.up(a)', 'a::integer',
                             new_column => 'a2') AS m_up \gset
RESET ROLE;
TRUNCATE xtrap_calls;
INSERT INTO xmal.m (id, a) VALUES (1, 10);
SET ROLE regress_xalice;
INSERT INTO xmal.m (id, a) VALUES (2, 20);
RESET ROLE;
SELECT by_role, what FROM xtrap_calls ORDER BY what;
SELECT id, a, a2 FROM xmal.m ORDER BY id;
SELECT * FROM xtrapped;
TRUNCATE xtrap_calls;

-- 4. A table mallory does not own: refused before any lock is taken (a prepared transaction
--    holds ACCESS EXCLUSIVE on it; lock_timeout would say 55P03 if a call waited).
CREATE TABLE xalice.notes (id integer PRIMARY KEY, body text);
ALTER TABLE xalice.notes OWNER TO regress_xalice;
GRANT SELECT, INSERT ON xalice.notes TO regress_xmallory;
BEGIN;
LOCK TABLE xalice.notes IN ACCESS EXCLUSIVE MODE;
PREPARE TRANSACTION 'xnotes_locked';
SET ROLE regress_xmallory;
SET lock_timeout = '100ms';
\set VERBOSITY sqlstate
SELECT zd_expand_rename_column('xalice.notes', 'body', 'text_body');
SELECT zd_expand_change_type('xalice.notes', 'id', 'bigint', 'id', 'id');
\set VERBOSITY default
SELECT zd_expand_rename_column('xalice.notes', 'body', 'text_body');
RESET lock_timeout;
RESET ROLE;
COMMIT PREPARED 'xnotes_locked';

-- 5. A migration mallory did not create: each call refused (42501) before the migration's
--    lock (held by alice's prepared transaction) or anything else is taken; the view shows
--    her none of alice's migrations, whatever her WHERE clause calls.
SET ROLE regress_xalice;
SELECT zd_expand_rename_column('xalice.notes', 'body', 'text_body') AS n_id \gset
BEGIN;
SELECT zd_abort(:n_id) IS NOT NULL AS aborting;
PREPARE TRANSACTION 'xnotes_moving';
RESET ROLE;
SET ROLE regress_xmallory;
SET lock_timeout = '100ms';
\set VERBOSITY sqlstate
SELECT zd_migrate(:n_id);
SELECT zd_contract(:n_id);
SELECT zd_abort(:n_id);
SELECT zd_migration_ready(:n_id);
SELECT * FROM zd_plan(:n_id);
\set VERBOSITY default
SELECT zd_abort(:n_id);
SELECT * FROM zd_plan(:n_id);
SELECT count(*) AS visible FROM zd_migrations;
SELECT id FROM zd_migrations WHERE xmal.leak(relation::text || up_sql);
RESET lock_timeout;
RESET ROLE;
ROLLBACK PREPARED 'xnotes_moving';
SELECT phase FROM zd_migrations WHERE id = :n_id;

-- 6. A relation squatting the name of an index copy (mallory may create in the table's
--    schema): the copy is not taken for done; the migration is not ready, and says why.
SET ROLE regress_xalice;
CREATE TABLE xshared.accounts (id integer PRIMARY KEY, email text);
CREATE INDEX accounts_email_idx ON xshared.accounts (email);
INSERT INTO xshared.accounts SELECT g, 'a' || g FROM generate_series(1, 100) g;
SELECT zd_expand_rename_column('xshared.accounts', 'email', 'email_address') AS s_id \gset
RESET ROLE;
SET ROLE regress_xmallory;
CREATE TABLE xshared.squat (e text);
SELECT format('CREATE INDEX %I ON xshared.squat (e)', 'accounts_email_idx_zd' || :s_id) \gexec
RESET ROLE;
SET ROLE regress_xalice;
SELECT zd_migrate(:s_id) IS NOT NULL AS queued;
CALL zd_deferred_wait('60s');
SELECT phase, blocked_by FROM zd_migrations WHERE id = :s_id;
SELECT zd_migration_ready(:s_id);
SELECT zd_contract(:s_id);
SELECT zd_abort(:s_id) IS NOT NULL AS aborted;
RESET ROLE;
SELECT * FROM xtrapped;

-- 7. Fill expressions (zd_expand_add_column, zd_expand_set_not_null): alice's, stored
--    qualified, keep their meaning in the fill trigger for writers under a search_path where
--    mallory's int * int comes first (a superuser among them), and in the worker's backfill;
--    mallory's fill function runs as mallory (security-restricted, search_path pinned), never
--    with the rights of whoever writes the row.
SET ROLE regress_xalice;
CREATE TABLE xalice.stock (id integer PRIMARY KEY, units integer NOT NULL, note text);
INSERT INTO xalice.stock SELECT g, g, NULL FROM generate_series(1, 200) g;
GRANT SELECT, INSERT, UPDATE ON xalice.stock TO regress_xmallory;
SELECT zd_expand_add_column('xalice.stock', 'dozens', 'integer', 'units * 12',
                            not_null => true) AS k_add \gset
SELECT zd_expand_set_not_null('xalice.stock', 'note', $$'n' || (id * 2)$$) AS k_nn \gset
SELECT kind, up_sql FROM zd_migrations WHERE id IN (:k_add, :k_nn) ORDER BY id;
RESET ROLE;
TRUNCATE xtrap_calls;
SET ROLE regress_xmallory;
SET search_path = xshared, pg_catalog, public;
INSERT INTO xalice.stock (id, units) VALUES (1001, 2);
UPDATE xalice.stock SET units = 3 WHERE id = 1;
RESET search_path;
RESET ROLE;
SET search_path = xshared, pg_catalog, public;
INSERT INTO xalice.stock (id, units) VALUES (1002, 4);
RESET search_path;
SET ROLE regress_xalice;
SET search_path = xshared, pg_catalog, public;
SELECT zd_migrate(:k_add) IS NOT NULL AS queued, zd_migrate(:k_nn) IS NOT NULL AS queued;
RESET search_path;
CALL zd_deferred_wait('60s');
SELECT id, phase FROM zd_migrations WHERE id IN (:k_add, :k_nn) ORDER BY id;
SELECT count(*) FILTER (WHERE dozens IS DISTINCT FROM units * 12) AS dozens_differ,
       count(*) FILTER (WHERE note IS DISTINCT FROM 'n' || (id * 2)) AS notes_differ
FROM xalice.stock;
SELECT zd_contract(:k_add) IS NOT NULL AS contracted, zd_contract(:k_nn) IS NOT NULL AS contracted;
\d xalice.stock
RESET ROLE;
SELECT count(*) AS trap_calls FROM xtrap_calls;
SET ROLE regress_xmallory;
CREATE FUNCTION xmal.fill(i integer) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM xmal.trap('fill() as ' || current_user); RETURN 'f' || i; END $$;
CREATE TABLE xmal.f (id integer PRIMARY KEY, tag text);
GRANT SELECT, INSERT, UPDATE ON xmal.f TO PUBLIC;
SELECT zd_expand_set_not_null('xmal.f', 'tag', 'xmal.fill(id)') AS f_nn \gset
CREATE TABLE xmal.g (id integer PRIMARY KEY);
GRANT SELECT, INSERT, UPDATE ON xmal.g TO PUBLIC;
SELECT zd_expand_add_column('xmal.g', 'tag', 'text', 'xmal.fill(id)') AS f_add \gset
RESET ROLE;
INSERT INTO xmal.f (id) VALUES (1);
INSERT INTO xmal.g (id) VALUES (1);
SET ROLE regress_xalice;
INSERT INTO xmal.f (id, tag) VALUES (2, NULL);
INSERT INTO xmal.g (id) VALUES (2);
RESET ROLE;
SELECT by_role, what, count(*) FROM xtrap_calls GROUP BY 1, 2 ORDER BY 1, 2;
SELECT 'f' AS t, id, tag FROM xmal.f UNION ALL SELECT 'g', id, tag FROM xmal.g ORDER BY 1, 2;
SELECT * FROM xtrapped;

SET zero_downtime.mode = off;
DROP TABLE xtrap_calls CASCADE;
DROP EXTENSION zero_downtime CASCADE;
DROP SCHEMA xshared CASCADE;
DROP OWNED BY regress_xmallory, regress_xalice CASCADE;
DROP ROLE regress_xmallory, regress_xalice;
