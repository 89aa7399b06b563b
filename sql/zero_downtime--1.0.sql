-- zero_downtime 1.0 install script
\echo Use "CREATE EXTENSION zero_downtime" to load this file. \quit

-- How this backend loaded the library, and whether the guard is active in every session.
CREATE FUNCTION zd_status(
    OUT version text,
    OUT mode text,
    OUT loaded_by text,
    OUT active_in_all_sessions boolean,
    OUT server_version text,
    OUT server_version_num integer,
    OUT version_notes text[])
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
CREATE FUNCTION zd_rules(OUT name text, OUT summary text, OUT looks_at text[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'zd_rules'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

-- Every kind of utility statement and what the guard does with it: gathered (rules and lock
-- cap), or why it passes (the locks PostgreSQL takes for it, and where).
CREATE FUNCTION zd_statement_kinds(OUT node_tag text, OUT statement text, OUT guard text,
                                   OUT locks text, OUT changes_schema text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'zd_statement_kinds'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

-- Every ALTER TABLE subcommand: how it is written (NULL: made only inside PostgreSQL), the
-- operation it is judged as and the rules that judge it (the lock cap applies to all).
CREATE FUNCTION zd_alter_table_subcommands(OUT subtype text, OUT spelling text,
                                           OUT judged_as text, OUT rules text[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'zd_alter_table_subcommands'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

-- What the guard would do with each statement of a migration script, without running it.
-- For CI against a copy of production: the same decision code as the guard, decided as in
-- enforce mode, following what the script's earlier statements create and change.  sent_as:
-- how the tool sends it: 'statements' (one at a time, autocommit; BEGIN ... COMMIT in the script
-- count), 'transaction' (all in one transaction: Knex, Drizzle Kit, node-pg-migrate),
-- 'query_string' (one multi-statement query, an implicit transaction block: Prisma Migrate).
CREATE FUNCTION zd_check(
    sql text,
    sent_as text DEFAULT 'statements',
    OUT statement integer,
    OUT rule text,
    OUT decision text,
    OUT lock text,
    OUT message text,
    OUT detail text,
    OUT safe_sql text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'zd_check_sent_as'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
-- The first form: in_transaction => true is sent_as => 'transaction', false 'statements'.
CREATE FUNCTION zd_check(
    sql text,
    in_transaction boolean,
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
    OUT lock_retries bigint,
    OUT deferred bigint,
    OUT deferred_failed bigint)
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

-- ---------------------------------------------------------------------------------------------
-- zd_backfill: batched backfills, a commit per batch (src/pg/backfill/).

-- One row per backfill of a role: where it is, written in the same transaction as each batch,
-- so it always matches what is committed.  Names are per role (the role that ran it, its
-- current_user): a role never reads, replaces or waits for another role's backfill.  Only
-- zd_backfill writes it (as the table's owner, search_path pinned); read it through
-- zd_backfill_progress.
CREATE TABLE zd_backfill_state (
    role oid NOT NULL,
    name text NOT NULL,
    relid oid NOT NULL,
    relation text NOT NULL,            -- as it was named when the backfill started
    set_clause text NOT NULL,
    where_clause text NOT NULL,
    state text NOT NULL CHECK (state IN ('running', 'waiting for replica', 'done', 'failed')),
    pid integer,
    pass integer NOT NULL DEFAULT 0,   -- rounds so far: a pass over the table, or the blocks of the few rows still to do
    next_block bigint NOT NULL DEFAULT 0,
    end_block bigint NOT NULL DEFAULT 0,
    batch_blocks bigint NOT NULL DEFAULT 0,
    pass_rows bigint NOT NULL DEFAULT 0,  -- rows updated in the current pass
    rows_done bigint NOT NULL DEFAULT 0,
    batches bigint NOT NULL DEFAULT 0,
    retries bigint NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now(),
    run_started_at timestamptz NOT NULL DEFAULT now(),   -- this call (a resume starts anew)
    run_rows bigint NOT NULL DEFAULT 0,                  -- rows done by this call
    run_blocks bigint NOT NULL DEFAULT 0,                -- blocks scanned by this call
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    last_error text,
    PRIMARY KEY (role, name)
);
REVOKE ALL ON zd_backfill_state FROM PUBLIC;

CREATE PROCEDURE zd_backfill(
    relation regclass,
    set_clause text,
    where_clause text,
    name text DEFAULT NULL,
    batch_size integer DEFAULT 10000,
    target_batch_duration interval DEFAULT '40ms',
    pause interval DEFAULT '0',
    lock_timeout interval DEFAULT '1s',
    max_replica_lag interval DEFAULT NULL,
    max_retries integer DEFAULT 10,
    progress_interval interval DEFAULT '10s')
AS 'MODULE_PATHNAME', 'zd_backfill'
LANGUAGE C;
-- No pinned search_path: set_clause and where_clause resolve names as the caller would.

-- Every backfill the caller may see (its role's; all with pg_read_all_stats): where it is,
-- its rate over this call and the time left in the current pass at that rate.  'interrupted':
-- it was cancelled, terminated or crashed; CALL zd_backfill again with the same name to go on.
-- A security barrier: the role filter runs before any condition the caller adds, so a leaky
-- function in a WHERE never sees another role's row (its clauses may hold secrets).
CREATE VIEW zd_backfill_progress WITH (security_barrier) AS
SELECT s.name,
       s.relation,
       CASE WHEN s.state OPERATOR(pg_catalog.=) ANY ('{running,waiting for replica}'::text[])
                 AND NOT EXISTS (
                 SELECT FROM pg_catalog.pg_locks l
                 WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory'
                   AND l.pid OPERATOR(pg_catalog.=) s.pid AND l.granted
                   AND l.database OPERATOR(pg_catalog.=) (
                       SELECT d.oid FROM pg_catalog.pg_database d
                       WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                   -- the lock of a running backfill (set_name_locktag, backfill_state.cpp)
                   AND l.classid OPERATOR(pg_catalog.=) s.role
                   AND l.objsubid OPERATOR(pg_catalog.=) 31332)
            THEN 'interrupted' ELSE s.state END AS state,
       s.pass,
       s.rows_done,
       s.batches,
       s.retries,
       s.next_block,
       s.end_block,
       pg_catalog.round(100.0 OPERATOR(pg_catalog.*) s.next_block
                        OPERATOR(pg_catalog./) GREATEST(s.end_block, 1), 1)
           AS pass_percent,
       pg_catalog.round(s.run_rows OPERATOR(pg_catalog./) GREATEST(
           EXTRACT(epoch FROM s.updated_at OPERATOR(pg_catalog.-) s.run_started_at),
           0.001)) AS rows_per_second,
       CASE WHEN s.state OPERATOR(pg_catalog.=) ANY ('{running,waiting for replica}'::text[])
                 AND s.run_blocks OPERATOR(pg_catalog.>) 0 THEN
           (s.updated_at OPERATOR(pg_catalog.-) s.run_started_at) OPERATOR(pg_catalog.*)
           ((s.end_block OPERATOR(pg_catalog.-) s.next_block)::float8
            OPERATOR(pg_catalog./) s.run_blocks)
       END AS pass_time_left,
       s.set_clause,
       s.where_clause,
       pg_catalog.pg_get_userbyid(s.role) AS started_by,
       s.pid,
       s.started_at,
       s.updated_at,
       s.finished_at,
       s.last_error
FROM zd_backfill_state s
WHERE pg_catalog.pg_get_userbyid(s.role) OPERATOR(pg_catalog.=) current_user
   OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE');
GRANT SELECT ON zd_backfill_progress TO PUBLIC;

-- The same backfill in a background worker: it goes on after the client disconnects.  Takes
-- the procedure's arguments, checks them as it does (bad input is an error here), returns
-- the backfill's name.  The worker connects as the caller (a role that can log in) and runs
-- with the caller's privileges.
CREATE FUNCTION zd_backfill_start(
    relation regclass,
    set_clause text,
    where_clause text,
    name text DEFAULT NULL,
    batch_size integer DEFAULT 10000,
    target_batch_duration interval DEFAULT '40ms',
    pause interval DEFAULT '0',
    lock_timeout interval DEFAULT '1s',
    max_replica_lag interval DEFAULT NULL,
    max_retries integer DEFAULT 10,
    progress_interval interval DEFAULT '10s')
RETURNS text
AS 'MODULE_PATHNAME', 'zd_backfill_start'
LANGUAGE C VOLATILE;

-- Cancels the running backfill of that name, in a session or a background worker, as
-- pg_cancel_backend would (so only its role, a member of it, or a superuser can).  Names are
-- per role: backfill_role says whose (by default the caller's own).  Its progress is kept:
-- call zd_backfill or zd_backfill_start with the same name to go on.
CREATE FUNCTION zd_backfill_cancel(backfill_name text, backfill_role name DEFAULT current_user)
RETURNS boolean
LANGUAGE sql STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT pg_catalog.pg_cancel_backend(p.pid)
                     FROM @extschema@.zd_backfill_progress p
                     WHERE p.name OPERATOR(pg_catalog.=) backfill_name
                       AND p.started_by OPERATOR(pg_catalog.=) backfill_role
                       AND p.state OPERATOR(pg_catalog.=)
                           ANY ('{running,waiting for replica}'::text[])), false)
$$;

-- Deferred safe forms (zero_downtime.defer_in_transaction): what a migration's transaction left
-- to run after its commit.  Rows are written in that transaction, so they exist exactly when it
-- committed; a background worker of this database runs them in order (src/pg/deferral*.cpp).
-- Written only by zero_downtime itself (as the extension's owner): no privilege for anyone.
CREATE TABLE zd_deferred (
    id bigserial PRIMARY KEY,
    batch bigint NOT NULL,             -- the id of the first row the same statement recorded
    role oid NOT NULL,                 -- runs as this role, with the schemas below
    search_path text NOT NULL,         -- the recording session's, resolved (quoted, commas)
    settings text[] NOT NULL,          -- its zero_downtime.* and maintenance_work_mem, name=value
    queued_at timestamptz NOT NULL DEFAULT now(),   -- the migration transaction's start
    queued_xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    application_name text,
    rule text NOT NULL,
    relation text,
    statement text NOT NULL,           -- what the migration sent
    run_sql text NOT NULL,             -- what the worker runs, in autocommit, through the guard
    undo_sql text NOT NULL DEFAULT '', -- run if it fails for good (reverts what ran in the migration)
    drop_invalid_index text NOT NULL DEFAULT '',  -- before run_sql, this index (qualified), if
                                       -- INVALID (an interrupted build's), is dropped CONCURRENTLY
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'running', 'done', 'failed', 'skipped')),
    attempts integer NOT NULL DEFAULT 0,
    pid integer,                       -- the worker's backend running it (its progress)
    started_at timestamptz,
    finished_at timestamptz,
    error text,
    reported_at timestamptz            -- failed: when a zd_deferred_wait() raised it
);
REVOKE ALL ON zd_deferred FROM PUBLIC;
REVOKE ALL ON SEQUENCE zd_deferred_id_seq FROM PUBLIC;

-- Every deferred item the caller may see (its role's; all with pg_read_all_stats).  progress,
-- while it runs: an index build's phase and share of blocks (pg_stat_progress_create_index, which
-- shows the worker's numbers to its own role and pg_read_all_stats), or a backfill's rows and
-- share of its pass (zd_backfill_progress); NULL for a step PostgreSQL reports no progress of
-- (VALIDATE, SET NOT NULL).
CREATE VIEW zd_deferred_status WITH (security_barrier) AS
SELECT d.id, d.batch, d.state, d.rule, d.relation, d.run_sql, d.statement,
       pg_catalog.pg_get_userbyid(d.role) AS queued_by, d.application_name, d.queued_at,
       d.queued_xid, d.attempts, d.started_at, d.finished_at, d.error, d.reported_at,
       CASE WHEN d.state OPERATOR(pg_catalog.=) 'running' THEN COALESCE(
           (SELECT p.phase OPERATOR(pg_catalog.||) COALESCE(', ' OPERATOR(pg_catalog.||)
                   pg_catalog.round(100.0 OPERATOR(pg_catalog.*) p.blocks_done
                       OPERATOR(pg_catalog./) NULLIF(p.blocks_total, 0), 1)::text
                   OPERATOR(pg_catalog.||) '% of blocks', '')
            FROM pg_catalog.pg_stat_progress_create_index p
            WHERE p.pid OPERATOR(pg_catalog.=) d.pid),
           (SELECT b.rows_done::text OPERATOR(pg_catalog.||) ' rows, pass '
                   OPERATOR(pg_catalog.||) b.pass::text OPERATOR(pg_catalog.||) ' at '
                   OPERATOR(pg_catalog.||) b.pass_percent::text OPERATOR(pg_catalog.||) '%'
            FROM @extschema@.zd_backfill_progress b
            WHERE b.pid OPERATOR(pg_catalog.=) d.pid
              AND b.state OPERATOR(pg_catalog.=) 'running'
            LIMIT 1))
       END AS progress
FROM zd_deferred d
WHERE pg_catalog.pg_get_userbyid(d.role) OPERATOR(pg_catalog.=) current_user
   OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE');
GRANT SELECT ON zd_deferred_status TO PUBLIC;

-- Waits until no deferred item of this database is pending or running; after `timeout`, an
-- error (57014) saying how many are left.  Then an item that failed and that no earlier call
-- reported (of the caller's role; any, with pg_read_all_stats) is an error (ZD005) naming it,
-- its statement and its error.  For deploy scripts and tests ("the migration's safe forms are
-- done").  A procedure, CALLed outside a transaction block: it holds no snapshot
-- while it waits (CREATE INDEX CONCURRENTLY waits for every older snapshot to go).
CREATE PROCEDURE zd_deferred_wait(timeout interval DEFAULT '10min')
AS 'MODULE_PATHNAME', 'zd_deferred_wait'
LANGUAGE C;

-- ---------------------------------------------------------------------------------------------
-- Expand/contract migrations (src/pg/expand/): rename a column or change its type on a live
-- table while old and new application code both run; make a column NOT NULL, add a column
-- filled from an expression.  One row per migration; written only by
-- the zd_* functions below (as this table's owner, search_path pinned), in the transaction of
-- the call, so a migration's DDL and its state commit together.  Kept by pg_dump.
CREATE TABLE zd_migration (
    id bigserial PRIMARY KEY,
    relation regclass NOT NULL,
    kind text NOT NULL
        CHECK (kind IN ('rename column', 'change type', 'set not null', 'add column')),
    old_column name NOT NULL,          -- what old code uses; dropped at contract (set not
                                       -- null, add column: the one column, dropped never)
    new_column name NOT NULL,          -- what new code uses (a change of type: renamed to
                                       -- old_column at contract)
    new_type text NOT NULL,            -- the new column's type, as format_type prints it
    up_sql text NOT NULL,              -- the new value from the row (names outside pg_catalog
    down_sql text NOT NULL,            -- qualified); the old value from the row (set not
                                       -- null, add column: up_sql fills, '' none; no down)
    not_null boolean NOT NULL DEFAULT false, -- set not null; add column with not_null
    version text,                      -- the application version that uses the new column
    phase text NOT NULL DEFAULT 'expanded'
        CHECK (phase IN ('expanded', 'migrating', 'ready', 'complete', 'aborted')),
    started_by oid NOT NULL,
    trigger_name name NOT NULL,
    backfill_name text NOT NULL,       -- its zd_backfill (zd_backfill_progress), per role
    created_at timestamptz NOT NULL DEFAULT now(),
    migrate_at timestamptz,
    ready_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON zd_migration FROM PUBLIC;
REVOKE ALL ON SEQUENCE zd_migration_id_seq FROM PUBLIC;

-- What an active migration owns on its table: its columns, its trigger, the copies of indexes
-- and constraints it made (source: the original's name).  The primary key makes two active
-- migrations owning one column impossible; the rows go when the migration completes or aborts.
CREATE TABLE zd_migration_object (
    relation regclass NOT NULL,
    kind text NOT NULL CHECK (kind IN ('column', 'trigger', 'index', 'constraint')),
    name name NOT NULL,
    migration bigint NOT NULL REFERENCES zd_migration ON DELETE CASCADE,
    source name,
    PRIMARY KEY (relation, kind, name)
);
REVOKE ALL ON zd_migration_object FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('zd_migration', '');
SELECT pg_catalog.pg_extension_config_dump('zd_migration_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('zd_migration_object', '');

-- The sync trigger: keeps old_column and new_column equal on every write (C, no SPI per row).
-- Its arguments carry the whole migration spec, so a restored dump has a working trigger.
CREATE FUNCTION zd_sync_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'zd_sync_trigger'
LANGUAGE C;

-- The fill trigger of a set-not-null or add-column migration: computes its column from the
-- migration's expression when a write leaves it NULL / does not give it a value (C, no SPI per
-- row).
CREATE FUNCTION zd_fill_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'zd_fill_trigger'
LANGUAGE C;

-- Expand: in the caller's transaction (its DDL and its state row commit together).  Adds the
-- new column, copies CHECK constraints NOT VALID, creates the sync trigger.  Returns the id.
-- No pinned search_path: the type and expressions resolve as the caller wrote them (and are
-- stored with every name qualified).
CREATE FUNCTION zd_expand_rename_column(relation regclass, column_name name, new_name name,
                                        version text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'zd_expand_rename_column'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- up_expr computes the new value from the row (column_name: the old value); down_expr the old
-- value from the row (column_name: the new value).  new_column: the new column's name until
-- contract (default: column_name || '_zd_new'); at contract it takes column_name.
CREATE FUNCTION zd_expand_change_type(relation regclass, column_name name, new_type text,
                                      up_expr text, down_expr text, version text DEFAULT NULL,
                                      new_column name DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'zd_expand_change_type'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- Make column_name NOT NULL on a live table: CHECK (column_name IS NOT NULL) NOT VALID now (new
-- writes must satisfy it), and with fill_expr (an expression over the row) a trigger that
-- fills a NULL a write leaves; migrate fills the rows holding NULL with fill_expr and
-- validates the CHECK; contract sets NOT NULL (the validated CHECK proves it: no scan).
CREATE FUNCTION zd_expand_set_not_null(relation regclass, column_name name,
                                       fill_expr text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'zd_expand_set_not_null'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- Add column_name of type_name filled from fill_expr (an expression over the row): the column
-- (nullable, no default: no rewrite) and a trigger computing it for every write that does not
-- give it a value (old code); migrate fills the existing rows; contract drops the trigger and,
-- with not_null, sets NOT NULL as zd_expand_set_not_null.  Abort drops the column.
CREATE FUNCTION zd_expand_add_column(relation regclass, column_name name, type_name text,
                                     fill_expr text, not_null boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'zd_expand_add_column'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- Migrate: queues the backfill, the CONCURRENTLY index copies and the VALIDATEs to run after
-- the caller's transaction commits (zd_deferred_status shows them; CALL zd_deferred_wait()
-- waits); nothing runs if it aborts.  Called again, resumes work that failed.
CREATE FUNCTION zd_migrate(migration bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'zd_migrate'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- The last step zd_migrate queues: the migration is ready to contract.
CREATE FUNCTION zd_migration_ready(migration bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'zd_migration_ready'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- Contract: in the caller's transaction: drops the trigger and the old column, gives the new
-- column its NOT NULL and default (a change of type: the old name, and its indexes theirs).
-- Refused while a query used the old column within zero_downtime.contract_quiet_period (or
-- the server has not watched it that long), naming the application_names; force => true, for
-- a role that may SET that setting, skips the check.
CREATE FUNCTION zd_contract(migration bigint, force boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'zd_contract'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- Abort: in the caller's transaction: drops the trigger and the new column (every write made
-- through it was mirrored into the old one).
CREATE FUNCTION zd_abort(migration bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'zd_abort'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- Every step of a migration from its expand to its contract (or abort): the SQL, the lock it
-- takes on the table, what that lock blocks, and whether it is done.  Runs nothing.
CREATE FUNCTION zd_plan(migration bigint,
    OUT step integer, OUT phase text, OUT call text, OUT runs text, OUT lock text,
    OUT blocks text, OUT done boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'zd_plan'
LANGUAGE C STRICT VOLATILE;

-- The evidence for contract: since when the old column is watched (the expand's commit, or
-- the server's start), when a query last read or wrote it and by which application_names
-- (most recent first).  Nulls for a role that neither owns the table nor has
-- pg_read_all_stats.
CREATE FUNCTION zd_migration_usage(migration bigint, relation regclass, old_column name,
    OUT watched_since timestamptz, OUT old_last_used timestamptz, OUT old_used_by text[])
RETURNS record
AS 'MODULE_PATHNAME', 'zd_migration_usage'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

-- The record of use of tables and columns of no migration, for drop-table and drop-column: a
-- DROP of what no application used for zero_downtime.contract_quiet_period (and was recorded
-- that long) runs.  zd_track starts recording a table (column_name NULL) or a column (a
-- refused DROP does too) and returns since when; zd_untrack stops it; zd_usage shows it (for
-- the table's owner and pg_read_all_stats).  Shared memory only: a restart forgets it.
CREATE FUNCTION zd_track(relation regclass, column_name name DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'zd_track'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION zd_untrack(relation regclass, column_name name DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'zd_untrack'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION zd_usage(relation regclass, column_name name DEFAULT NULL,
    OUT tracked_since timestamptz, OUT since_creation boolean, OUT last_used timestamptz,
    OUT used_by text[])
RETURNS record
AS 'MODULE_PATHNAME', 'zd_usage'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

-- What comes next for a migration in a phase: the SQL call, and what it waits for.
CREATE FUNCTION zd_migration_next(migration bigint, phase text, kind text,
                                  OUT call text, OUT note text)
RETURNS record
AS 'MODULE_PATHNAME', 'zd_migration_next'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

-- Every migration the caller may see (its role's, or every one with pg_read_all_stats): its
-- phase, its backfill's progress, what comes next and what blocks it.
CREATE VIEW zd_migrations WITH (security_barrier) AS
SELECT m.id,
       m.relation,
       m.kind,
       m.old_column,
       m.new_column,
       m.new_type,
       m.up_sql,
       m.down_sql,
       m.version,
       m.phase,
       b.state AS backfill_state,
       b.rows_done AS backfill_rows,
       b.pass_percent AS backfill_percent,
       b.pass_time_left AS backfill_time_left,
       n.call AS next_call,
       CASE
           WHEN m.phase OPERATOR(pg_catalog.=) 'migrating' THEN
               coalesce((SELECT pg_catalog.format('%s step failed: %s', d.state, d.error)
                         FROM @extschema@.zd_deferred d
                         WHERE d.statement OPERATOR(pg_catalog.=)
                               pg_catalog.format('SELECT zd_migrate(%s)', m.id)
                           AND d.state OPERATOR(pg_catalog.=) ANY ('{failed,skipped}'::text[])
                           AND NOT EXISTS (
                               SELECT FROM @extschema@.zd_deferred l
                               WHERE l.statement OPERATOR(pg_catalog.=) d.statement
                                 AND l.id OPERATOR(pg_catalog.>) d.id
                                 AND l.state OPERATOR(pg_catalog.=)
                                     ANY ('{pending,running,done}'::text[]))
                         ORDER BY d.id LIMIT 1),
                        (SELECT pg_catalog.format('waits for: %s', d.run_sql)
                         FROM @extschema@.zd_deferred d
                         WHERE d.statement OPERATOR(pg_catalog.=)
                               pg_catalog.format('SELECT zd_migrate(%s)', m.id)
                           AND d.state OPERATOR(pg_catalog.=) ANY ('{pending,running}'::text[])
                         ORDER BY d.id LIMIT 1))
           ELSE n.note
       END AS blocked_by,
       u.watched_since,
       u.old_last_used,
       u.old_used_by,
       pg_catalog.pg_get_userbyid(m.started_by) AS started_by,
       m.created_at,
       m.migrate_at,
       m.ready_at,
       m.finished_at,
       m.not_null
FROM @extschema@.zd_migration m
CROSS JOIN LATERAL @extschema@.zd_migration_next(m.id, m.phase, m.kind) n
LEFT JOIN LATERAL @extschema@.zd_migration_usage(m.id, m.relation, m.old_column) u
       ON m.phase OPERATOR(pg_catalog.=) ANY ('{expanded,migrating,ready}'::text[])
      AND m.kind OPERATOR(pg_catalog.=) ANY ('{rename column,change type}'::text[])
LEFT JOIN @extschema@.zd_backfill_progress b
       ON b.name OPERATOR(pg_catalog.=) m.backfill_name
      AND b.started_by OPERATOR(pg_catalog.=) pg_catalog.pg_get_userbyid(m.started_by)
WHERE pg_catalog.pg_get_userbyid(m.started_by) OPERATOR(pg_catalog.=) current_user
   OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE');
GRANT SELECT ON zd_migrations TO PUBLIC;

-- The DDL journal: every statement that changes the schema, refused ones included, with who
-- ran it, the guard's decision, its locks and whether it committed (README: *Schema drift*).
-- Superusers and pg_read_all_stats only (also checked inside: it shows every database's).
CREATE FUNCTION zd_journal(
    OUT at timestamptz,
    OUT database text,
    OUT role text,
    OUT session_role text,
    OUT application_name text,
    OUT client_addr text,
    OUT tool text,
    OUT command text,
    OUT object text,
    OUT statement text,
    OUT policy text,
    OUT decision text,
    OUT rule text,
    OUT by_schema_role boolean,
    OUT locks text,
    OUT lock_wait_ms double precision,
    OUT lock_hold_ms double precision,
    OUT outcome text,
    OUT ended_at timestamptz,
    OUT pid integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'zd_journal'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION zd_journal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION zd_journal() TO pg_read_all_stats;

-- The drift report: this database's schema changes by roles outside
-- zero_downtime.schema_roles, refused attempts included, since `since`, or by default since the
-- last change a schema role committed; per object, oldest first.  What to check before the
-- next migration.
CREATE FUNCTION zd_schema_drift(since timestamptz DEFAULT NULL)
RETURNS TABLE (object text, at timestamptz, role text, session_role text,
               application_name text, client_addr text, command text, statement text,
               policy text, decision text, outcome text, lock_wait_ms double precision,
               lock_hold_ms double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH journal AS (
        SELECT * FROM @extschema@.zd_journal() j
         WHERE j.database OPERATOR(pg_catalog.=) pg_catalog.current_database()::pg_catalog.text
    ), last_migration AS (
        SELECT pg_catalog.max(j.at) AS at FROM journal j
         WHERE j.by_schema_role AND j.outcome OPERATOR(pg_catalog.=) 'committed'
    )
    SELECT j.object, j.at, j.role, j.session_role, j.application_name, j.client_addr, j.command,
           j.statement, j.policy, j.decision, j.outcome, j.lock_wait_ms, j.lock_hold_ms
      FROM journal j
     WHERE NOT j.by_schema_role
       AND j.at OPERATOR(pg_catalog.>) COALESCE($1, (SELECT l.at FROM last_migration l),
                                                '-infinity'::pg_catalog.timestamptz)
     ORDER BY j.object NULLS LAST, j.at
$$;
REVOKE ALL ON FUNCTION zd_schema_drift(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION zd_schema_drift(timestamptz) TO pg_read_all_stats;
