-- add-column-volatile-default, add-column-generated-stored, add-column-not-null,
-- alter-column-type: refused where PostgreSQL would rewrite or scan the table; the instant
-- forms pass.  Rewrites are decided from the catalog (coercions, typmods, domains), as
-- tablecmds.c decides them, not from type names.
CREATE EXTENSION zero_downtime;
SET zero_downtime.small_table_size = 0;
CREATE TABLE accounts (id int, name varchar(20), balance numeric(10,2), created timestamp);
INSERT INTO accounts SELECT g, 'a' || g, g, '2026-01-01' FROM generate_series(1, 100) g;

-- Refused: a rewrite of every row.
ALTER TABLE accounts ADD COLUMN seen timestamptz DEFAULT clock_timestamp();
ALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE accounts ADD COLUMN seq bigserial;
ALTER TABLE accounts ADD COLUMN ident int GENERATED ALWAYS AS IDENTITY;
ALTER TABLE accounts ADD COLUMN double_balance numeric GENERATED ALWAYS AS (balance * 2) STORED;
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
ALTER TABLE accounts ADD COLUMN score positive_int DEFAULT 1;
-- Refused: NOT NULL without a default can only fail on a table with rows.
ALTER TABLE accounts ADD COLUMN region text NOT NULL;

-- Allowed: instant since PostgreSQL 11 (constant or STABLE default, or none).
ALTER TABLE accounts ADD COLUMN note text;
ALTER TABLE accounts ADD COLUMN status text NOT NULL DEFAULT 'active';
ALTER TABLE accounts ADD COLUMN updated timestamptz DEFAULT now();
CREATE DOMAIN any_text AS text;
ALTER TABLE accounts ADD COLUMN label any_text DEFAULT 'x';

-- alter-column-type: refused when the stored bytes change ...
ALTER TABLE accounts ALTER COLUMN id TYPE bigint;
ALTER TABLE accounts ALTER COLUMN name TYPE varchar(10);
ALTER TABLE accounts ALTER COLUMN balance TYPE numeric(12,3);
ALTER TABLE accounts ALTER COLUMN note TYPE positive_int USING 1;
-- ... allowed when they do not (binary-coercible, wider typmod, unconstrained domain).
ALTER TABLE accounts ALTER COLUMN name TYPE varchar(40);
ALTER TABLE accounts ALTER COLUMN name TYPE text;
ALTER TABLE accounts ALTER COLUMN balance TYPE numeric(14,2);
ALTER TABLE accounts ALTER COLUMN note TYPE any_text;
-- ... nor with USING the column itself, bare or cast (Knex's .alter() sends that), planned as
-- PostgreSQL plans it; cast to a type whose bytes differ, refused.
ALTER TABLE accounts ALTER COLUMN name TYPE text USING ("name"::text);
ALTER TABLE accounts ALTER COLUMN balance TYPE numeric(14,2) USING balance;
ALTER TABLE accounts ALTER COLUMN id TYPE bigint USING (id::bigint);
\d accounts

-- ADD COLUMN with a constraint of its own scans every row (or builds an index) under the
-- ADD's ACCESS EXCLUSIVE lock: refused, with the column added first and the constraint the
-- safe way; the printed statements run.
ALTER TABLE accounts ADD COLUMN score int CHECK (score >= 0);
ALTER TABLE accounts ADD COLUMN code text UNIQUE, ADD COLUMN memo text;
ALTER TABLE accounts ADD COLUMN rank int CONSTRAINT accounts_rank_pos CHECK (rank > 0) NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN score int;
ALTER TABLE public.accounts ADD CONSTRAINT accounts_score_check CHECK (score >= 0) NOT VALID;
ALTER TABLE public.accounts VALIDATE CONSTRAINT accounts_score_check;

-- A widening that rewrites nothing still checks every CHECK constraint on the column again:
-- rewritten with the constraints dropped and re-added NOT VALID in the same statement, then
-- validated.  A new collation rebuilds the column's indexes: refused.
ALTER TABLE accounts ADD CONSTRAINT accounts_balance_positive CHECK (balance >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_balance_positive;
ALTER TABLE accounts ALTER COLUMN balance TYPE numeric(16,2);
SELECT conname, convalidated FROM pg_constraint WHERE conname = 'accounts_balance_positive';
CREATE INDEX CONCURRENTLY accounts_note ON accounts (note);
ALTER TABLE accounts ALTER COLUMN note TYPE any_text COLLATE "C";

-- A domain's volatile default rewrites as a column's own does; DEFAULT NULL keeps it off the
-- existing rows (the hint, run as printed).
CREATE DOMAIN stamp AS timestamptz DEFAULT clock_timestamp();
ALTER TABLE accounts ADD COLUMN seen stamp;
ALTER TABLE public.accounts ADD COLUMN seen stamp DEFAULT NULL;
-- PRIMARY KEY USING INDEX makes nullable key columns NOT NULL, scanning: rewritten (the NOT
-- NULL steps first); in a transaction block, refused with them.
CREATE UNIQUE INDEX CONCURRENTLY accounts_id_unique ON accounts (id);
BEGIN;
ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_id_unique;
ROLLBACK;
ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_id_unique;
SELECT conname, contype FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND contype = 'p';

-- A partitioned table holding rows: NOT NULL with a constant default is a catalog change on
-- every partition (it was refused as "NOT NULL without a default"); without a default it is not.
SET zero_downtime.mode = off;
CREATE TABLE ledger (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE ledger_2026 PARTITION OF ledger FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO ledger SELECT g, date '2026-01-01' + g % 300 FROM generate_series(1, 100) g;
RESET zero_downtime.mode;
ALTER TABLE ledger ADD COLUMN c int NOT NULL DEFAULT 1;
ALTER TABLE ledger ADD COLUMN d int NOT NULL;
SELECT count(*) FILTER (WHERE c = 1) AS filled FROM ledger;

SET zero_downtime.mode = off;
DROP TABLE ledger;
DROP TABLE accounts;
DROP DOMAIN positive_int;
DROP DOMAIN any_text;
DROP DOMAIN stamp;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
