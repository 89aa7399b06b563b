-- set-expression (17+): SET EXPRESSION of a stored generated column computes it anew in every
-- row, a rewrite under ACCESS EXCLUSIVE: refused with the expand/contract recipe.  Of a
-- virtual column (18+) it changes only the catalog and passes.  15 has no SET EXPRESSION: this
-- file ends there (expected/guard_set_expression.out; 17: _1; 18 and 19: _2).
SELECT current_setting('server_version_num')::int < 170000 AS before_17 \gset
\if :before_17
\quit
\endif
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE lines (id int PRIMARY KEY, qty int, price int,
                    total int GENERATED ALWAYS AS (qty * price) STORED);
INSERT INTO lines (id, qty, price) SELECT g, g, 2 FROM generate_series(1, 100) g;
SELECT pg_relation_filenode('lines') AS filenode_before \gset
ALTER TABLE lines ALTER COLUMN total SET EXPRESSION AS (qty * price + 1);
-- Not a generated column: PostgreSQL's own error.
ALTER TABLE lines ALTER COLUMN qty SET EXPRESSION AS (1);
-- Allowed for this statement, it runs (and rewrites).
/* zero_downtime: allow set-expression */ ALTER TABLE lines ALTER COLUMN total SET EXPRESSION AS (qty * price + 1);
SELECT total FROM lines WHERE id = 3;
SELECT pg_relation_filenode('lines') <> :filenode_before AS rewritten;
-- 18+: a virtual generated column's new expression is only a catalog change (15 and 17: no
-- VIRTUAL, PostgreSQL's syntax error).
SELECT pg_relation_filenode('lines') AS filenode_before \gset
ALTER TABLE lines ADD COLUMN total_v int GENERATED ALWAYS AS (qty * price) VIRTUAL;
ALTER TABLE lines ALTER COLUMN total_v SET EXPRESSION AS (qty * price * 10);
SELECT total_v FROM lines WHERE id = 3;
SELECT pg_relation_filenode('lines') = :filenode_before AS not_rewritten;
SET zero_downtime.mode = off;
DROP TABLE lines;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
