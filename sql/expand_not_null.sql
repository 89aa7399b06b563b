-- Expand/contract: making a live column NOT NULL as a tracked migration.  Expand adds
-- CHECK (col IS NOT NULL) NOT VALID (new writes must satisfy it; old rows are not scanned)
-- and, with a fill expression, a trigger that fills the NULL a write leaves; migrate fills the
-- rows holding NULL through zd_backfill and validates the CHECK after commit; contract sets
-- NOT NULL, proved by the validated CHECK (no scan), and drops the helpers.  Bad input and
-- illegal moves are refused with nothing changed; abort; two migrations never own one column;
-- without a fill expression the VALIDATE reports the rows still NULL and the migration waits.
-- (Interrupted migrate: test/t/018_expand_kinds.pl.)
CREATE EXTENSION zero_downtime;
SET client_min_messages = warning;

CREATE TABLE accounts (id int PRIMARY KEY, email text, region text, plan text);
INSERT INTO accounts SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'a' || g || '@x' END,
                            CASE WHEN g % 2 = 0 THEN 'eu' END, 'free'
FROM generate_series(1, 600) g;

-- Bad input: a clear error, nothing changed.
SELECT zd_expand_set_not_null('accounts', 'nosuch');
SELECT zd_expand_set_not_null('accounts', 'id');
SELECT zd_expand_set_not_null('accounts', 'email', 'nosuch || 1');
SELECT zd_expand_set_not_null('accounts', 'email', '(SELECT ''x'')');
SELECT zd_expand_set_not_null('accounts', 'email', 'email; DROP TABLE accounts');
SELECT zd_expand_set_not_null('accounts', 'email', 'max(email)');
SELECT zd_expand_set_not_null('accounts', NULL);
SELECT zd_expand_set_not_null('pg_class', 'relname');
SELECT count(*) FROM zd_migrations;
\d accounts

-- Expand inside a migration runner's transaction, with a fill expression over the row.
BEGIN;
SELECT zd_expand_set_not_null('accounts', 'email', $$'user' || id || '@example.org'$$) AS id \gset
SELECT id, kind, old_column, new_column, new_type, up_sql, not_null, phase, next_call
FROM zd_migrations;
COMMIT;
\d accounts

-- Writes after the expand: a NULL is filled, a value kept, from INSERT, UPDATE and COPY.
INSERT INTO accounts (id, email) VALUES (1001, NULL), (1002, 'kept@x');
INSERT INTO accounts (id) VALUES (1003);
UPDATE accounts SET email = NULL WHERE id = 1002;
COPY accounts (id, region) FROM stdin;
1004	us
\.
SELECT id, email FROM accounts WHERE id > 1000 ORDER BY id;
-- The old rows are not scanned at expand: they still hold NULL.
SELECT count(*) AS still_null FROM accounts WHERE email IS NULL;

-- Each step, its lock, what it blocks; nothing runs.
SELECT step, phase, call, runs, lock, blocks, done FROM zd_plan(:id);

-- Illegal moves: refused with the call that is legal now.
SELECT zd_contract(:id);
SELECT zd_migration_ready(:id);
-- Nobody else migrates that column meanwhile (other columns of the table are free: below).
SELECT zd_expand_rename_column('accounts', 'email', 'mail');
SELECT zd_expand_set_not_null('accounts', 'email');
-- The guard refuses DDL from outside on the column it owns.
ALTER TABLE accounts RENAME COLUMN email TO mail;
ALTER TABLE accounts DROP COLUMN email;

-- Migrate: queued in a transaction that rolls back: nothing runs.
BEGIN;
SELECT zd_migrate(:id);
ROLLBACK;
SELECT phase FROM zd_migrations WHERE id = :id;
SELECT zd_migrate(:id);
CALL zd_deferred_wait('60s');
SELECT state, run_sql FROM zd_deferred_status ORDER BY id;
SELECT phase, backfill_state, backfill_rows, next_call, blocked_by FROM zd_migrations
WHERE id = :id;
SELECT count(*) FILTER (WHERE email IS NULL) AS still_null,
       count(*) FILTER (WHERE email = 'user' || id || '@example.org') AS filled FROM accounts;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'accounts'::regclass
ORDER BY conname;

-- Contract: NOT NULL, proved by the validated CHECK, the helpers go (18+: the validated NOT
-- NULL constraint is the column's, it takes the name PostgreSQL gives one).
SELECT zd_contract(:id);
\d accounts
INSERT INTO accounts (id) VALUES (1005);
SELECT phase, next_call FROM zd_migrations WHERE id = :id;
SELECT count(*) AS owned FROM zd_migration_object;
SELECT zd_abort(:id);
SELECT * FROM zd_plan(:id);

-- Without a fill expression: the CHECK stops new NULLs at once; the VALIDATE finds the old
-- ones, the migration waits in migrating, and says why; fixed by hand, zd_migrate resumes.
SELECT zd_expand_set_not_null('accounts', 'region') AS rid \gset
INSERT INTO accounts (id, email) VALUES (1006, 'e');
SELECT step, phase, runs, lock FROM zd_plan(:rid);
SELECT zd_migrate(:rid);
CALL zd_deferred_wait('60s');
SELECT phase, blocked_by FROM zd_migrations WHERE id = :rid;
SELECT zd_contract(:rid);
UPDATE accounts SET region = 'unknown' WHERE region IS NULL;
SELECT zd_migrate(:rid);
CALL zd_deferred_wait('60s');
SELECT phase FROM zd_migrations WHERE id = :rid;

-- Abort: the CHECK goes, the column may hold NULL again (nothing else changed).
SELECT zd_abort(:rid);
\d accounts
INSERT INTO accounts (id, email) VALUES (1007, 'e');
SELECT id, phase, kind, next_call FROM zd_migrations ORDER BY id;

-- Abort of one with a fill expression: its trigger goes too; filled rows keep their value.
SELECT zd_expand_set_not_null('accounts', 'plan', $$'free'$$) AS pid \gset
INSERT INTO accounts (id, email, plan) VALUES (1008, 'e', NULL);
SELECT zd_abort(:pid);
INSERT INTO accounts (id, email, plan) VALUES (1009, 'e', NULL);
SELECT id, plan FROM accounts WHERE id IN (1008, 1009) ORDER BY id;
\d accounts

SET zero_downtime.mode = off;
DROP TABLE accounts;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
