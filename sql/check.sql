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

SET zero_downtime.mode = off;
DROP TABLE orders;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
