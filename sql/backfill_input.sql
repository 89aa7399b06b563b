-- zd_backfill refuses bad input and hostile clauses before anything runs: each case is a clear
-- error, and the table and the progress state are unchanged afterwards.
CREATE EXTENSION zero_downtime;
SET client_min_messages = warning;
CREATE TABLE items (id int, price int, price_x2 int);
INSERT INTO items SELECT g, g, NULL FROM generate_series(1, 1000) g;
CREATE TABLE other (id int);
CREATE VIEW items_view AS SELECT * FROM items;
CREATE TABLE parted (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);

-- Missing or NULL required arguments.
CALL zd_backfill('no_such_table', 'price_x2 = price * 2', 'price_x2 IS NULL');
CALL zd_backfill(NULL, 'price_x2 = price * 2', 'price_x2 IS NULL');
CALL zd_backfill('items', NULL, 'price_x2 IS NULL');
CALL zd_backfill('items', 'price_x2 = price * 2', NULL);
CALL zd_backfill('items', '   ', 'price_x2 IS NULL');
CALL zd_backfill('items', 'price_x2 = price * 2', '');
CALL zd_backfill('items', 'price_x2 = price * 2');
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL', name => '');
-- Unknown columns, wrong types: found when the statement is prepared, before any batch.
CALL zd_backfill('items', 'no_such_column = 1', 'price_x2 IS NULL');
CALL zd_backfill('items', 'price_x2 = price * 2', 'no_such_column IS NULL');
CALL zd_backfill('items', 'price_x2 = ''not a number''', 'price_x2 IS NULL');
CALL zd_backfill('items', 'price_x2 = price * 2', 'price * 2');
-- A column dropped since: the same error, nothing written.
ALTER TABLE items ADD COLUMN doomed int;
SET zero_downtime.mode = off;
ALTER TABLE items DROP COLUMN doomed;
RESET zero_downtime.mode;
CALL zd_backfill('items', 'doomed = 1', 'doomed IS NULL');
-- Sizes and durations out of range.
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL', batch_size => 0);
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL', batch_size => -5);
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL', batch_size => NULL);
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL', pause => '-1 s');
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL', lock_timeout => '0');
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL',
                 target_batch_duration => '0');
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL',
                 target_batch_duration => '2 years');
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL', max_retries => -1);
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL',
                 max_replica_lag => '-3 min');
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL', pause => 'soon');
-- Not a plain table.
CALL zd_backfill('items_view', 'price_x2 = price * 2', 'price_x2 IS NULL');
CALL zd_backfill('parted', 'v = id', 'v IS NULL');

-- Hostile clauses: a second statement, a FROM or RETURNING smuggled in, a where_clause that
-- escapes its parentheses or comments out the rest, a transaction-control trick.
CALL zd_backfill('items', 'price_x2 = 1; DROP TABLE other', 'price_x2 IS NULL');
CALL zd_backfill('items', 'price_x2 = 1', 'price_x2 IS NULL); DROP TABLE other; SELECT (1');
CALL zd_backfill('items', 'price_x2 = 1', 'true) OR (true');
CALL zd_backfill('items', 'price_x2 = 1', 'price_x2 IS NULL) OR (true --');
CALL zd_backfill('items', 'price_x2 = 1 FROM other', 'price_x2 IS NULL');
CALL zd_backfill('items', 'price_x2 = 1', 'price_x2 IS NULL RETURNING *');
CALL zd_backfill('items', 'price_x2 = 1 WHERE true OR (true /*', '*/ true)');
CALL zd_backfill('items', 'price_x2 = 1', 'true) OR ctid OPERATOR(pg_catalog.>=) $1 AND (true');
CALL zd_backfill('items', 'price_x2 = 1', 'price_x2 IS NULL; COMMIT; SAVEPOINT s');
CALL zd_backfill('items', 'price_x2 = 1', 'price_x2 IS NULL); ROLLBACK; --');
CALL zd_backfill('items', 'price_x2 = (SELECT 1) WHERE false); UPDATE items SET price = 0; --',
                 'true');
-- A comment inside where_clause is harmless: it ends at the line break the statement adds.
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL -- the ones not done',
                 name => 'commented');
SELECT count(*) FILTER (WHERE price_x2 = price * 2) AS done_rows FROM items;
SET zero_downtime.mode = off;
UPDATE items SET price_x2 = NULL;
RESET zero_downtime.mode;

-- A role without UPDATE on the table: PostgreSQL's permission error, nothing changed.
CREATE ROLE backfill_intruder;
GRANT SELECT ON items TO backfill_intruder;
SET ROLE backfill_intruder;
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL');
RESET ROLE;
-- UPDATE on the target column only, and SELECT on what the clauses read: allowed.
GRANT UPDATE (price_x2) ON items TO backfill_intruder;
SET ROLE backfill_intruder;
CALL zd_backfill('items', 'price_x2 = price * 2', 'price_x2 IS NULL', name => 'column-grant');
-- ... but not a column it has no UPDATE on.
CALL zd_backfill('items', 'price = 0', 'price_x2 IS NULL', name => 'other-column');
RESET ROLE;
SELECT count(*) FILTER (WHERE price_x2 = price * 2) AS done_rows,
       count(*) FILTER (WHERE price <> id) AS price_changed FROM items;

-- Nothing above left a trace but the two backfills that ran.
SELECT name, state, rows_done, started_by FROM zd_backfill_progress ORDER BY name;
SELECT count(*) AS other_rows FROM other;

REVOKE ALL ON items FROM backfill_intruder;
DROP ROLE backfill_intruder;
SET zero_downtime.mode = off;
DROP VIEW items_view;
DROP TABLE items, other, parted;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
