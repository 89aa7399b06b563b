-- zero_downtime 1.0 install script
\echo Use "CREATE EXTENSION zero_downtime" to load this file. \quit

-- How this backend loaded the library, and whether the guard is active in every session.
CREATE FUNCTION zd_status(
    OUT version text,
    OUT mode text,
    OUT loaded_by text,
    OUT active_in_all_sessions boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'zd_status'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

DO $$
DECLARE
    s record;
BEGIN
    SELECT * INTO s FROM @extschema@.zd_status();
    IF NOT s.active_in_all_sessions THEN
        RAISE WARNING 'zero_downtime: the guard is active in this session only'
            USING DETAIL = format('The library was loaded by %s, not by shared_preload_libraries: '
                                  'DDL from other sessions is not guarded.', s.loaded_by),
                  HINT = 'Add zero_downtime to shared_preload_libraries in postgresql.conf and '
                         'restart the server: ALTER SYSTEM SET shared_preload_libraries = '
                         '''zero_downtime'' (append to any existing list).';
    END IF;
END
$$;

-- The guard's rules: the names zero_downtime.allow takes, and what each one catches.
CREATE FUNCTION zd_rules(OUT name text, OUT summary text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'zd_rules'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

-- What the guard would do with each statement of a migration script, without running it.
-- For CI against a copy of production: the same decision code as the guard, decided as in
-- enforce mode.  in_transaction: the tool runs the whole script in one transaction (Knex,
-- Drizzle Kit, Prisma Migrate's default).
CREATE FUNCTION zd_check(
    sql text,
    in_transaction boolean DEFAULT false,
    OUT statement integer,
    OUT rule text,
    OUT decision text,
    OUT lock text,
    OUT message text,
    OUT detail text,
    OUT safe_sql text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'zd_check'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
-- No pinned search_path: the script's names resolve as they would when the migration runs.

-- Per-rule counters since the server started (or the last reset); needs shared_preload_libraries.
CREATE FUNCTION zd_rule_stats(
    OUT rule text,
    OUT rewritten bigint,
    OUT refused bigint,
    OUT warned bigint,
    OUT lock_retries bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'zd_rule_stats'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE VIEW zd_rule_stats AS SELECT * FROM zd_rule_stats();
GRANT SELECT ON zd_rule_stats TO PUBLIC;

CREATE FUNCTION zd_rule_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'zd_rule_stats_reset'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION zd_rule_stats_reset() FROM PUBLIC;
