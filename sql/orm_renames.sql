-- zero_downtime.orm_renames = migrate: an ORM's own RENAME COLUMN, or rewriting ALTER COLUMN
-- TYPE, of a live table starts an expand/contract migration in its place (as
-- zd_expand_rename_column / zd_expand_change_type), in the statement's transaction, so that a
-- generated migration file runs unchanged; a NOTICE names the migration and the next call.
-- Off (the default), both are refused as before.  (The real tools: test/clients/t/*.pl.)
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE users (id int PRIMARY KEY, name text, age int);
INSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 100) g;
CREATE INDEX users_name_idx ON users (name);

-- Off: refused.
\set VERBOSITY terse
ALTER TABLE users RENAME COLUMN name TO full_name;
\set VERBOSITY default

-- Only a role that may SET it turns it on.
CREATE ROLE regress_orm_owner;
SET ROLE regress_orm_owner;
SET zero_downtime.orm_renames = migrate;
RESET ROLE;

SET zero_downtime.orm_renames = migrate;
-- In the tool's transaction, as a generated file sends it.
BEGIN;
ALTER TABLE users RENAME COLUMN name TO full_name;
-- The file's next statements, and the new code, use the new name; the old code the old.
UPDATE users SET full_name = 'renamed' WHERE id = 1;
INSERT INTO users (id, name) VALUES (101, 'old-code');
COMMIT;
SELECT id, name, full_name FROM users WHERE id IN (1, 101) ORDER BY id;
SELECT id, kind, old_column, new_column, phase, next_call FROM zd_migrations;
-- A second RENAME of a column the migration owns: migration-owned.
\set VERBOSITY terse
ALTER TABLE users RENAME COLUMN full_name TO display_name;
\set VERBOSITY default
-- Then the calls the notice names.
SELECT zd_migrate(1) IS NOT NULL AS queued;
CALL zd_deferred_wait('60s');
SELECT zd_contract(1) IS NOT NULL AS contracted;
SELECT attname FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0
   AND NOT attisdropped ORDER BY attnum;
SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid = 'users'::regclass ORDER BY 1;

-- A rewriting ALTER COLUMN TYPE: its USING is the up expression, the cast back the down one.
ALTER TABLE users ALTER COLUMN age TYPE bigint USING (age * 10)::bigint;
SELECT id, kind, old_column, new_column, new_type, up_sql, down_sql, phase FROM zd_migrations
 WHERE id = 2;
SELECT age, age_zd_new FROM users WHERE id = 2;
SELECT zd_abort(2) IS NOT NULL AS aborted;
-- Without USING: the cast the ALTER would apply.
ALTER TABLE users ALTER COLUMN age TYPE numeric(12, 2);
SELECT up_sql, down_sql FROM zd_migrations WHERE id = 3;
SELECT zd_abort(3) IS NOT NULL AS aborted;
-- text to varchar(200) checks every row: a migration too; the column is its own then.
ALTER TABLE users ALTER COLUMN full_name TYPE varchar(200);
ALTER TABLE users ALTER COLUMN full_name TYPE text;
SELECT zd_abort(4) IS NOT NULL AS aborted;
-- A type change that needs no rewrite is not one: it runs as written.
ALTER TABLE users ADD COLUMN code varchar(10);
ALTER TABLE users ALTER COLUMN code TYPE varchar(20);

-- A rolled-back transaction takes the migration back with it.
BEGIN;
ALTER TABLE users RENAME COLUMN age TO years;
ROLLBACK;
SELECT count(*) AS active FROM zd_migrations WHERE phase NOT IN ('complete', 'aborted');
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'years';

-- Not a migration: a comment that allows the rule asks for the statement as written; an
-- empty (or new) table has nothing to migrate; a statement of several changes is refused.
/* zero_downtime: allow rename-column */ ALTER TABLE users RENAME COLUMN age TO years;
CREATE TABLE empty_one (a int);
ALTER TABLE empty_one RENAME COLUMN a TO b;
\set VERBOSITY terse
ALTER TABLE users ALTER COLUMN years TYPE bigint, ALTER COLUMN full_name TYPE int USING 0;
\set VERBOSITY default
SELECT count(*) AS migrations FROM zd_migrations;

-- What expand/contract cannot carry over is refused by its call, nothing changed.
CREATE TABLE parted (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
INSERT INTO parted SELECT g, g FROM generate_series(1, 10) g;
\set VERBOSITY terse
ALTER TABLE parted_1 RENAME COLUMN v TO w;
\set VERBOSITY default

-- A comment after the USING expression is not the expression's.
ALTER TABLE users ALTER COLUMN years TYPE bigint USING (years * 100)::bigint -- a new unit
;
SELECT up_sql FROM zd_migrations ORDER BY id DESC LIMIT 1;
SELECT zd_abort((SELECT max(id) FROM zd_migrations)) IS NOT NULL AS aborted;

RESET zero_downtime.orm_renames;
SET zero_downtime.mode = off;
DROP TABLE users, empty_one, parted;
DROP ROLE regress_orm_owner;
DROP EXTENSION zero_downtime;
