-- zero_downtime.defer_in_transaction: in a migration tool's transaction, the brief part of a
-- safe form runs there and the rest after the commit, in a background worker (instead of a
-- refusal).  What was deferred exists exactly when the transaction commits.
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE accounts (id int, owner int, email text);
INSERT INTO accounts SELECT g, g % 10, 'a' || g FROM generate_series(1, 1000) g;
CREATE TABLE owners (id int PRIMARY KEY);
INSERT INTO owners SELECT generate_series(0, 9);

-- Off (the default): refused, as ever.
BEGIN;
CREATE INDEX ON accounts (owner);
ROLLBACK;

SET zero_downtime.defer_in_transaction = on;
BEGIN;
CREATE INDEX ON accounts (owner);
ALTER TABLE accounts ADD CONSTRAINT accounts_owner_fk FOREIGN KEY (owner) REFERENCES owners (id);
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;
-- In the transaction: the constraints NOT VALID (new rows checked at once), no index yet.
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'accounts'::regclass
  AND contype <> 'n' ORDER BY 1;  -- (18 lists its NOT NULL constraints too)
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'accounts'::regclass;
COMMIT;
CALL zd_deferred_wait('60s');
SELECT state, rule, run_sql, attempts, error FROM zd_deferred_status ORDER BY id;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'accounts'::regclass
  AND contype <> 'n' ORDER BY 1;  -- (18 lists its NOT NULL constraints too)
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index WHERE indrelid = 'accounts'::regclass;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'email';

-- A later statement of the same migration that needs the deferred index: its error says why.
BEGIN;
CREATE INDEX accounts_owner_email_idx ON accounts (owner, email);
COMMENT ON INDEX accounts_owner_email_idx IS 'by owner';
ROLLBACK;

-- Rolled back: nothing was queued.
BEGIN;
CREATE INDEX accounts_id_idx ON accounts (id);
ROLLBACK;
SELECT count(*) AS queued FROM zd_deferred_status WHERE run_sql LIKE '%accounts_id_idx%';

-- A deferred step that fails (a NULL the validation finds): failed, with PostgreSQL's error
-- and what was left; the rest of its statement is skipped.
ALTER TABLE accounts ADD COLUMN note text;
BEGIN;
ALTER TABLE accounts ALTER COLUMN note SET NOT NULL;
COMMIT;
CALL zd_deferred_wait('60s');
SELECT state, rule, run_sql, error FROM zd_deferred_status WHERE rule = 'set-not-null'
  ORDER BY id DESC LIMIT 1;
-- zd_deferred_wait() raised that failure (ZD005): the next call returns, as it has nothing new
-- to report.
CALL zd_deferred_wait('60s');
SELECT count(*) AS unreported FROM zd_deferred_status WHERE state = 'failed' AND reported_at IS NULL;
-- A deferred unique index that finds duplicates: failed, and the INVALID index its build left
-- (it would refuse new duplicates) dropped; the constraint's step skipped.  A role that may
-- not see the failure (neither its own nor pg_read_all_stats) is not told of it.
BEGIN;
ALTER TABLE accounts ADD CONSTRAINT accounts_owner_key UNIQUE (owner);
COMMIT;
CREATE ROLE regress_zd_other;
SET ROLE regress_zd_other;
CALL zd_deferred_wait('60s');
RESET ROLE;
DROP ROLE regress_zd_other;
\set VERBOSITY sqlstate
CALL zd_deferred_wait('60s');
\set VERBOSITY default
SELECT state, run_sql, split_part(error, E'\n', 1) AS error FROM zd_deferred_status
  WHERE rule = 'add-unique' ORDER BY id;
SELECT count(*) AS accounts_owner_key FROM pg_class WHERE relname = 'accounts_owner_key';

-- A volatile default: the plain column and its default for new rows now; the batched fill, and
-- the column's NOT NULL, after the commit.  A CALL zd_backfill on a big table likewise.
BEGIN;
ALTER TABLE accounts ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE accounts ADD COLUMN score int;
CALL zd_backfill(relation => 'accounts', set_clause => 'score = id % 7',
                 where_clause => 'score IS NULL');
COMMIT;
CALL zd_deferred_wait('60s');
SELECT state, rule, run_sql, error FROM zd_deferred_status
  WHERE rule IN ('add-column-volatile-default', 'zd_backfill') ORDER BY id;
SELECT count(*) FILTER (WHERE token IS NULL) AS no_token, count(DISTINCT token) AS tokens,
       count(*) FILTER (WHERE score IS NULL) AS no_score FROM accounts;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'token';

-- ADD UNIQUE and ADD PRIMARY KEY: the unique index is built CONCURRENTLY after the commit,
-- then the constraint takes it.  Until then nothing enforces uniqueness (the NOTICE says so).
-- A PRIMARY KEY on a nullable column: its helper CHECK NOT VALID now (new rows checked at
-- once), validated and the column made NOT NULL after the commit, before the build.
CREATE TABLE members (id int, login text);
INSERT INTO members SELECT g, 'm' || g FROM generate_series(1, 1000) g;
BEGIN;
ALTER TABLE members ADD CONSTRAINT members_login_key UNIQUE (login);
ALTER TABLE members ADD PRIMARY KEY (id);
SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = 'members'::regclass
  AND contype <> 'n' ORDER BY 1;
SAVEPOINT new_row;
INSERT INTO members VALUES (NULL, 'no id');  -- refused at once by the helper
ROLLBACK TO SAVEPOINT new_row;
COMMIT;
CALL zd_deferred_wait('60s');
SELECT state, rule, run_sql FROM zd_deferred_status WHERE relation = 'public.members' ORDER BY id;
SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = 'members'::regclass
  AND contype <> 'n' ORDER BY 1;
SELECT indexrelid::regclass AS index, indisvalid, indisprimary FROM pg_index
  WHERE indrelid = 'members'::regclass ORDER BY 1;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'members'::regclass AND attname = 'id';

-- A later statement of the same migration that needs the deferred unique index or constraint:
-- ON CONFLICT (planned in the executor: its error names nothing), ON CONFLICT ON CONSTRAINT,
-- a foreign key referencing it (a name, as USING INDEX, is matched as above).  Each error says
-- it was deferred.
CREATE TABLE handles (id int, handle text);
INSERT INTO handles SELECT g, 'h' || g FROM generate_series(1, 1000) g;
CREATE TABLE mentions (handle text);
BEGIN;
ALTER TABLE handles ADD CONSTRAINT handles_handle_key UNIQUE (handle);
SAVEPOINT later;
INSERT INTO handles VALUES (1001, 'h1001') ON CONFLICT (handle) DO NOTHING;
ROLLBACK TO SAVEPOINT later;
INSERT INTO handles VALUES (1001, 'h1001') ON CONFLICT ON CONSTRAINT handles_handle_key DO NOTHING;
ROLLBACK TO SAVEPOINT later;
ALTER TABLE mentions ADD FOREIGN KEY (handle) REFERENCES handles (handle);
ROLLBACK TO SAVEPOINT later;
-- Rolled back to before the deferral: forgotten (PostgreSQL's error alone).
SAVEPOINT before;
ALTER TABLE handles ADD CONSTRAINT handles_id_key UNIQUE (id);
ROLLBACK TO SAVEPOINT before;
INSERT INTO handles VALUES (1001, 'h1001') ON CONFLICT (id) DO NOTHING;
ROLLBACK;
BEGIN;
CREATE UNIQUE INDEX handles_lower_idx ON handles (lower(handle));
INSERT INTO handles VALUES (1001, 'h1001') ON CONFLICT (lower(handle)) DO NOTHING;
ROLLBACK;
/* zero_downtime: allow drop-table */ DROP TABLE handles, mentions;

-- An ALTER TABLE of several changes (Prisma merges a migration's changes of one table into
-- one): each change runs as a statement of its own through the guard, the brief ones now,
-- the rest deferred.  Every change is kept; the queue records the statement as it was sent.
BEGIN;
ALTER TABLE "members" ADD COLUMN "city" TEXT, ADD COLUMN "stamp" timestamptz DEFAULT clock_timestamp(),
  ADD CONSTRAINT "members_city_key" UNIQUE ("city"), ALTER COLUMN "login" SET NOT NULL;
SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'members'::regclass
  AND attname IN ('city', 'stamp', 'login') ORDER BY 1;
COMMIT;
CALL zd_deferred_wait('60s');
SELECT state, rule, run_sql, statement FROM zd_deferred_status
  WHERE relation = 'public.members' AND statement LIKE '%"city"%' ORDER BY id;
SELECT count(*) FILTER (WHERE stamp IS NULL) AS no_stamp FROM members;
SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = 'members'::regclass
  AND contype <> 'n' ORDER BY 1;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'members'::regclass AND attname = 'login';
-- A change that cannot be deferred (a drop breaks running code; a type change rewrites): the
-- whole statement is refused, its hint the changes one per statement; nothing ran.
BEGIN;
ALTER TABLE members ADD COLUMN zip text, DROP COLUMN city;
ROLLBACK;
BEGIN;
ALTER TABLE members ADD COLUMN zip text, ALTER COLUMN id TYPE bigint;
ROLLBACK;
SELECT count(*) AS zip FROM pg_attribute WHERE attrelid = 'members'::regclass AND attname = 'zip';
-- A comment allowing a rule for the statement allows it for each of its changes.
BEGIN;
/* zero_downtime: allow drop-column */ ALTER TABLE members DROP COLUMN stamp,
  ADD CONSTRAINT members_id_check CHECK (id > 0);
COMMIT;
CALL zd_deferred_wait('60s');
SELECT count(*) AS stamp FROM pg_attribute WHERE attrelid = 'members'::regclass
  AND attname = 'stamp' AND NOT attisdropped;
SELECT convalidated FROM pg_constraint WHERE conname = 'members_id_check';

-- Outside a transaction block nothing is deferred: rewritten as before.
CREATE INDEX accounts_email_idx ON accounts (email);
-- zd_deferred_wait is CALLed on its own.
BEGIN;
CALL zd_deferred_wait();
ROLLBACK;
-- Only the extension's code writes the queue.
CREATE ROLE regress_zd_app;
SET ROLE regress_zd_app;
INSERT INTO zd_deferred (batch, role, search_path, settings, rule, statement, run_sql)
  VALUES (1, 10, 'public', '{}', 'x', 'x', 'DROP TABLE accounts');
SELECT count(*) FROM zd_deferred_status;
RESET ROLE;
DROP ROLE regress_zd_app;

SET zero_downtime.mode = off;
DROP TABLE accounts, owners, members;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
