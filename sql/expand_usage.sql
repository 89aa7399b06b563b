-- Contract on evidence: the server records when the old column of an active migration was
-- last read or written, and by which application_name; zd_contract is refused while that is
-- within zero_downtime.contract_quiet_period (naming the applications) or while the server
-- has watched the column for less than that; a role that may SET the setting can force it.
-- (Old and new clients under load, a restart, DROP COLUMN: test/t/016_expand_evidence.pl.)
CREATE EXTENSION zero_downtime;
SET client_min_messages = warning;
-- The messages carry times and durations: shown with those masked.
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  m text; d text; h text; s text;
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
                          h = PG_EXCEPTION_HINT;
  RETURN regexp_replace(s || ': ' || m || E'\nDETAIL: ' || d || E'\nHINT: ' || h,
                        '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d|\d+ s\M', '<t>', 'g');
END $$;

CREATE TABLE accounts (id int PRIMARY KEY, email text, plan text);
INSERT INTO accounts SELECT g, 'a' || g || '@x', 'free' FROM generate_series(1, 100) g;
SELECT zd_expand_rename_column('accounts', 'email', 'email_address') AS id \gset
SELECT zd_migrate(:id) IS NOT NULL AS queued;
CALL zd_deferred_wait('60s');
SELECT phase, watched_since IS NOT NULL AS watched, old_last_used, old_used_by
FROM zd_migrations WHERE id = :id;

SET zero_downtime.contract_quiet_period = '1h';
-- Watched for less than the quiet period: refused, though nothing used the old column.
SELECT try(format('SELECT zd_contract(%s)', :id));

-- Statements of the new code (new column, other columns): not the old side.
SET application_name = 'new-app';
SELECT count(*) FROM accounts WHERE email_address LIKE 'a1%';
UPDATE accounts SET email_address = 'n@x' WHERE id = 1;
INSERT INTO accounts (id, email_address) VALUES (1001, 'new@x');
UPDATE accounts SET plan = 'pro' WHERE id = 2;
EXPLAIN (COSTS OFF) SELECT email FROM accounts WHERE id = 3;
SELECT old_last_used, old_used_by FROM zd_migrations WHERE id = :id;
-- The old code's: a read, a write, COPY; through a view; the whole row.
SET application_name = 'old-reader';
SELECT email FROM accounts WHERE id = 3;
SET application_name = 'old-writer';
INSERT INTO accounts (id, email) VALUES (1002, 'old@x');
SET application_name = 'old-copy';
COPY accounts (id, email) TO stdout WITH (FORMAT csv) \g /dev/null
CREATE VIEW account_emails AS SELECT id, email FROM accounts;
SET application_name = 'old-view';
SELECT count(*) FROM account_emails;
DROP VIEW account_emails;
SET application_name = 'star';
SELECT count(*) FROM (SELECT * FROM accounts) a;
RESET application_name;
SELECT old_last_used IS NOT NULL AS used, old_used_by FROM zd_migrations WHERE id = :id;
SELECT try(format('SELECT zd_contract(%s)', :id));
-- DROP COLUMN of the old column runs the contract: refused the same way.
SELECT try('ALTER TABLE accounts DROP COLUMN email');
SELECT phase FROM zd_migrations WHERE id = :id;

-- Forcing it needs the right to SET the setting.
CREATE ROLE regress_usage_owner;
ALTER TABLE accounts OWNER TO regress_usage_owner;
SET ROLE regress_usage_owner;
SELECT try(format('SELECT zd_contract(%s, force => true)', :id));
RESET ROLE;
GRANT SET ON PARAMETER zero_downtime.contract_quiet_period TO regress_usage_owner;
SET ROLE regress_usage_owner;
BEGIN;
SELECT zd_contract(:id, force => true) IS NOT NULL AS forced;
ROLLBACK;
RESET ROLE;
REVOKE SET ON PARAMETER zero_downtime.contract_quiet_period FROM regress_usage_owner;

-- Allowed once nothing used it for the quiet period (and it was watched that long).
SET zero_downtime.contract_quiet_period = '1s';
SELECT pg_sleep(1.2);
SELECT zd_contract(:id);
SELECT phase, watched_since, old_used_by FROM zd_migrations WHERE id = :id;
\d accounts

-- Only a role that may SET it changes the quiet period.
SET ROLE regress_usage_owner;
SET zero_downtime.contract_quiet_period = 0;
RESET ROLE;

SET zero_downtime.mode = off;
DROP TABLE accounts;
DROP ROLE regress_usage_owner;
DROP EXTENSION zero_downtime;
