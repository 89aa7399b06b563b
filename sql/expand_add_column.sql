-- Expand/contract: adding a column filled from an expression to a live table.  Expand adds the
-- column (nullable, no default: no rewrite) and a trigger that computes it for every write
-- that does not give it a value (old code does not know it): an INSERT leaving it NULL, an
-- UPDATE of a column the expression reads; a write that gives it a value (new code) keeps
-- it.  Migrate fills the existing rows through zd_backfill after commit (and validates the
-- NOT NULL check when asked); contract drops the trigger and sets NOT NULL (proved by the
-- validated check).  Abort drops the column: it is new, so no value that existed before the
-- expand is lost.  The expression is stored qualified and evaluated with search_path pinned
-- (expand_security.sql).
CREATE EXTENSION zero_downtime;
SET client_min_messages = warning;

CREATE TABLE items (id int PRIMARY KEY, price_cents int NOT NULL, qty int NOT NULL DEFAULT 1,
                    name text);
INSERT INTO items SELECT g, g * 100, 1 + g % 5, 'item ' || g FROM generate_series(1, 800) g;

-- Bad input: a clear error, nothing changed.
SELECT zd_expand_add_column('items', 'name', 'text', 'upper(name)');
SELECT zd_expand_add_column('items', 'total', 'no_such_type', 'price_cents * qty');
SELECT zd_expand_add_column('items', 'total', 'bigint', 'nosuch * qty');
SELECT zd_expand_add_column('items', 'total', 'bigint', 'sum(price_cents)');
SELECT zd_expand_add_column('items', 'total', 'bigint', 'generate_series(1, qty)');
SELECT zd_expand_add_column('items', 'total', 'bigint', NULL);
SELECT zd_expand_add_column('items', 'total', 'bigint', 'price_cents; DROP TABLE items');
SELECT zd_expand_add_column('items', 'total', 'date', 'price_cents * qty');
SELECT count(*) FROM zd_migrations;
\d items

-- Expand inside a migration runner's transaction: NOT NULL at contract.
BEGIN;
SELECT zd_expand_add_column('items', 'total_cents', 'bigint', 'price_cents::bigint * qty',
                            not_null => true) AS id \gset
SELECT id, kind, old_column, new_column, new_type, up_sql, not_null, phase, next_call
FROM zd_migrations;
COMMIT;
\d items

-- Old code (never names the column): computed on INSERT, recomputed when an UPDATE changes
-- what the expression reads, kept by an UPDATE of other columns.  New code writes it: kept.
-- (An INSERT's value counts as written when it is not NULL: the column has no default.)
INSERT INTO items (id, price_cents, qty) VALUES (1001, 250, 4);
INSERT INTO items (id, price_cents, qty, total_cents) VALUES (1002, 100, 1, 99);
UPDATE items SET qty = 10 WHERE id = 1001;
UPDATE items SET name = 'renamed' WHERE id = 1002;
UPDATE items SET total_cents = 5 WHERE id = 1001;
COPY items (id, price_cents) FROM stdin;
1003	700
\.
SELECT id, price_cents, qty, total_cents FROM items WHERE id > 1000 ORDER BY id;
-- An INSERT of NULL gets the expression too; new writes must not leave it NULL (the check,
-- NOT VALID: old rows are not scanned).
INSERT INTO items (id, price_cents, total_cents) VALUES (1004, 1, NULL);
UPDATE items SET total_cents = NULL WHERE id = 1004;
SELECT count(*) AS old_rows_null FROM items WHERE total_cents IS NULL;

SELECT step, phase, call, runs, lock, blocks, done FROM zd_plan(:id);
-- Illegal moves, and a second migration on the column: refused.
SELECT zd_contract(:id);
SELECT zd_expand_set_not_null('items', 'total_cents');
SELECT zd_expand_rename_column('items', 'total_cents', 'total');
ALTER TABLE items DROP COLUMN total_cents;

SELECT zd_migrate(:id);
CALL zd_deferred_wait('60s');
SELECT phase, backfill_state, backfill_rows, next_call FROM zd_migrations WHERE id = :id;
SELECT count(*) FILTER (WHERE total_cents IS DISTINCT FROM price_cents::bigint * qty) AS differ
FROM items WHERE id <= 1000;
SELECT step, phase, done FROM zd_plan(:id) WHERE phase = 'migrate';

SELECT zd_contract(:id);
\d items
INSERT INTO items (id, price_cents, total_cents) VALUES (1005, 3, 3);
INSERT INTO items (id, price_cents) VALUES (1006, 3);
SELECT phase, next_call FROM zd_migrations WHERE id = :id;
SELECT zd_migrate(:id);

-- The fill expression is parsed and planned once per session, and again when what it names
-- changes: a function replaced is used from the next statement on.
CREATE FUNCTION item_code(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'A' || i $$;
SELECT zd_expand_add_column('items', 'code', 'text', 'item_code(id)') AS cid \gset
INSERT INTO items (id, price_cents, total_cents) VALUES (2001, 1, 1);
INSERT INTO items (id, price_cents, total_cents) VALUES (2002, 1, 1);
CREATE OR REPLACE FUNCTION item_code(i int) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT 'B' || i $$;
INSERT INTO items (id, price_cents, total_cents) VALUES (2003, 1, 1);
SELECT id, code FROM items WHERE id >= 2001 ORDER BY id;
SELECT zd_abort(:cid) IS NOT NULL AS aborted;
DROP FUNCTION item_code(int);

-- Abort: the column goes (it was new); the table is as before the expand.
SELECT zd_expand_add_column('items', 'label', 'text', $$name || ' x' || qty$$) AS lid \gset
INSERT INTO items (id, price_cents, qty, name, total_cents) VALUES (1007, 1, 2, 'seven', 2);
UPDATE items SET label = 'by new code' WHERE id = 1;
SELECT id, label FROM items WHERE id IN (1, 2, 1007) ORDER BY id;
-- (Migrate and abort in one transaction: the queued work is skipped before it can run.)
BEGIN;
SELECT zd_migrate(:lid);
SELECT zd_abort(:lid);
COMMIT;
CALL zd_deferred_wait('60s');
SELECT state, run_sql FROM zd_deferred_status WHERE statement = 'SELECT zd_migrate(' || :lid || ')'
ORDER BY id;
\d items
SELECT id, kind, phase, next_call FROM zd_migrations ORDER BY id;
SELECT count(*) AS owned FROM zd_migration_object;

SET zero_downtime.mode = off;
DROP TABLE items;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
