-- add-column-generated-stored by major: a STORED generated column rewrites the table and is
-- refused everywhere; since 18 a generated column is VIRTUAL unless STORED is written, rewrites
-- nothing (computed when read) and passes.  15 and 17 have no virtual generated columns:
-- PostgreSQL refuses those statements itself (expected/guard_generated.out; 18 and 19:
-- guard_generated_1.out).
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE items (id int PRIMARY KEY, price int);
INSERT INTO items SELECT g, g FROM generate_series(1, 100) g;
SELECT pg_relation_filenode('items') AS filenode_before \gset
ALTER TABLE items ADD COLUMN price_x2 int GENERATED ALWAYS AS (price * 2) STORED;
ALTER TABLE items ADD COLUMN price_x3 int GENERATED ALWAYS AS (price * 3);
ALTER TABLE items ADD COLUMN price_x4 int GENERATED ALWAYS AS (price * 4) VIRTUAL;
-- The table was not rewritten (the same file) and the virtual columns compute.
SELECT pg_relation_filenode('items') = :filenode_before AS not_rewritten;
SELECT attname, attgenerated FROM pg_attribute
 WHERE attrelid = 'items'::regclass AND attnum > 0 ORDER BY attnum;
SELECT price_x3, price_x4 FROM items WHERE id = 7;
SET zero_downtime.mode = off;
DROP TABLE items;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
