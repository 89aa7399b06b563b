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
ALTER TABLE events SET TABLESPACE pg_default;
ALTER TABLE events SET ACCESS METHOD heap;
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
-- With a default partition, CONCURRENTLY is impossible: refused.
CREATE TABLE measurements_other PARTITION OF measurements DEFAULT;
ALTER TABLE measurements DETACH PARTITION measurements_2026;

SET zero_downtime.mode = off;
DROP TABLE events, measurements, measurements_2025;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
