-- whole-table-dml: an UPDATE or DELETE of many rows in a transaction that changed the schema
-- (a migration's) keeps every row it touches locked, with the DDL's locks, until commit.
-- The application's own DML, in transactions without DDL, is never judged.
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
SET zero_downtime.mode = off;
CREATE TABLE accounts (id int PRIMARY KEY, cents int, dollars int);
INSERT INTO accounts SELECT g, g * 100, NULL FROM generate_series(1, 20000) g;
ANALYZE accounts;
RESET zero_downtime.mode;

-- A migration's backfill in the migration's transaction: refused, with the zd_backfill call.
BEGIN;
ALTER TABLE accounts ADD COLUMN euros int;
UPDATE accounts SET euros = cents / 100;
ROLLBACK;
-- The same as one query string (how Prisma sends a migration file).
ALTER TABLE accounts ADD COLUMN euros int\; UPDATE accounts SET euros = cents / 100 WHERE euros IS NULL;
-- A DELETE over the table: the batched form in the hint.
BEGIN;
ALTER TABLE accounts ALTER COLUMN dollars SET DEFAULT 0;
DELETE FROM accounts WHERE cents > 100;
ROLLBACK;
-- A batch-sized UPDATE after DDL, and any UPDATE in a transaction without DDL: untouched.
BEGIN;
ALTER TABLE accounts ALTER COLUMN dollars SET DEFAULT 0;
UPDATE accounts SET dollars = cents / 100 WHERE id <= 100;
ROLLBACK;
BEGIN;
UPDATE accounts SET dollars = cents / 100;
ROLLBACK;
-- In warn mode: a warning, and it runs.
SET zero_downtime.mode = warn;
BEGIN;
ALTER TABLE accounts ALTER COLUMN dollars SET DEFAULT 0;
UPDATE accounts SET dollars = cents / 100;
ROLLBACK;
RESET zero_downtime.mode;
-- A table created in the same transaction is nobody else's yet.
BEGIN;
CREATE TABLE fresh AS SELECT g AS id FROM generate_series(1, 20000) g;
ALTER TABLE fresh ADD COLUMN v int;
UPDATE fresh SET v = id;
ROLLBACK;

SET zero_downtime.mode = off;
DROP TABLE accounts;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
