-- drop-column, rename-column, rename-table, drop-table: they break the code still running, so
-- they are refused on any table holding rows, however small; empty, new and temporary tables
-- are free, and a privileged role can allow one for a statement or a transaction.
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
-- Or for one statement, with a comment before it: the next statement is judged again.
CREATE TABLE notes (id int, a text, b text, c text);
INSERT INTO notes VALUES (1, 'a', 'b', 'c');
/* zero_downtime: allow drop-column */ ALTER TABLE notes DROP COLUMN a;
ALTER TABLE notes DROP COLUMN b;
-- In one query string (a Prisma migration file; \; keeps psql from splitting it), the comment
-- belongs to the statement after it, and to no later one: the string is refused as a whole.
/* zero_downtime: allow drop-column */ ALTER TABLE notes DROP COLUMN b \;
ALTER TABLE notes DROP COLUMN c;
ALTER TABLE notes ADD COLUMN d text \; /* zero_downtime: allow drop-column, rename-column */
ALTER TABLE notes DROP COLUMN b;
SELECT attname FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attnum > 0
  AND NOT attisdropped ORDER BY attnum;
-- A rule name that is not one: an error, nothing runs.
/* zero_downtime: allow drop-columns */ ALTER TABLE notes DROP COLUMN c;
-- Only a role that may set zero_downtime.allow may use it.
CREATE ROLE regress_zd_migrator;
ALTER TABLE notes OWNER TO regress_zd_migrator;
SET ROLE regress_zd_migrator;
/* zero_downtime: allow drop-column */ ALTER TABLE notes DROP COLUMN c;
RESET ROLE;
GRANT SET ON PARAMETER zero_downtime.allow TO regress_zd_migrator;
SET ROLE regress_zd_migrator;
/* zero_downtime: allow drop-column */ ALTER TABLE notes DROP COLUMN c;
RESET ROLE;
REVOKE SET ON PARAMETER zero_downtime.allow FROM regress_zd_migrator;
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

-- Dropping another object takes tables and columns with it: each is judged as if dropped
-- directly (they all passed before).
SET zero_downtime.mode = off;
CREATE SCHEMA archive;
CREATE TABLE archive.old_orders (id int);
INSERT INTO archive.old_orders VALUES (1);
CREATE TABLE archive.nothing_here (id int);
CREATE TYPE mood AS ENUM ('ok');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE FUNCTION twice(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 2';
CREATE TABLE feelings (id int, m mood, p positive, doubled int GENERATED ALWAYS AS (twice(id)) STORED,
                       fallback int DEFAULT twice(1));
INSERT INTO feelings (id, m, p) VALUES (1, 'ok', 1);
CREATE ROLE regress_zd_leaver;
CREATE TABLE leavers_table (id int);
INSERT INTO leavers_table VALUES (1);
ALTER TABLE leavers_table OWNER TO regress_zd_leaver;
RESET zero_downtime.mode;
DROP SCHEMA archive CASCADE;
DROP TYPE mood CASCADE;
DROP DOMAIN positive CASCADE;
-- The generated column goes with the function; the plain default only loses its expression.
SELECT rule, message FROM zd_check('DROP FUNCTION twice(int) CASCADE');
DROP OWNED BY regress_zd_leaver;
-- Without CASCADE PostgreSQL refuses itself; once empty, the schema's tables may go.
DROP SCHEMA archive;
SET zero_downtime.mode = off;
TRUNCATE archive.old_orders;
RESET zero_downtime.mode;
DROP SCHEMA archive CASCADE;

SET zero_downtime.mode = off;
DROP TABLE feelings, leavers_table, notes;
DROP TYPE mood;
DROP DOMAIN positive;
DROP FUNCTION twice(int);
DROP ROLE regress_zd_leaver;
DROP ROLE regress_zd_migrator;
DROP TABLE events CASCADE;
DROP VIEW users;
DROP TABLE app_users;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;

-- A table is named as it is named now, after its schema or the table itself was renamed (the
-- guard remembers the names of the tables it named last: src/pg/table_facts.cpp).
CREATE SCHEMA old_home;
CREATE TABLE old_home.named (id int, legacy text);
INSERT INTO old_home.named VALUES (1, 'x');
ALTER TABLE old_home.named DROP COLUMN legacy;
ALTER SCHEMA old_home RENAME TO "New Home";
ALTER TABLE "New Home".named DROP COLUMN legacy;
BEGIN;
SET LOCAL zero_downtime.allow = 'rename-table';
ALTER TABLE "New Home".named RENAME TO renamed;
COMMIT;
ALTER TABLE "New Home".renamed DROP COLUMN legacy;
BEGIN;
SET LOCAL zero_downtime.allow = 'drop-table';
DROP SCHEMA "New Home" CASCADE;
COMMIT;
