-- repack (PostgreSQL 19): REPACK without CONCURRENTLY rewrites the table under ACCESS
-- EXCLUSIVE, as VACUUM FULL and CLUSTER do; REPACK (CONCURRENTLY) rebuilds it online and
-- passes.  VACUUM FULL and CLUSTER on 19: guard_table_rewrite.  Before 19 there is no REPACK:
-- this file ends here (expected/guard_repack.out; 19: guard_repack_1.out).
SELECT current_setting('server_version_num')::int < 190000 AS before_19 \gset
\if :before_19
\quit
\endif
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE events (id int PRIMARY KEY, payload text);
INSERT INTO events SELECT g, 'p' || g FROM generate_series(1, 100) g;

REPACK events;
REPACK events USING INDEX events_pkey;
REPACK (VERBOSE false) events;
-- Every table of the database.
REPACK;
-- The online form passes, and works as offered.
REPACK (CONCURRENTLY) events;
REPACK (CONCURRENTLY) events USING INDEX events_pkey;
SELECT count(*) AS rows_kept FROM events;
-- In a transaction block PostgreSQL refuses it itself; the guard adds nothing.
BEGIN;
REPACK (CONCURRENTLY) events;
ROLLBACK;

-- Without an identity index REPACK (CONCURRENTLY) cannot run: the hint says what it needs.
CREATE TABLE notes (body text);
INSERT INTO notes SELECT 'n' || g FROM generate_series(1, 100) g;
REPACK notes;
-- PostgreSQL's own refusal of the online form there.
REPACK (CONCURRENTLY) notes;

-- A partitioned table: one partition at a time.
CREATE TABLE readings (at date, v int, PRIMARY KEY (at)) PARTITION BY RANGE (at);
CREATE TABLE readings_2026 PARTITION OF readings
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO readings VALUES ('2026-03-01', 1);
REPACK readings;
REPACK (CONCURRENTLY) readings_2026;

-- The maintenance-window allowance the refusal prints works as printed.
/* zero_downtime: allow repack */ REPACK events;
SET zero_downtime.allow = 'repack';
REPACK events;
RESET zero_downtime.allow;

-- A new table of this transaction, or a small one, is nobody else's yet: passes.
BEGIN;
CREATE TABLE fresh (id int PRIMARY KEY);
REPACK fresh;
ROLLBACK;
RESET zero_downtime.small_table_size;
REPACK events;

SET zero_downtime.mode = off;
DROP TABLE events, notes, readings;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
