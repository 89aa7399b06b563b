-- create-index, drop-index, reindex, refresh-materialized-view: rewritten into their
-- CONCURRENTLY form in autocommit, refused inside a transaction block; the safe forms run
-- untouched (no NOTICE).
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;  -- every table counts as large here
CREATE TABLE orders (id int, customer int, note text);
INSERT INTO orders SELECT g, g % 10, 'n' || g FROM generate_series(1, 1000) g;

-- create-index: rewritten; an unnamed index gets its name from the guard.
CREATE INDEX orders_customer ON orders (customer);
CREATE INDEX ON orders (note);
-- The safe form is left alone.
CREATE INDEX CONCURRENTLY orders_id ON orders (id);
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index
 WHERE indrelid = 'orders'::regclass ORDER BY 1;
-- Inside a transaction block the rewrite is impossible: refused, with the safe SQL.
BEGIN;
CREATE INDEX orders_id2 ON orders (id);
ROLLBACK;
-- Several statements in one query string run as one implicit transaction block.
CREATE INDEX orders_a ON orders (id)\; CREATE INDEX orders_b ON orders (id);
\echo :LAST_ERROR_SQLSTATE
-- Failure part way: duplicates make the concurrent build fail; its INVALID index is named,
-- with the SQL to remove it.
CREATE UNIQUE INDEX orders_customer_key ON orders (customer);
\echo :LAST_ERROR_SQLSTATE
SELECT indexrelid::regclass AS invalid_index FROM pg_index
 WHERE indrelid = 'orders'::regclass AND NOT indisvalid;
DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_key;
SELECT count(*) AS invalid_indexes FROM pg_index WHERE indrelid = 'orders'::regclass AND NOT indisvalid;
-- An index whose valid twin exists: PostgreSQL's own error before any lock, never a hint to
-- drop the valid index; IF NOT EXISTS skips it, as PostgreSQL does.
CREATE INDEX orders_customer ON orders (customer);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer);
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index
 WHERE indexrelid = 'orders_customer'::regclass;
-- A step that fails before creating anything leaves nothing, and the error says so.
CREATE INDEX orders_nothing ON orders (no_such_column);
\echo :LAST_ERROR_SQLSTATE

-- A re-run after a failed (or cancelled, or terminated) build finishes the job: the INVALID
-- index left under the name the rewrite uses is dropped CONCURRENTLY and built again; an
-- unnamed index takes that name instead of a second one.
CREATE TABLE tickets (id int, code int);
INSERT INTO tickets SELECT g, g FROM generate_series(1, 500) g;
INSERT INTO tickets VALUES (1, 1);
CREATE UNIQUE INDEX tickets_code ON tickets (code);
CREATE UNIQUE INDEX ON tickets (id);
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index
 WHERE indrelid = 'tickets'::regclass ORDER BY 1;
-- Still duplicated: the re-run replaces the leftover, fails the same way, and the catalog shows
-- the INVALID index it names.
CREATE UNIQUE INDEX tickets_code ON tickets (code);
DELETE FROM tickets WHERE ctid = (SELECT max(ctid) FROM tickets);
CREATE UNIQUE INDEX tickets_code ON tickets (code);
CREATE UNIQUE INDEX ON tickets (id);
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index
 WHERE indrelid = 'tickets'::regclass ORDER BY 1;

-- drop-index: rewritten when it is one index without CASCADE, else refused.
DROP INDEX orders_id;
DROP INDEX orders_customer, orders_note_idx;
DROP INDEX orders_customer CASCADE;
DROP INDEX CONCURRENTLY orders_note_idx;

-- reindex: rewritten, whatever the options before the kind.
REINDEX INDEX orders_customer;
REINDEX (VERBOSE false) TABLE orders;
REINDEX TABLE CONCURRENTLY orders;
-- A rewritten REINDEX that fails reports what the catalog shows was left, and each leftover's
-- DROP as it can be pasted: the index's function now fails on every row.
CREATE FUNCTION fragile(v int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT v';
CREATE INDEX orders_fragile ON orders (fragile(id));
CREATE OR REPLACE FUNCTION fragile(v int) RETURNS int LANGUAGE sql IMMUTABLE
  AS 'SELECT 1 / (v - v)';
REINDEX INDEX orders_fragile;
SELECT indexrelid::regclass AS index FROM pg_index WHERE NOT indisvalid ORDER BY 1;
DROP INDEX CONCURRENTLY public.orders_fragile_ccnew;
DROP INDEX CONCURRENTLY orders_fragile;
DROP FUNCTION fragile(int);
-- PostgreSQL refuses a schema's REINDEX to a role that does not own it: nothing was left.
CREATE ROLE zd_reindexer;
GRANT USAGE ON SCHEMA public TO zd_reindexer;
SET ROLE zd_reindexer;
REINDEX SCHEMA public;
RESET ROLE;
REVOKE USAGE ON SCHEMA public FROM zd_reindexer;
DROP ROLE zd_reindexer;

-- refresh-materialized-view: CONCURRENTLY needs a unique index.
CREATE MATERIALIZED VIEW order_counts AS
  SELECT customer, count(*) AS n FROM orders GROUP BY customer;
REFRESH MATERIALIZED VIEW order_counts;
CREATE UNIQUE INDEX order_counts_customer ON order_counts (customer);
REFRESH MATERIALIZED VIEW order_counts;
-- WITH NO DATA is instant, and refreshing an unpopulated view makes nobody wait.
REFRESH MATERIALIZED VIEW order_counts WITH NO DATA;
REFRESH MATERIALIZED VIEW order_counts;
SELECT count(*) AS customers FROM order_counts;

-- create-index on a partitioned table: ON ONLY the parent, CONCURRENTLY on each partition,
-- then ATTACH each; the parent index is valid once the last one is attached.
CREATE TABLE events (at date, kind int) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT date '2025-01-01' + g, g % 5 FROM generate_series(0, 700) g;
CREATE INDEX events_kind ON events USING btree (kind) WHERE kind > 0;
SELECT c.relname AS index, i.indisvalid, pg_get_expr(i.indpred, i.indrelid) AS predicate,
       (SELECT p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
         WHERE h.inhrelid = c.oid) AS attached_to
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid IN ('events'::regclass, 'events_2025'::regclass, 'events_2026'::regclass)
 ORDER BY 1;
-- ON ONLY the parent builds nothing: untouched.
CREATE INDEX events_at ON ONLY events (at);
-- A failure on one partition: what is committed and left, and how to finish or undo.
INSERT INTO events VALUES ('2026-03-01', 1), ('2026-03-01', 1);
CREATE UNIQUE INDEX events_at_kind ON events (at, kind);
SELECT c.relname AS index, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relname LIKE '%at_kind%' ORDER BY 1;
-- The cause fixed, a re-run finishes: the INVALID parent index is reused, the valid index of
-- events_2025 attached (not built a second time), the INVALID one of events_2026 replaced.
DELETE FROM events WHERE ctid = (SELECT max(ctid) FROM events_2026);
CREATE UNIQUE INDEX events_at_kind ON events (at, kind);
SELECT c.relname AS index, i.indisvalid,
       (SELECT p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
         WHERE h.inhrelid = c.oid) AS attached_to
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relname LIKE '%at_kind%' ORDER BY 1;
-- A partition whose index is attached already is skipped.
SET zero_downtime.mode = off;
CREATE INDEX events_kind_all ON ONLY events (kind);
CREATE INDEX events_2025_kind_all ON events_2025 (kind);
ALTER INDEX events_kind_all ATTACH PARTITION events_2025_kind_all;
RESET zero_downtime.mode;
CREATE INDEX events_kind_all ON events (kind);
SELECT c.relname AS index, i.indisvalid,
       (SELECT p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
         WHERE h.inhrelid = c.oid) AS attached_to
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relname LIKE 'events%kind%' AND NOT c.relname LIKE '%at_kind%' ORDER BY 1;

-- Two partitions whose names share their first 63 bytes: each index gets a name of its own.
CREATE TABLE measurements_of_a_very_long_named_sensor_network (at date, v int) PARTITION BY RANGE (at);
CREATE TABLE measurements_of_a_very_long_named_sensor_network_partition_2025
  PARTITION OF measurements_of_a_very_long_named_sensor_network FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measurements_of_a_very_long_named_sensor_network_partition_2026
  PARTITION OF measurements_of_a_very_long_named_sensor_network FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO measurements_of_a_very_long_named_sensor_network
  SELECT date '2025-01-01' + g, g FROM generate_series(0, 700) g;
SET client_min_messages = warning;
CREATE INDEX ON measurements_of_a_very_long_named_sensor_network (v);
RESET client_min_messages;
SELECT c.relname AS index, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relname LIKE 'measurements_of%' ORDER BY 1;

SET zero_downtime.mode = off;
DROP TABLE measurements_of_a_very_long_named_sensor_network;
DROP TABLE events;
DROP TABLE tickets;
DROP MATERIALIZED VIEW order_counts;
DROP TABLE orders;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
