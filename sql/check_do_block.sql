-- zd_check() of DO blocks: PL/pgSQL's own compiler reads the block (nothing runs).  PostgreSQL
-- 16 and later do not export that compiler to other modules: there each PL/pgSQL block is
-- reported as one that cannot be judged (expected/check_do_block_1.out).
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE orders (id int, customer int, note text);
INSERT INTO orders SELECT g, g % 10, 'n' || g FROM generate_series(1, 100) g;

-- DO blocks: their statements are judged as the guard judges them inside the block (no
-- rewrite possible there: refused); EXECUTE of a computed string cannot be known.
SELECT statement, rule, decision, message FROM zd_check($$
  ALTER TABLE orders ADD COLUMN region text;
  DO $do$
  BEGIN
    IF NOT EXISTS (SELECT FROM pg_indexes WHERE indexname = 'orders_customer') THEN
      CREATE INDEX orders_customer ON orders (customer);
    END IF;
    EXECUTE 'ALTER TABLE orders ALTER COLUMN note SET NOT NULL';
    EXECUTE format('ALTER TABLE %I ALTER COLUMN region SET NOT NULL', 'orders');
    CREATE INDEX CONCURRENTLY orders_note ON orders (note);
  EXCEPTION WHEN duplicate_table THEN
    RAISE NOTICE 'already there';
  END
  $do$;
  DO LANGUAGE plpython3u $py$ plpy.execute("CREATE INDEX ON orders (id)") $py$;
$$);
-- A DO block's effects count for what follows it.
SELECT statement, rule, decision FROM zd_check($$
  DO $do$ BEGIN
    ALTER TABLE orders ADD CONSTRAINT orders_customer_present CHECK (customer IS NOT NULL);
  END $do$;
  ALTER TABLE orders ALTER COLUMN customer SET NOT NULL;
$$);
-- Nothing ran.
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'orders'::regclass;
SELECT conname FROM pg_constraint WHERE conrelid = 'orders'::regclass;
SELECT attname FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0 ORDER BY attnum;

SET zero_downtime.mode = off;
DROP TABLE orders;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
