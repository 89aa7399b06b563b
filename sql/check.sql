-- zd_check(): what the guard would do with a migration script, without running any of it.
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE orders (id int, customer int, note text);
INSERT INTO orders SELECT g, g % 10, 'n' || g FROM generate_series(1, 100) g;

-- A script as a migration tool would send it, one statement at a time.
SELECT statement, rule, decision, lock, message
  FROM zd_check($$
    CREATE TABLE invoices (id int, order_id int);          -- a new table: nothing to say
    CREATE INDEX invoices_order ON invoices (order_id);    -- on the new table: nothing either
    CREATE INDEX orders_customer ON orders (customer);
    ALTER TABLE orders ADD COLUMN created timestamptz DEFAULT clock_timestamp();
    ALTER TABLE orders ADD COLUMN status text;             -- instant, but its lock is capped
    ALTER TABLE orders ALTER COLUMN customer SET NOT NULL;
  $$);

-- The safe SQL for a refusal.
SELECT safe_sql FROM zd_check('ALTER TABLE orders ALTER COLUMN id TYPE bigint');

-- Knex, Drizzle Kit and Prisma run a migration in one transaction: rewrites become refusals.
SELECT statement, rule, decision FROM zd_check($$
    CREATE INDEX orders_customer ON orders (customer);
    ALTER TABLE orders ALTER COLUMN customer SET NOT NULL;
  $$, in_transaction => true);
-- BEGIN ... COMMIT inside the script counts too.
SELECT statement, rule, decision FROM zd_check($$
    BEGIN;
    CREATE INDEX orders_customer ON orders (customer);
    COMMIT;
    CREATE INDEX orders_customer ON orders (customer);
  $$);

-- Nothing ran.
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'orders'::regclass;
SELECT to_regclass('invoices') AS invoices;

-- zd_check decides as enforce mode would, whatever the session's mode.
SET zero_downtime.mode = warn;
SELECT rule, decision FROM zd_check('DROP TABLE orders');
RESET zero_downtime.mode;
-- It honours zero_downtime.allow (the lock cap still applies).
SET zero_downtime.allow = 'drop-table';
SELECT rule, decision FROM zd_check('DROP TABLE orders');
RESET zero_downtime.allow;

-- Bad input: a clear error, nothing changed.
SELECT * FROM zd_check('CREATE INDEX ON');
SELECT * FROM zd_check(NULL);
SELECT count(*) AS findings FROM zd_check('');

-- A column the script adds earlier is named in what is said of it (it was an empty name).
SELECT statement, rule, decision, message FROM zd_check($$
  ALTER TABLE orders ADD COLUMN region text;
  ALTER TABLE orders ALTER COLUMN region SET NOT NULL;
$$);

-- The script's own effects (issue 18, item 14).  A CHECK it adds makes a later SET NOT NULL a
-- catalog change, as in the real run (statement 2 was judged against the catalog before the
-- script: set-not-null).
SELECT statement, rule, decision, message FROM zd_check($$
  ALTER TABLE orders ADD CONSTRAINT orders_customer_present CHECK (customer IS NOT NULL);
  ALTER TABLE orders ALTER COLUMN customer SET NOT NULL;
$$);
-- NOT VALID proves nothing until VALIDATE CONSTRAINT; a dropped one no longer proves.
SELECT statement, rule, decision FROM zd_check($$
  ALTER TABLE orders ADD CONSTRAINT orders_customer_present CHECK (customer IS NOT NULL) NOT VALID;
  ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_present;
  ALTER TABLE orders ALTER COLUMN customer SET NOT NULL;
$$);
SELECT statement, rule, decision FROM zd_check($$
  ALTER TABLE orders ADD CONSTRAINT orders_customer_present CHECK (customer IS NOT NULL) NOT VALID;
  ALTER TABLE orders ALTER COLUMN customer SET NOT NULL;
$$);
SELECT statement, rule, decision FROM zd_check($$
  ALTER TABLE orders ADD CONSTRAINT orders_customer_present CHECK (NOT (customer IS NULL));
  ALTER TABLE orders DROP CONSTRAINT orders_customer_present;
  ALTER TABLE orders ALTER COLUMN customer SET NOT NULL;
$$);
-- A column made NOT NULL earlier is no nullable key column of a later PRIMARY KEY.
SELECT statement, rule, position('SET NOT NULL' IN safe_sql) > 0 AS scans_for_nulls
  FROM zd_check($$
    ALTER TABLE orders ADD CONSTRAINT orders_id_present CHECK (id IS NOT NULL);
    ALTER TABLE orders ALTER COLUMN id SET NOT NULL;
    ALTER TABLE orders ADD PRIMARY KEY (id);
  $$) WHERE rule <> 'lock-cap';
-- A column the script adds is judged with the type it gives it (statement 3 rewrites the table
-- when it runs: it was said nothing of).
SELECT statement, rule, decision, message FROM zd_check($$
  ALTER TABLE orders ADD COLUMN region text;
  ALTER TABLE orders ALTER COLUMN region TYPE varchar;
  ALTER TABLE orders ALTER COLUMN region TYPE varchar(10);
$$);
-- A table the script creates is new, even when one of that name existed and the script dropped
-- it first (statement 3 was judged on the old table: create-index).
CREATE TABLE events (id int, at timestamptz);
INSERT INTO events SELECT g, now() FROM generate_series(1, 100) g;
SELECT statement, rule, decision FROM zd_check($$
  DROP TABLE events;
  CREATE TABLE events (id bigint, at timestamptz);
  CREATE INDEX events_at ON events (at);
  ALTER TABLE events ALTER COLUMN id SET NOT NULL;
$$);
-- NOT NULL the script drops (of the catalog) is no longer there for a later SET NOT NULL; one it
-- sets is.
ALTER TABLE events ALTER COLUMN at SET NOT NULL;
SELECT statement, rule, decision FROM zd_check($$
  ALTER TABLE events ALTER COLUMN at DROP NOT NULL;
  ALTER TABLE events ALTER COLUMN at SET NOT NULL;
  ALTER TABLE events ALTER COLUMN at SET NOT NULL;
$$);
-- ... unless that is rolled back.
SELECT statement, rule, decision FROM zd_check($$
  BEGIN;
  DROP TABLE events;
  CREATE TABLE events (id bigint, at timestamptz);
  ROLLBACK;
  CREATE INDEX events_at ON events (at);
$$);

-- How the script is sent.  In one transaction the ACCESS EXCLUSIVE lock of statement 1 is held
-- through statement 2's scan, as the guard refuses when it runs (it was said nothing of).
SELECT statement, rule, decision, message FROM zd_check($$
  ALTER TABLE orders ADD CONSTRAINT orders_id_positive CHECK (id > 0) NOT VALID;
  ALTER TABLE orders VALIDATE CONSTRAINT orders_id_positive;
$$, in_transaction => true);
-- The guard's own hint, one statement at a time: fine.
SELECT statement, rule, decision FROM zd_check($$
  ALTER TABLE orders ADD CONSTRAINT orders_id_positive CHECK (id > 0) NOT VALID;
  ALTER TABLE orders VALIDATE CONSTRAINT orders_id_positive;
$$, sent_as => 'statements');
-- A COMMIT between them releases the lock; ROLLBACK TO SAVEPOINT does too.
SELECT statement, rule, decision FROM zd_check($$
  ALTER TABLE orders ADD CONSTRAINT orders_id_positive CHECK (id > 0) NOT VALID;
  COMMIT;
  BEGIN;
  ALTER TABLE orders VALIDATE CONSTRAINT orders_id_positive;
  SAVEPOINT s;
  LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
  ROLLBACK TO SAVEPOINT s;
  ALTER TABLE orders VALIDATE CONSTRAINT orders_id_positive;
  LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
  ALTER TABLE orders VALIDATE CONSTRAINT orders_id_positive;
$$, sent_as => 'transaction');
-- Prisma Migrate sends a migration file as one query string: an implicit transaction block, in
-- which CREATE INDEX CONCURRENTLY fails (25001) ...
SELECT statement, rule, decision, message FROM zd_check($$
  CREATE INDEX CONCURRENTLY orders_note ON orders (note);
  CREATE INDEX orders_customer ON orders (customer);
$$, sent_as => 'query_string');
-- ... while a file of one statement runs in autocommit.
SELECT statement, rule, decision FROM zd_check(
  'CREATE INDEX orders_customer ON orders (customer);', sent_as => 'query_string');
-- The first form still works: in_transaction => true is sent_as => 'transaction'.
SELECT statement, rule, decision FROM zd_check(
  'CREATE INDEX orders_customer ON orders (customer)', in_transaction => true);
-- Anything else: 22023, naming the accepted values; NULL: 22004.
DO $$
BEGIN
  PERFORM zd_check('CREATE INDEX ON orders (id)', sent_as => 'autocommit');
EXCEPTION WHEN invalid_parameter_value THEN
  RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
SELECT * FROM zd_check('CREATE INDEX ON orders (id)', sent_as => NULL);

-- Nothing ran.
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'orders'::regclass;
SELECT conname FROM pg_constraint WHERE conrelid = 'orders'::regclass;
SELECT attname FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0 ORDER BY attnum;

SET zero_downtime.mode = off;
DROP TABLE orders, events;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
