-- Live context and policy: table size, tables created in this transaction, temporary tables,
-- nested contexts (DO blocks), the modes, zero_downtime.allow, and the lock cap's restore.
CREATE EXTENSION zero_downtime;
CREATE TABLE small (id int);
INSERT INTO small SELECT generate_series(1, 100);

-- Under zero_downtime.small_table_size (default 10MB) the lock rules do not fire ...
CREATE INDEX small_id ON small (id);
-- ... unless the setting says no table is small.
SET zero_downtime.small_table_size = 0;
CREATE INDEX small_id2 ON small (id);
-- Created in this transaction, or temporary: nobody else can be blocked.
BEGIN;
CREATE TABLE fresh (id int);
INSERT INTO fresh SELECT generate_series(1, 100);
CREATE INDEX fresh_id ON fresh (id);
ALTER TABLE fresh ALTER COLUMN id TYPE bigint;
COMMIT;
CREATE TEMP TABLE scratch (id int);
INSERT INTO scratch SELECT generate_series(1, 100);
CREATE INDEX scratch_id ON scratch (id);
VACUUM FULL scratch;

-- Nested in a DO block (as Drizzle Kit sends foreign keys): no rewrite is possible there.
DO $$ BEGIN CREATE INDEX small_id3 ON small (id); END $$;

-- warn: the same decision as a WARNING; the statement runs as written.
SET zero_downtime.mode = warn;
ALTER TABLE small ALTER COLUMN id TYPE bigint;
CREATE INDEX small_id4 ON small (id);
SELECT indexrelid::regclass AS index FROM pg_index WHERE indrelid = 'small'::regclass ORDER BY 1;
-- off: nothing.
SET zero_downtime.mode = off;
ALTER TABLE small ALTER COLUMN id TYPE int;
RESET zero_downtime.mode;

-- zero_downtime.allow: rule names, validated when set.
SET zero_downtime.allow = 'alter-column-type, vacuum-full';
ALTER TABLE small ALTER COLUMN id TYPE bigint;
SET zero_downtime.allow = 'alter-column-typo';
SET zero_downtime.allow = 'alter-column-type,';
RESET zero_downtime.allow;

-- The migration tool running the statement, when the server can tell: its hint names it
-- alone, and the primary message (all Knex prints) says what to do with it.
SELECT pg_advisory_lock(72707369);  -- what Prisma Migrate holds during a deploy
BEGIN;
CREATE INDEX ON small (id);
ROLLBACK;
SELECT pg_advisory_unlock(72707369);
CREATE TABLE knex_migrations_lock (index int, is_locked int);
INSERT INTO knex_migrations_lock VALUES (1, 0);
BEGIN;
UPDATE knex_migrations_lock SET is_locked = 1;  -- what Knex's migration transaction does first
CREATE INDEX ON small (id);
ROLLBACK;
TRUNCATE knex_migrations_lock;
DROP TABLE knex_migrations_lock;

-- The lock cap sets lock_timeout for the statement only.
SET lock_timeout = '5s';
ALTER TABLE small ADD COLUMN note text;
SHOW lock_timeout;
RESET lock_timeout;

SET zero_downtime.mode = off;
DROP TABLE small, fresh;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
