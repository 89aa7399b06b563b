-- add-check, add-foreign-key, set-not-null, add-unique, add-primary-key, add-exclude.  Each
-- rewrite commits step by step; a failure part way says what was committed and left behind,
-- with the SQL to finish or to undo.
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE customers (id int NOT NULL, email text);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 100) g;
CREATE UNIQUE INDEX CONCURRENTLY customers_id ON customers (id);
CREATE TABLE orders (id int, customer int, qty int);
INSERT INTO orders SELECT g, g % 100 + 1, g % 7 FROM generate_series(1, 1000) g;

-- add-check: NOT VALID, then VALIDATE.  Unnamed: the guard names it.
ALTER TABLE orders ADD CONSTRAINT orders_qty_nonneg CHECK (qty >= 0);
ALTER TABLE orders ADD CHECK (id > 0);
SELECT conname, convalidated FROM pg_constraint
 WHERE conrelid = 'orders'::regclass AND contype = 'c' ORDER BY 1;
-- Validation fails: the NOT VALID constraint stays, and the error says how to finish or undo.
ALTER TABLE orders ADD CONSTRAINT orders_qty_pos CHECK (qty > 0);
\echo :LAST_ERROR_SQLSTATE
SELECT conname, convalidated FROM pg_constraint WHERE conname = 'orders_qty_pos';
ALTER TABLE public.orders DROP CONSTRAINT IF EXISTS orders_qty_pos;
-- The safe forms are untouched.
ALTER TABLE orders ADD CONSTRAINT orders_qty_small CHECK (qty < 100) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_qty_small;

-- add-foreign-key
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer) REFERENCES customers (id);
ALTER TABLE orders ADD FOREIGN KEY (id) REFERENCES customers (id);
\echo :LAST_ERROR_SQLSTATE
SELECT conname, convalidated FROM pg_constraint
 WHERE conrelid = 'orders'::regclass AND contype = 'f' ORDER BY 1;
ALTER TABLE public.orders DROP CONSTRAINT IF EXISTS orders_id_fkey;

-- set-not-null: four steps, each in its own transaction.
ALTER TABLE orders ALTER COLUMN customer SET NOT NULL;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'customer';
-- (The helpers are CHECK constraints, contype 'c': PostgreSQL 18 catalogues NOT NULL constraints
-- too, contype 'n', named table_column_not_null as well.)
SELECT count(*) AS helper_constraints FROM pg_constraint WHERE conname LIKE '%not_null%' AND contype = 'c';
-- With a valid CHECK (col IS NOT NULL) SET NOT NULL does not scan: allowed as written.
ALTER TABLE orders ADD CONSTRAINT orders_qty_nn CHECK (qty IS NOT NULL) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_qty_nn;
ALTER TABLE orders ALTER COLUMN qty SET NOT NULL;
-- NULLs present: validation fails and the helper constraint is named.
UPDATE orders SET id = NULL WHERE id = 1;
ALTER TABLE orders ALTER COLUMN id SET NOT NULL;
ALTER TABLE public.orders DROP CONSTRAINT IF EXISTS orders_id_not_null;
SELECT count(*) AS helper_constraints FROM pg_constraint WHERE conname LIKE '%not_null%' AND contype = 'c';
DELETE FROM orders WHERE id IS NULL;
-- A re-run after an interrupted run finishes it with the helper that run left (named
-- table_column_not_null whatever is in the catalog): validated, used, dropped; not a second
-- helper beside it.
CREATE TABLE shipments (id int, carrier int);
INSERT INTO shipments SELECT g, g % 3 FROM generate_series(1, 300) g;
UPDATE shipments SET id = NULL WHERE id = 7;
ALTER TABLE shipments ALTER COLUMN id SET NOT NULL;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'shipments'::regclass;
UPDATE shipments SET id = 7 WHERE id IS NULL;
ALTER TABLE shipments ALTER COLUMN id SET NOT NULL;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'shipments'::regclass AND attname = 'id';
SELECT count(*) AS helper_constraints FROM pg_constraint WHERE conrelid = 'shipments'::regclass AND contype = 'c';
-- Interrupted after SET NOT NULL committed: the re-run drops the helper.
SET zero_downtime.mode = off;
ALTER TABLE shipments ADD CONSTRAINT shipments_carrier_not_null CHECK (carrier IS NOT NULL);
ALTER TABLE shipments ALTER COLUMN carrier SET NOT NULL;
RESET zero_downtime.mode;
ALTER TABLE shipments ALTER COLUMN carrier SET NOT NULL;
SELECT count(*) AS helper_constraints FROM pg_constraint WHERE conrelid = 'shipments'::regclass AND contype = 'c';
-- A constraint of that name that is not such a helper is left alone: the helper takes another.
SET zero_downtime.mode = off;
ALTER TABLE shipments ALTER COLUMN carrier DROP NOT NULL;
ALTER TABLE shipments ADD CONSTRAINT shipments_carrier_not_null CHECK (carrier >= 0);
RESET zero_downtime.mode;
ALTER TABLE shipments ALTER COLUMN carrier SET NOT NULL;
SELECT conname FROM pg_constraint WHERE conrelid = 'shipments'::regclass AND contype = 'c';

-- add-unique: CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX.
ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE (email);
SELECT conname, contype FROM pg_constraint WHERE conrelid = 'customers'::regclass AND contype <> 'n'
 ORDER BY 1;
-- Options it does not carry over: refused, with the steps to adapt.
ALTER TABLE customers ADD CONSTRAINT customers_email_key2 UNIQUE (email) INCLUDE (id);
-- Already the safe form:
ALTER TABLE customers ADD CONSTRAINT customers_id_key UNIQUE USING INDEX customers_id;

-- add-primary-key: the NOT NULL steps first (id is nullable), then the index, then the key.
ALTER TABLE orders ADD PRIMARY KEY (id);
SELECT conname, contype FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'p';
-- Duplicates: the NOT NULL steps commit, the index build fails.
CREATE TABLE items (id int, name text);
INSERT INTO items VALUES (1, 'a'), (1, 'b');
ALTER TABLE items ADD PRIMARY KEY (id);
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'id';
SELECT indexrelid::regclass AS invalid_index FROM pg_index WHERE indrelid = 'items'::regclass AND NOT indisvalid;

-- add-exclude: no online form.
ALTER TABLE customers ADD CONSTRAINT customers_no_overlap EXCLUDE USING btree (id WITH =);

-- ADD CHECK / FOREIGN KEY as one change among several (was XX000 "rewrite position out of
-- range" in every mode): refused with the constraint in a statement of its own; in warn mode
-- and when allowed, the statement runs.
ALTER TABLE orders ADD COLUMN q int, ADD CONSTRAINT orders_q_check CHECK (q > 0);
ALTER TABLE orders ADD COLUMN r int, ADD FOREIGN KEY (customer) REFERENCES customers (id),
                   ALTER COLUMN r SET DEFAULT 1;
SELECT statement, rule, decision FROM zd_check(
  'ALTER TABLE orders ADD COLUMN s int, ADD CHECK ((s > 0) AND (s < 10))');
SET zero_downtime.mode = warn;
ALTER TABLE orders ADD COLUMN q int, ADD CONSTRAINT orders_q_check CHECK (q > 0);
RESET zero_downtime.mode;
BEGIN;
SET LOCAL zero_downtime.allow = 'add-check';
ALTER TABLE orders ADD COLUMN r int, ADD CONSTRAINT orders_r_check CHECK (r > 0);
COMMIT;
SELECT conname FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'c' ORDER BY 1;

-- Several changes whose safe forms cannot be composed into one (found replaying public
-- histories: the hint built an index on a column a later change adds, covered one of two
-- NOT NULLs or foreign keys, dropped a column's NOT NULL and the other changes): the hint is
-- the statement split into one per change, each then judged on its own; every rule that fires
-- is named.
ALTER TABLE orders ADD COLUMN w int, ALTER COLUMN note SET NOT NULL;
ALTER TABLE orders ADD COLUMN tenant text NOT NULL DEFAULT 't1',
  ADD CONSTRAINT orders_tenant_key UNIQUE (tenant, id);
ALTER TABLE orders ADD COLUMN a int, ADD COLUMN b int,
  ADD CONSTRAINT orders_a_fk FOREIGN KEY (a) REFERENCES customers (id),
  ADD CONSTRAINT orders_b_fk FOREIGN KEY (b) REFERENCES customers (id);
ALTER TABLE ONLY "orders" DROP COLUMN note, ADD COLUMN "new" INTEGER NOT NULL;
-- A volatile default on a NOT NULL column: the hint sets NOT NULL again once filled.
ALTER TABLE orders ADD COLUMN u uuid NOT NULL DEFAULT gen_random_uuid();

-- A primary key named with quotes, on nullable columns (as Prisma names them): its safe form
-- names its helper CHECK properly (it wrote "Mem_pkey"_not_null, a syntax error).
CREATE TABLE "Mem" ("userId" int, "orgId" int);
INSERT INTO "Mem" VALUES (1, 1);
ALTER TABLE "Mem" ADD CONSTRAINT "Mem_pkey" PRIMARY KEY ("userId", "orgId");
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '"Mem"'::regclass AND contype = 'p';
-- The SET NOT NULL hint run by hand, one statement at a time, as printed: the third is judged
-- on its own and finishes with the helper it finds, so the fourth drops it IF EXISTS.
CREATE TABLE s (c int);
INSERT INTO s VALUES (1);
ALTER TABLE public.s ADD CONSTRAINT s_c_not_null CHECK (c IS NOT NULL) NOT VALID;
ALTER TABLE public.s VALIDATE CONSTRAINT s_c_not_null;
ALTER TABLE public.s ALTER COLUMN c SET NOT NULL;
ALTER TABLE public.s DROP CONSTRAINT IF EXISTS s_c_not_null;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 's'::regclass AND attname = 'c';

-- Replacing a primary key as Prisma writes it: the hint keeps the DROP, builds the new index
-- under a free name, and runs as printed.
ALTER TABLE orders DROP CONSTRAINT orders_pkey, ADD CONSTRAINT orders_pkey PRIMARY KEY (id, customer);
CREATE UNIQUE INDEX CONCURRENTLY orders_pkey_new ON public.orders (id, customer);
ALTER TABLE orders DROP CONSTRAINT orders_pkey, ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_pkey_new;
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'orders_pkey';

-- alter-domain-check: validating a domain constraint checks every table using the domain under
-- SHARE; NOT VALID does not (the hint's first statement).
CREATE DOMAIN quantity AS int;
ALTER TABLE orders ADD COLUMN ordered quantity;
ALTER DOMAIN quantity ADD CONSTRAINT quantity_positive CHECK (VALUE > 0);
ALTER DOMAIN quantity ADD CONSTRAINT quantity_positive CHECK (VALUE > 0) NOT VALID;
ALTER DOMAIN quantity VALIDATE CONSTRAINT quantity_positive;

-- long-under-held-lock: VALIDATE CONSTRAINT (safe alone) after a statement that took a lock
-- blocking the application, in the same transaction: the scan would run under that lock.
ALTER TABLE orders ADD CONSTRAINT orders_qty_v CHECK (qty >= 0) NOT VALID;
BEGIN;
LOCK TABLE orders IN SHARE MODE;
ALTER TABLE orders VALIDATE CONSTRAINT orders_qty_v;
ROLLBACK;
-- One query string, as Prisma sends a migration file (the guard's own two-step hint pasted).
ALTER TABLE customers ADD CONSTRAINT customers_id_v CHECK (id > 0) NOT VALID\; ALTER TABLE customers VALIDATE CONSTRAINT customers_id_v;
-- A lock released by ROLLBACK TO SAVEPOINT no longer counts; on its own the VALIDATE runs.
BEGIN;
SAVEPOINT before_lock;
LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;
ROLLBACK TO SAVEPOINT before_lock;
ALTER TABLE orders VALIDATE CONSTRAINT orders_qty_v;
COMMIT;
SELECT conname, convalidated FROM pg_constraint WHERE conname IN ('orders_qty_v', 'customers_id_v');

-- add-foreign-key on a partitioned table: before 18 a foreign key there cannot be NOT VALID
-- and the guard refuses with the per-partition recipe; 18+ adds it NOT VALID (to every
-- partition) and validates it.
CREATE TABLE payments (id int, customer int, at date) PARTITION BY RANGE (at);
CREATE TABLE payments_2026 PARTITION OF payments
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO payments SELECT g, g, '2026-02-01' FROM generate_series(1, 10) g;
ALTER TABLE payments ADD CONSTRAINT payments_customer_fk FOREIGN KEY (customer)
  REFERENCES customers (id);
SELECT conrelid::regclass, conname, convalidated FROM pg_constraint
 WHERE conname = 'payments_customer_fk' ORDER BY 1;

SET zero_downtime.mode = off;
DROP TABLE items, orders, customers, shipments, "Mem", s, payments;
DROP DOMAIN quantity;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
