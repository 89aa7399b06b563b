-- What the guard leaves to PostgreSQL: names that do not exist (PostgreSQL's own error, never a
-- crash), and objects that are not tables; and tables without rows of their own.  (Found by
-- PostgreSQL's core regression suite, test/core_suite.)
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE plain_t (id int);
INSERT INTO plain_t VALUES (1);

ALTER TABLE plain_t DETACH PARTITION no_such_partition;
ALTER TABLE no_such_table ADD COLUMN x int;
ALTER TABLE IF EXISTS no_such_table ADD COLUMN x int;
DROP TABLE IF EXISTS no_such_table;
CREATE INDEX ON no_such_table (id);
REINDEX SCHEMA no_such_schema;
REINDEX DATABASE no_such_database;
CREATE TABLE plain_child (id int);
ALTER TABLE plain_t ATTACH PARTITION plain_child FOR VALUES IN (1);
SELECT 'the session survived' AS still_here;

-- Not tables: a view, an index renamed through ALTER TABLE.
CREATE VIEW plain_v AS SELECT * FROM plain_t;
DROP TABLE plain_v;
ALTER TABLE plain_v RENAME TO plain_v2;
CREATE INDEX CONCURRENTLY plain_idx ON plain_t (id);
ALTER TABLE plain_idx RENAME TO plain_idx2;

-- A multi-level partitioned table without rows holds none: dropping it breaks nothing.
CREATE TABLE tree (a int, b int) PARTITION BY RANGE (a);
CREATE TABLE tree_1 PARTITION OF tree FOR VALUES FROM (0) TO (10) PARTITION BY RANGE (b);
CREATE TABLE tree_1_1 PARTITION OF tree_1 FOR VALUES FROM (0) TO (10);
DROP TABLE tree;

SET zero_downtime.mode = off;
DROP VIEW plain_v2;
DROP TABLE plain_t, plain_child;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
