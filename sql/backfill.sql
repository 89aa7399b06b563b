-- zd_backfill: a commit per batch, every row right, resumable state, pacing arguments.
-- (Bad input, hostile clauses and privileges: backfill_input.sql.  Crashes, kills and standbys:
-- test/t/006_backfill_resume.pl and 007_backfill_replica.pl.)
CREATE EXTENSION zero_downtime;
-- Rates and timings appear in its NOTICEs: the tests read the progress view instead.
SET client_min_messages = warning;

CREATE TABLE accounts (id int, balance int, balance_cents bigint);
INSERT INTO accounts SELECT g, g % 1000, NULL FROM generate_series(1, 50000) g;
ANALYZE accounts;

-- The three arguments the issue names are enough.
CALL zd_backfill(relation => 'accounts', set_clause => 'balance_cents = balance * 100',
                 where_clause => 'balance_cents IS NULL');
SELECT count(*) AS rows, count(*) FILTER (WHERE balance_cents = balance * 100) AS right_rows
FROM accounts;
-- Small batches: many commits, each with its position.
SELECT name ~ '^accounts/[0-9a-f]{8}$' AS default_name, relation, state, pass, rows_done,
       batches > 1 AS several_batches, next_block = end_block AS at_end, retries,
       finished_at IS NOT NULL AS finished, last_error
FROM zd_backfill_progress;

-- Called again with the same arguments: the same name, one read that finds nothing to do (no pass).
CALL zd_backfill('accounts', 'balance_cents = balance * 100', 'balance_cents IS NULL');
SELECT state, pass, rows_done FROM zd_backfill_progress;

-- Every optional argument, named; a fixed batch size (no target duration).
UPDATE accounts SET balance_cents = NULL WHERE id % 3 = 0;
CALL zd_backfill(relation => 'accounts', set_clause => 'balance_cents = balance * 100',
                 where_clause => 'balance_cents IS NULL', name => 'cents-again',
                 batch_size => 500, target_batch_duration => NULL, pause => '1ms',
                 lock_timeout => '2s', max_replica_lag => '10s', max_retries => 3,
                 progress_interval => '1h');
SELECT name, state, rows_done, batches >= 2 AS batched
FROM zd_backfill_progress WHERE name = 'cents-again';
SELECT count(*) FILTER (WHERE balance_cents IS DISTINCT FROM balance * 100) AS wrong_rows
FROM accounts;

-- The same name with other clauses starts afresh, saying what it replaces (where_clause finds
-- every row still to do, so nothing is lost but the earlier position).
CALL zd_backfill('accounts', 'balance_cents = 0', 'balance_cents IS NULL AND false',
                 name => 'cents-again');
SELECT name, where_clause, rows_done FROM zd_backfill_progress WHERE name = 'cents-again';

-- Rows the application updates between batches keep what the application wrote: where_clause
-- is evaluated on each row's latest version.
UPDATE accounts SET balance_cents = NULL WHERE id <= 10;
UPDATE accounts SET balance_cents = -1 WHERE id = 5;
CALL zd_backfill('accounts', 'balance_cents = balance * 100', 'balance_cents IS NULL');
SELECT id, balance_cents FROM accounts WHERE id IN (4, 5, 6) ORDER BY id;

-- A table without any key or index, and mixed-case, spaced and quoted names.
CREATE TABLE "Odd ""Table"" Name" ("Mixed Case" int, "new col" text);
INSERT INTO "Odd ""Table"" Name" SELECT g, NULL FROM generate_series(1, 1000) g;
CALL zd_backfill('"Odd ""Table"" Name"', '"new col" = "Mixed Case"::text || ''!''',
                 '"new col" IS NULL', name => 'odd names ✓');
SELECT count(*) FILTER (WHERE "new col" = "Mixed Case"::text || '!') AS right_rows
FROM "Odd ""Table"" Name";
SELECT name, relation, state FROM zd_backfill_progress WHERE name = 'odd names ✓';

-- Inside a transaction block nothing can commit: a small table is done in one UPDATE ...
UPDATE accounts SET balance_cents = NULL WHERE id <= 100;
BEGIN;
CALL zd_backfill('accounts', 'balance_cents = balance * 100', 'balance_cents IS NULL',
                 name => 'in-a-block');
SELECT count(*) FILTER (WHERE balance_cents IS NULL) AS still_null FROM accounts;
ROLLBACK;
SELECT count(*) FILTER (WHERE balance_cents IS NULL) AS null_after_rollback FROM accounts;
-- ... and a table that is not small is refused, with how to call it instead.
SET zero_downtime.small_table_size = 0;
BEGIN;
CALL zd_backfill('accounts', 'balance_cents = balance * 100', 'balance_cents IS NULL');
ROLLBACK;
-- The same when called from a function (atomic: only its caller's transaction can commit).
CREATE FUNCTION backfill_from_a_function() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  CALL zd_backfill('accounts', 'balance_cents = balance * 100', 'balance_cents IS NULL');
END $$;
SELECT backfill_from_a_function();
DROP FUNCTION backfill_from_a_function();
-- A DO block run on its own is not atomic (it may COMMIT): there zd_backfill batches.
DO $$ BEGIN CALL zd_backfill('accounts', 'balance_cents = balance * 100',
                              'balance_cents IS NULL', name => 'from-do'); END $$;
SELECT state, rows_done FROM zd_backfill_progress WHERE name = 'from-do';
RESET zero_downtime.small_table_size;
CALL zd_backfill('accounts', 'balance_cents = balance * 100', 'balance_cents IS NULL');
SELECT count(*) FILTER (WHERE balance_cents IS NULL) AS still_null FROM accounts;

-- The state table is the extension's: nobody else writes it, nor reads it but through the view.
CREATE ROLE backfill_reader;
SET ROLE backfill_reader;
SELECT count(*) AS visible_to_another_role FROM zd_backfill_progress;
SELECT count(*) FROM zd_backfill_state;
UPDATE zd_backfill_state SET next_block = 0;
RESET ROLE;
DROP ROLE backfill_reader;

-- A set_clause that leaves where_clause true: every pass finds the same rows again; it stops
-- after five passes with a warning saying what to look at.
CREATE TABLE endless (id int, b int);
INSERT INTO endless SELECT g, NULL FROM generate_series(1, 10) g;
CALL zd_backfill('endless', 'b = NULL', 'b IS NULL', name => 'endless');
SELECT state, pass, rows_done, last_error FROM zd_backfill_progress WHERE name = 'endless';

SET zero_downtime.mode = off;
DROP TABLE accounts, "Odd ""Table"" Name", endless;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
