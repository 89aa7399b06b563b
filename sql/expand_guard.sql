-- The guard knows the migrations, for every client: DDL on a column an active migration owns
-- is refused (ZD004) naming the call legal now; DROP COLUMN of the old column once the
-- migration may contract runs its contract.  The rename-column and alter-column-type refusals
-- name the zd_expand_* calls.
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;

CREATE TABLE users (id int PRIMARY KEY, email text, name text);
INSERT INTO users SELECT g, 'u' || g, 'n' || g FROM generate_series(1, 100) g;

-- Not in a migration: the refusals name the expand/contract calls.
ALTER TABLE users RENAME COLUMN email TO email_address;
ALTER TABLE users ALTER COLUMN id TYPE bigint;

SELECT zd_expand_rename_column('users', 'email', 'email_address') AS id \gset
-- The old column before the migration may contract, the new column, any change: refused.
\set VERBOSITY sqlstate
ALTER TABLE users DROP COLUMN email;
\set VERBOSITY default
ALTER TABLE users DROP COLUMN email;
ALTER TABLE users DROP COLUMN email_address;
ALTER TABLE users RENAME COLUMN email_address TO mail;
ALTER TABLE users ALTER COLUMN email TYPE varchar(20);
-- Other columns are the guard's usual business.
ALTER TABLE users RENAME COLUMN name TO full_name;
-- zd_check (the linter) decides as the guard does.
SELECT rule, decision FROM zd_check('ALTER TABLE users DROP COLUMN email');

SELECT zd_migrate(:id);
CALL zd_deferred_wait('60s');
-- Ready: DROP COLUMN of the old column is its contract; in one statement with other changes
-- it is refused.
ALTER TABLE users DROP COLUMN email, ADD COLUMN extra int;
ALTER TABLE users DROP COLUMN email;
SELECT phase FROM zd_migrations WHERE id = :id;
\d users
SELECT id, email_address FROM users ORDER BY id LIMIT 3;

SET zero_downtime.mode = off;
DROP TABLE users;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
