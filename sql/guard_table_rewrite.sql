-- vacuum-full, cluster, set-logged, set-unlogged, set-tablespace, set-access-method: each
-- rewrites the table under ACCESS EXCLUSIVE with no online form; detach-partition has one.
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE events (id int PRIMARY KEY, payload text);
INSERT INTO events SELECT g, 'p' || g FROM generate_series(1, 100) g;

VACUUM FULL events;
VACUUM (FULL, ANALYZE) events;
CLUSTER events USING events_pkey;
ALTER TABLE events SET UNLOGGED;
ALTER TABLE events SET LOGGED;
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE regress_zd_space LOCATION '';
ALTER TABLE events SET TABLESPACE regress_zd_space;
-- The tablespace it is in already: PostgreSQL does nothing, nor does the guard.
ALTER TABLE events SET TABLESPACE pg_default;
-- An index or a materialized view is copied the same way (an index locked ACCESS EXCLUSIVE
-- blocks every query planned on its table).
ALTER INDEX events_pkey SET TABLESPACE regress_zd_space;
ALTER INDEX events_pkey SET TABLESPACE pg_default;
ALTER TABLE events SET ACCESS METHOD heap;
-- VACUUM FULL and bare CLUSTER cannot run in a transaction block: the maintenance-window hint
-- allows them for the session, and that works as printed.
CLUSTER;
SET zero_downtime.allow = 'vacuum-full';
VACUUM FULL events;
RESET zero_downtime.allow;
-- The safe siblings: plain VACUUM and ANALYZE.
VACUUM events;
VACUUM (ANALYZE) events;
ANALYZE events;

-- detach-partition: rewritten to DETACH ... CONCURRENTLY.
CREATE TABLE measurements (at date, v int) PARTITION BY RANGE (at);
CREATE TABLE measurements_2025 PARTITION OF measurements
  FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measurements_2026 PARTITION OF measurements
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO measurements VALUES ('2025-06-01', 1), ('2026-06-01', 2);
ALTER TABLE measurements DETACH PARTITION measurements_2025;
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'measurements'::regclass;
ALTER TABLE measurements DETACH PARTITION measurements_2026 CONCURRENTLY;
ALTER TABLE measurements ATTACH PARTITION measurements_2026
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');

-- attach-partition: the bound is proven by a CHECK added NOT VALID and validated, so ATTACH
-- does not scan under ACCESS EXCLUSIVE; the helper is dropped afterwards.
CREATE TABLE measurements_2027 (at date, v int);
INSERT INTO measurements_2027 VALUES ('2027-03-01', 3);
ALTER TABLE measurements ATTACH PARTITION measurements_2027
  FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
SELECT conname FROM pg_constraint WHERE conrelid = 'measurements_2027'::regclass;
-- A row outside the bound: validation fails before anything is attached.
CREATE TABLE measurements_2028 (at date, v int);
INSERT INTO measurements_2028 VALUES ('2030-01-01', 4);
ALTER TABLE measurements ATTACH PARTITION measurements_2028
  FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'measurements'::regclass;
-- A valid CHECK that already implies the bound: ATTACH skips the scan, allowed as written.
CREATE TABLE measurements_2029 (at date, v int,
  CHECK (at IS NOT NULL AND at >= '2029-01-01' AND at < '2030-01-01'));
INSERT INTO measurements_2029 VALUES ('2029-03-01', 5);
ALTER TABLE measurements ATTACH PARTITION measurements_2029
  FOR VALUES FROM ('2029-01-01') TO ('2030-01-01');

-- A partitioned table attached: PostgreSQL scans each of its partitions (all locked ACCESS
-- EXCLUSIVE) unless its or their CHECKs prove the bound.  Rewritten as for a plain table (the
-- helper CHECK on the partitioned table proves it for all).
CREATE TABLE measurements_2030 (at date, v int) PARTITION BY LIST (v);
CREATE TABLE measurements_2030_a PARTITION OF measurements_2030 FOR VALUES IN (6);
INSERT INTO measurements_2030 VALUES ('2030-03-01', 6);
ALTER TABLE measurements ATTACH PARTITION measurements_2030
  FOR VALUES FROM ('2030-01-01') TO ('2031-01-01');
SELECT conname FROM pg_constraint WHERE conrelid = 'measurements_2030'::regclass;
-- Its partitions' own CHECKs prove it: no scan, allowed as written.
CREATE TABLE measurements_2031 (at date, v int) PARTITION BY LIST (v);
CREATE TABLE measurements_2031_a PARTITION OF measurements_2031
  (CHECK (at IS NOT NULL AND at >= '2031-01-01' AND at < '2032-01-01')) FOR VALUES IN (7);
INSERT INTO measurements_2031 VALUES ('2031-03-01', 7);
ALTER TABLE measurements ATTACH PARTITION measurements_2031
  FOR VALUES FROM ('2031-01-01') TO ('2032-01-01');
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'measurements'::regclass;

-- A new partition makes PostgreSQL scan the default partition (ACCESS EXCLUSIVE) for rows of
-- its bound: rewritten with a helper CHECK excluding the bound, validated first.
CREATE TABLE logs (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE logs_2025 PARTITION OF logs FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE logs_other PARTITION OF logs DEFAULT;
INSERT INTO logs SELECT g, date '2025-01-01' + g % 300 FROM generate_series(1, 100) g;
INSERT INTO logs SELECT g, date '2030-01-01' + g % 300 FROM generate_series(1, 100) g;
CREATE TABLE logs_2026 PARTITION OF logs FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT conname FROM pg_constraint WHERE conrelid = 'logs_other'::regclass;
SELECT count(*) AS logs FROM logs;

-- With a default partition, CONCURRENTLY is impossible: refused.
CREATE TABLE measurements_other PARTITION OF measurements DEFAULT;
ALTER TABLE measurements DETACH PARTITION measurements_2026;

SET zero_downtime.mode = off;
DROP TABLE events, measurements, measurements_2025, measurements_2028, logs;
DROP TABLESPACE regress_zd_space;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
