-- A hostile ordinary role against every SQL-callable part of zero_downtime (README "Security").
-- regress_mallory (LOGIN, no superuser, no SET privilege on zero_downtime.*) owns a schema whose
-- operators and functions shadow pg_catalog's; each one springs a trap that records who ran it
-- and, run by a superuser, would make regress_mallory a superuser.  Every test below ends with
-- the same two facts: no trap ran, and regress_mallory is no superuser.
CREATE EXTENSION zero_downtime;
-- zd_backfill's NOTICEs carry rates and timings: the tests read the state instead.
SET client_min_messages = warning;
SET zero_downtime.mode = off;   -- the setup's DDL is not what is tested here

CREATE ROLE regress_mallory LOGIN;
CREATE ROLE regress_alice LOGIN;
CREATE SCHEMA mal AUTHORIZATION regress_mallory;
CREATE SCHEMA alice AUTHORIZATION regress_alice;
CREATE TABLE public.trap_calls (by_role name, what text);
GRANT INSERT ON public.trap_calls TO PUBLIC;
CREATE VIEW public.trapped AS
  SELECT (SELECT count(*) FROM public.trap_calls) AS trap_calls,
         (SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_mallory') AS mallory_is_superuser;

SET ROLE regress_mallory;
CREATE FUNCTION mal.trap(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.trap_calls VALUES (current_user, what);
  IF (SELECT rolsuper FROM pg_catalog.pg_roles r
      WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
    EXECUTE 'ALTER ROLE regress_mallory SUPERUSER';
  END IF;
  RETURN true;
END $$;
-- Shadows of the operators and functions zero_downtime's own SQL uses, for each type it uses
-- them with.
CREATE FUNCTION mal.eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mal.trap('text = text'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR mal.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mal.eq);
CREATE FUNCTION mal.eq(a oid, b oid) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mal.trap('oid = oid'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR mal.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = mal.eq);
CREATE FUNCTION mal.eq(a name, b name) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mal.trap('name = name'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR mal.= (LEFTARG = name, RIGHTARG = name, FUNCTION = mal.eq);
CREATE FUNCTION mal.eq(a integer, b integer) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mal.trap('int = int'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR mal.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = mal.eq);
CREATE FUNCTION mal.lt(a pg_lsn, b pg_lsn) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mal.trap('lsn < lsn'); RETURN a OPERATOR(pg_catalog.<) b; END $$;
CREATE OPERATOR mal.< (LEFTARG = pg_lsn, RIGHTARG = pg_lsn, FUNCTION = mal.lt);
CREATE FUNCTION mal.mul(a numeric, b integer) RETURNS numeric LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mal.trap('numeric * int'); RETURN a OPERATOR(pg_catalog.*) b; END $$;
CREATE OPERATOR mal.* (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = mal.mul);
CREATE FUNCTION mal.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mal.trap('clock_timestamp()'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION mal.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mal.trap('now()'); RETURN pg_catalog.now(); END $$;
-- An IMMUTABLE function: folding an expression calls it (a CHECK constraint, a cast).
CREATE FUNCTION mal.pure(i integer) RETURNS boolean IMMUTABLE LANGUAGE plpgsql AS
  $$ BEGIN RETURN mal.trap('pure()'); END $$;
-- A leaky function for views: prints what it is given, as cheaply as can be.
CREATE FUNCTION mal.leak(t text) RETURNS boolean COST 0.0000001 LANGUAGE plpgsql AS
  $$ BEGIN RAISE WARNING 'leaked: %', t; RETURN true; END $$;
CREATE TABLE mal.t (id integer, b integer);
INSERT INTO mal.t SELECT g, NULL FROM generate_series(1, 1000) g;
RESET ROLE;

-- 1. zd_backfill writes its state as the state table's owner (a superuser): under the
--    caller's search_path, that was the caller's operators running as a superuser.
SET ROLE regress_mallory;
SET search_path = mal, pg_catalog;
CALL public.zd_backfill('mal.t', 'b = 1', 'b IS NULL', name => 'shared-name');
UPDATE mal.t SET b = NULL;
CALL public.zd_backfill('mal.t', 'b = 1', 'b IS NULL', name => 'shared-name',
                        max_replica_lag => '1s');   -- the standby query runs as the owner too
SELECT name, state, rows_done, started_by FROM public.zd_backfill_progress ORDER BY name;
SELECT count(*) AS rows_done FROM mal.t WHERE b IS NOT NULL;
-- The other functions, under the same search_path: none runs SQL, each pins its own.
SELECT mode FROM public.zd_status();
SELECT count(*) > 0 AS rules FROM public.zd_rules();
SELECT count(*) > 0 AS counters FROM public.zd_rule_stats;
SELECT public.zd_rule_stats_reset();   -- superusers only
SELECT count(*) AS findings FROM public.zd_check('ALTER TABLE mal.t ALTER COLUMN b SET NOT NULL');
SELECT public.zd_backfill_cancel('shared-name');
RESET search_path;
RESET ROLE;
SELECT * FROM trapped;

-- 2. zd_check, run by a superuser on a hostile owner's tables, runs none of the owner's code:
--    a NOT NULL proof from a CHECK that calls an IMMUTABLE function, a type change through the
--    owner's cast, a partition whose CHECK calls it.  Each is judged without the proof.
SET ROLE regress_mallory;
CREATE TABLE mal.c (id integer, b integer,
                    CHECK (CASE WHEN mal.pure(1) THEN b IS NOT NULL ELSE false END));
CREATE TYPE mal.color AS ENUM ('red');
CREATE FUNCTION mal.to_color(i integer) RETURNS mal.color IMMUTABLE LANGUAGE sql AS
  $$ SELECT CASE WHEN mal.pure(1) THEN 'red'::mal.color END $$;
CREATE CAST (integer AS mal.color) WITH FUNCTION mal.to_color(integer) AS ASSIGNMENT;
CREATE TABLE mal.parent (id integer) PARTITION BY RANGE (id);
CREATE TABLE mal.part (id integer,
                       CHECK (CASE WHEN mal.pure(1) THEN id >= 1 AND id < 100 ELSE false END));
INSERT INTO mal.c SELECT g, g FROM generate_series(1, 10) g;
INSERT INTO mal.part SELECT g FROM generate_series(1, 10) g;
RESET ROLE;
TRUNCATE trap_calls;   -- (creating them ran nothing of ours; start counting here)
SET zero_downtime.small_table_size = 0;
SELECT statement, rule, decision FROM zd_check($$
  ALTER TABLE mal.c ALTER COLUMN b SET NOT NULL;
  ALTER TABLE mal.c ALTER COLUMN b TYPE mal.color;
  ALTER TABLE mal.parent ATTACH PARTITION mal.part FOR VALUES FROM (1) TO (100);
$$);
RESET zero_downtime.small_table_size;
SELECT * FROM trapped;

-- 3. The progress view is a security barrier: a leaky function in a WHERE sees only the
--    caller's own rows, never another role's clauses.
SET ROLE regress_alice;
CREATE TABLE alice.t (id integer, note text);
INSERT INTO alice.t SELECT g, NULL FROM generate_series(1, 100) g;
CALL zd_backfill('alice.t', 'note = ''s3cret''', 'note IS NULL', name => 'shared-name');
SET ROLE regress_mallory;
SELECT name FROM zd_backfill_progress WHERE mal.leak(set_clause);
-- 4. Names are per role: mallory's 'shared-name' neither replaced alice's nor can touch it.
UPDATE mal.t SET b = NULL;
CALL zd_backfill('mal.t', 'b = 2', 'b IS NULL', name => 'shared-name');
SELECT zd_backfill_cancel('shared-name', 'regress_alice') AS cancelled_alices;
RESET ROLE;
SELECT pg_get_userbyid(role) AS role, name, set_clause, state, rows_done
  FROM zd_backfill_state ORDER BY 1, 2;
SELECT * FROM trapped;

-- 5. zd_backfill_start: the worker resolves the clauses as the caller's check did, whatever
--    the role's own search_path; a role that cannot log in, or whose worker cannot connect, is
--    told at once.
ALTER ROLE regress_mallory SET search_path = mal, pg_catalog;
CREATE SCHEMA regress_a;
CREATE FUNCTION regress_a.fill() RETURNS integer LANGUAGE sql AS 'SELECT 7';
GRANT USAGE ON SCHEMA regress_a TO regress_mallory;
SET ROLE regress_mallory;
CREATE FUNCTION mal.fill() RETURNS integer LANGUAGE sql AS 'SELECT 666';
UPDATE mal.t SET b = NULL;
SET search_path = regress_a, pg_catalog;
SELECT public.zd_backfill_start('mal.t', 'b = fill()', 'b IS NULL', name => 'in-the-background');
DO $$
BEGIN
  FOR i IN 1 .. 600 LOOP
    PERFORM FROM public.zd_backfill_progress p
      WHERE p.name OPERATOR(pg_catalog.=) 'in-the-background'
        AND p.state OPERATOR(pg_catalog.=) ANY ('{done,failed,interrupted}');
    EXIT WHEN FOUND;
    PERFORM pg_catalog.pg_sleep(0.1);
  END LOOP;
END $$;
RESET search_path;
SELECT state, rows_done, last_error FROM zd_backfill_progress
  WHERE name OPERATOR(pg_catalog.=) 'in-the-background';
SELECT b AS filled_with, count(*) FROM mal.t GROUP BY b;
RESET ROLE;
ALTER ROLE regress_mallory RESET search_path;
CREATE ROLE regress_nologin NOLOGIN;
GRANT USAGE ON SCHEMA mal TO regress_nologin;
GRANT SELECT, UPDATE ON mal.t TO regress_nologin;
SET ROLE regress_nologin;
SELECT zd_backfill_start('mal.t', 'b = 3', 'b IS NULL', name => 'no-login');
RESET ROLE;
-- A worker that cannot connect (here: no CONNECT privilege on the database) is the caller's
-- error too, not only a line in the server log.
CREATE ROLE regress_limited LOGIN;
GRANT USAGE ON SCHEMA mal TO regress_limited;
GRANT SELECT, UPDATE ON mal.t TO regress_limited;
REVOKE CONNECT ON DATABASE contrib_regression FROM PUBLIC;
SET ROLE regress_limited;
SELECT zd_backfill_start('mal.t', 'b = 3', 'b IS NULL', name => 'no-connection');
RESET ROLE;
GRANT CONNECT ON DATABASE contrib_regression TO PUBLIC;
SELECT * FROM trapped;

-- 6. Facts gathered in a subtransaction stay readable after it: two volatile defaults in one
--    ALTER TABLE (each quoted back in the hint), and an attach whose partition check is
--    computed (the rewrite runs SQL built from it).
CREATE TABLE big (id integer);
INSERT INTO big SELECT g FROM generate_series(1, 100) g;
SET zero_downtime.mode = enforce;
SET zero_downtime.small_table_size = 0;
ALTER TABLE big ADD COLUMN a timestamptz DEFAULT clock_timestamp(),
                ADD COLUMN b text DEFAULT md5(random()::text);
SET client_min_messages = notice;
CREATE TABLE measurements (id integer, at date) PARTITION BY RANGE (at);
CREATE TABLE measurements_2026 (id integer, at date);
INSERT INTO measurements_2026 SELECT g, date '2026-01-01' + g % 300 FROM generate_series(1, 100) g;
ALTER TABLE measurements ATTACH PARTITION measurements_2026
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SET client_min_messages = warning;
SELECT count(*) AS attached_rows FROM measurements;

-- 7. The lock cap's fast path locks only what the caller owns (PostgreSQL's own rule: the
--    ownership check comes before the lock; guard.cpp, sole_locked_table).  A role that does
--    not own the table gets PostgreSQL's error.
SET ROLE regress_mallory;
ALTER TABLE big ALTER COLUMN id SET DEFAULT 0;
RESET ROLE;

-- 8. Column privileges: enough for the plain UPDATE is enough for zd_backfill, with SELECT on
--    the system columns ctid and xmin it addresses rows by; without those, the error says so.
CREATE TABLE cols (id integer, a integer, b integer);
INSERT INTO cols SELECT g, g, NULL FROM generate_series(1, 100) g;
GRANT SELECT (a, b), UPDATE (b) ON cols TO regress_alice;
SET ROLE regress_alice;
CALL zd_backfill('cols', 'b = a * 2', 'b IS NULL');
RESET ROLE;
GRANT SELECT (ctid, xmin) ON cols TO regress_alice;
SET ROLE regress_alice;
CALL zd_backfill('cols', 'b = a * 2', 'b IS NULL');
RESET ROLE;
SELECT count(*) FILTER (WHERE b = a * 2) AS right_rows FROM cols;
SELECT * FROM trapped;

SET zero_downtime.mode = off;
DROP TABLE big, measurements, cols, trap_calls CASCADE;
DROP SCHEMA regress_a CASCADE;
DROP EXTENSION zero_downtime;
DROP OWNED BY regress_mallory, regress_alice, regress_nologin, regress_limited CASCADE;
DROP ROLE regress_mallory, regress_alice, regress_nologin, regress_limited;
