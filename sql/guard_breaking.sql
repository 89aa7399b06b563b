-- drop-column, rename-column, rename-table, drop-table: they break the code still running, so
-- they are refused on any table holding rows, however small; empty, new and temporary tables
-- are free, and a privileged role can allow one for a transaction.
CREATE EXTENSION zero_downtime;
CREATE TABLE users (id int, email text, legacy text);
INSERT INTO users VALUES (1, 'a@example.com', 'x');

ALTER TABLE users DROP COLUMN legacy;
ALTER TABLE users RENAME COLUMN email TO mail;
ALTER TABLE users RENAME TO app_users;
DROP TABLE users;
\echo :LAST_ERROR_SQLSTATE

-- An empty table: nothing reads it yet.
CREATE TABLE staging (id int, tmp text);
ALTER TABLE staging DROP COLUMN tmp;
ALTER TABLE staging RENAME COLUMN id TO staging_id;
ALTER TABLE staging RENAME TO staging2;
DROP TABLE staging2;

-- A table created in this transaction, and a temporary table, are invisible to others.
BEGIN;
CREATE TABLE fresh (id int, tmp text);
INSERT INTO fresh VALUES (1, 'x');
ALTER TABLE fresh DROP COLUMN tmp;
ALTER TABLE fresh RENAME TO fresh2;
DROP TABLE fresh2;
COMMIT;
CREATE TEMP TABLE scratch (id int, tmp text);
INSERT INTO scratch VALUES (1, 'x');
ALTER TABLE scratch DROP COLUMN tmp;
DROP TABLE scratch;

-- Once the code no longer uses it: allowed for one transaction.
BEGIN;
SET LOCAL zero_downtime.allow = 'drop-column';
ALTER TABLE users DROP COLUMN legacy;
COMMIT;
SHOW zero_downtime.allow;
-- The rename pattern the hint gives: the old name lives on as a view.
BEGIN;
SET LOCAL zero_downtime.allow = 'rename-table';
ALTER TABLE users RENAME TO app_users;
CREATE VIEW public.users AS SELECT * FROM public.app_users;
COMMIT;
SELECT * FROM users;

-- Inheritance: an empty parent whose child holds rows.  DROP ... CASCADE, DROP COLUMN and
-- RENAME COLUMN reach the child (they were let through as on an empty table); ONLY does not.
CREATE TABLE events (id int, legacy text);
CREATE TABLE events_2026 () INHERITS (events);
INSERT INTO events_2026 VALUES (1, 'x');
DROP TABLE events CASCADE;
ALTER TABLE events DROP COLUMN legacy;
ALTER TABLE events RENAME COLUMN legacy TO old;
-- The size of a statement that recurses counts the children: a rewrite of the child is refused.
SET zero_downtime.small_table_size = 0;
ALTER TABLE events ADD COLUMN at timestamptz DEFAULT clock_timestamp();
RESET zero_downtime.small_table_size;
-- ONLY the empty parent: the child keeps its column and its rows.
ALTER TABLE ONLY events DROP COLUMN legacy;
SELECT * FROM events_2026;

SET zero_downtime.mode = off;
DROP TABLE events CASCADE;
DROP VIEW users;
DROP TABLE app_users;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
