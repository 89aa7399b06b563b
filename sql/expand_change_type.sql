-- Expand/contract: changing a column's type with an expression each way (int -> bigint), bad
-- input refused with nothing changed, two migrations on one table, abort after writes through
-- the new column.
CREATE EXTENSION zero_downtime;
SET client_min_messages = warning;

CREATE TABLE orders (id int PRIMARY KEY, total int NOT NULL DEFAULT 0, note text,
                     qty int CHECK (qty > 0));
CREATE INDEX orders_total_idx ON orders (total) WHERE total > 0;
INSERT INTO orders SELECT g, g * 10, NULL, 1 FROM generate_series(1, 500) g;

-- Bad input: a clear error, nothing changed.
SELECT zd_expand_change_type('orders', 'total', 'bigint', 'total; DROP TABLE orders', 'total');
SELECT zd_expand_change_type('orders', 'total', 'bigint', '1) FROM pg_class --', 'total');
SELECT zd_expand_change_type('orders', 'total', 'bigint', '(SELECT 1)', 'total');
SELECT zd_expand_change_type('orders', 'total', 'bigint', 'sum(total)', 'total');
SELECT zd_expand_change_type('orders', 'total', 'bigint', 'now()', 'total');
SELECT zd_expand_change_type('orders', 'total', 'bigint', 'nosuch', 'total');
SELECT zd_expand_change_type('orders', 'total', 'no_such_type', 'total', 'total');
SELECT zd_expand_change_type('orders', 'total', 'bigint', NULL, 'total');
SELECT zd_expand_change_type('orders', 'nosuch', 'bigint', 'nosuch', 'nosuch');
SELECT zd_expand_change_type('orders', 'id', 'bigint', 'id', 'id');
SELECT zd_expand_change_type('orders', 'total', 'bigint', 'total', 'total', new_column => 'note');
SELECT zd_expand_rename_column('pg_class', 'relname', 'name');
SELECT zd_migrate(12345);
\d orders
SELECT count(*) FROM zd_migrations;

-- The type change: the new client writes the new column (its name until contract).
SELECT zd_expand_change_type('orders', 'total', 'bigint', 'total::bigint', 'total::integer',
                             version => 'v2', new_column => 'total_big') AS id \gset
SELECT kind, old_column, new_column, new_type, up_sql, down_sql FROM zd_migrations;
-- A second migration on another column of the same table; none on a column one owns.
SELECT zd_expand_rename_column('orders', 'note', 'remark') AS note_id \gset
SELECT zd_expand_rename_column('orders', 'total', 'amount');
SELECT zd_expand_rename_column('orders', 'total_big', 'amount');
INSERT INTO orders (id, total, qty) VALUES (1001, 5, 1);
INSERT INTO orders (id, total_big, qty) VALUES (1002, 7, 1);
-- What the down expression cannot map back: the documented out-of-range error, to that writer.
INSERT INTO orders (id, total_big, qty) VALUES (1003, 5000000000, 1);
UPDATE orders SET total_big = total_big + 1 WHERE id = 1002;
INSERT INTO orders (id, remark, qty) VALUES (1004, 'through the new name', 1);
SELECT id, total, total_big, note, remark FROM orders WHERE id > 1000 ORDER BY id;
SELECT step, phase, runs, lock FROM zd_plan(:id) WHERE phase <> 'expand';

SELECT zd_migrate(:id);
CALL zd_deferred_wait('60s');
SELECT phase FROM zd_migrations WHERE id = :id;
SELECT count(*) FILTER (WHERE total_big IS DISTINCT FROM total) AS differ FROM orders;
SELECT zd_contract(:id);
\d orders
SELECT id, total FROM orders WHERE id IN (1, 500, 1001, 1002) ORDER BY id;
INSERT INTO orders (id, total, qty) VALUES (1005, 5000000000, 1);

-- Abort after writes through the new name: every one is in the old column.
UPDATE orders SET remark = 'renamed ' || id WHERE id <= 3;
SELECT zd_abort(:note_id);
SELECT id, note FROM orders WHERE id <= 3 OR id = 1004 ORDER BY id;
SELECT id, phase, next_call FROM zd_migrations ORDER BY id;
SELECT zd_migrate(:note_id);
\d orders

-- The trigger's planned expressions are kept between statements until what they are made of
-- changes: a replaced function is used from the next statement on, and so is a changed table.
CREATE TABLE prices (id int PRIMARY KEY, cents int);
CREATE FUNCTION to_big(v int) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT v::bigint * 10';
SELECT zd_expand_change_type('prices', 'cents', 'bigint', 'to_big(cents)', 'cents::integer',
                             new_column => 'cents_big') AS price_id \gset
INSERT INTO prices VALUES (1, 1);
INSERT INTO prices VALUES (2, 2);
CREATE OR REPLACE FUNCTION to_big(v int) RETURNS bigint LANGUAGE sql IMMUTABLE
  AS 'SELECT v::bigint * 100';
INSERT INTO prices VALUES (3, 3);
ALTER TABLE prices ADD COLUMN note text;
INSERT INTO prices (id, cents, note) VALUES (4, 4, 'after the table changed');
INSERT INTO prices (id, cents_big) VALUES (5, 50);
SELECT id, cents, cents_big, note FROM prices ORDER BY id;
SELECT zd_abort(:price_id);

SET zero_downtime.mode = off;
DROP TABLE orders;
DROP TABLE prices;
DROP FUNCTION to_big(int);
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
