-- Expand/contract: renaming a column of a live table, the whole lifecycle.  Old code writes
-- only the old column, new code only the new one; the sync trigger keeps them equal; zd_plan
-- shows every step and its lock; zd_migrations says what comes next.  (Types, bad input and
-- abort: expand_change_type.sql.  Concurrent movers: test/isolation/specs/expand_lock.spec.
-- Old and new clients under load: test/t/014_expand_contract.pl.)
CREATE EXTENSION zero_downtime;
SET client_min_messages = warning;

CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL DEFAULT 'none', note text,
                    CHECK (length(email) < 100));
CREATE INDEX users_email_idx ON users (lower(email));
INSERT INTO users (email) SELECT 'u' || g || '@x' FROM generate_series(1, 1000) g;

-- Expand, inside a migration runner's transaction: DDL and state commit together.
BEGIN;
SELECT zd_expand_rename_column('users', 'email', 'email_address', version => '2.0') AS id \gset
SELECT id, relation, kind, old_column, new_column, new_type, version, phase, next_call
FROM zd_migrations;
COMMIT;
\d users

-- Old client (old column) and new client (new column), INSERT and UPDATE.
INSERT INTO users (email) VALUES ('old@client');
INSERT INTO users (email_address) VALUES ('new@client');
INSERT INTO users (note) VALUES ('defaults only');
UPDATE users SET email_address = 'new2@client' WHERE id = 1001;
UPDATE users SET email = 'old2@client' WHERE id = 1002;
UPDATE users SET note = 'other column' WHERE id = 1003;
COPY users (id, email) FROM stdin;
2001	copy-old@client
\.
COPY users (id, email_address) FROM stdin;
2002	copy-new@client
\.
SELECT id, email, email_address, note FROM users WHERE id > 1000 ORDER BY id;
-- Both sides, corresponding: fine; not corresponding: an error to that writer.
UPDATE users SET email = 'same', email_address = 'same' WHERE id = 1;
UPDATE users SET email = 'a', email_address = 'b' WHERE id = 1;
-- A client that states its version: at least the migration's is the new side.
SET zero_downtime.client_version = '2.0';
INSERT INTO users (id, email_address) VALUES (3001, 'stated-new');
UPDATE users SET email = 'wrong side' WHERE id = 3001;
SET zero_downtime.client_version = '1.10';
UPDATE users SET email = 'stated-old' WHERE id = 3001;
UPDATE users SET email_address = 'wrong side' WHERE id = 3001;
RESET zero_downtime.client_version;
SELECT id, email, email_address FROM users WHERE id IN (1, 3001) ORDER BY id;

-- Every step, its lock and what it blocks; nothing runs.
SELECT step, phase, call, runs, lock, done FROM zd_plan(:id);
SELECT DISTINCT lock, blocks FROM zd_plan(:id) WHERE phase = 'migrate' ORDER BY lock, blocks;

-- Contract before migrate: refused, with the call that is legal now.
\set VERBOSITY sqlstate
SELECT zd_contract(:id);
\set VERBOSITY default
SELECT zd_contract(:id);

-- Migrate in a transaction that rolls back: nothing queued, still expanded.
BEGIN;
SELECT zd_migrate(:id);
ROLLBACK;
SELECT phase, next_call FROM zd_migrations WHERE id = :id;

-- Migrate: queued, runs after commit.
SELECT zd_migrate(:id);
SELECT phase, next_call FROM zd_migrations WHERE id = :id;
CALL zd_deferred_wait('60s');
SELECT state, run_sql FROM zd_deferred_status ORDER BY id;
SELECT phase, backfill_state, backfill_rows, next_call, blocked_by
FROM zd_migrations WHERE id = :id;
SELECT count(*) AS rows, count(*) FILTER (WHERE email IS DISTINCT FROM email_address) AS differ
FROM users;
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'users'::regclass
ORDER BY 1::text;
SELECT step, phase, done FROM zd_plan(:id) WHERE phase = 'migrate';
-- Marking ready again is harmless; migrate again has nothing to do.
SELECT zd_migrate(:id);

-- Contract: the old column, its index and CHECK go; the copies take their names.
SELECT zd_contract(:id);
\d users
SELECT id, email_address FROM users WHERE id IN (1, 1001, 1002, 2001, 2002, 3001) ORDER BY id;
SELECT phase, next_call, blocked_by FROM zd_migrations WHERE id = :id;
SELECT count(*) AS owned FROM zd_migration_object;
SELECT * FROM zd_plan(:id);
SELECT zd_abort(:id);

-- The state is kept by pg_dump.
SELECT pg_catalog.pg_describe_object(classid, objid, 0) AS config_table
FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
WHERE e.extname = 'zero_downtime' AND classid = 'pg_class'::regclass
  AND objid = ANY ((SELECT extconfig FROM pg_extension WHERE extname = 'zero_downtime')::oid[])
ORDER BY 1;

-- The state tables are written only through the functions.
CREATE ROLE zd_expand_app;
GRANT SELECT ON users TO zd_expand_app;
SET ROLE zd_expand_app;
SELECT count(*) FROM zd_migrations;
UPDATE zd_migration SET phase = 'ready';
INSERT INTO zd_migration_object VALUES ('users', 'column', 'id', 1);
SELECT zd_abort(:id);
SELECT * FROM zd_plan(:id);
SELECT zd_expand_rename_column('users', 'note', 'remark');
RESET ROLE;
REVOKE ALL ON users FROM zd_expand_app;
DROP ROLE zd_expand_app;

SET zero_downtime.mode = off;
DROP TABLE users;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
