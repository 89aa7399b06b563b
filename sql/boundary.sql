-- The C++/PostgreSQL boundary: C++ exceptions thrown under an SQL-callable function and under
-- the ProcessUtility hook surface as clean ERRORs with a SQLSTATE; the transaction rolls back,
-- every C++ destructor has run, and the session keeps working.
CREATE EXTENSION zero_downtime;
-- Test-only entry points: the install script does not create them.
CREATE FUNCTION zd_test_throw(text) RETURNS void
    AS 'zero_downtime', 'zd_test_throw' LANGUAGE C STRICT;
CREATE FUNCTION zd_test_live_probes() RETURNS int
    AS 'zero_downtime', 'zd_test_live_probes' LANGUAGE C STRICT;

-- Under an SQL-callable function.
SELECT zd_test_throw('cpp_exception');
\echo :LAST_ERROR_SQLSTATE
SELECT zd_test_throw('bad_alloc');
\echo :LAST_ERROR_SQLSTATE
SELECT zd_test_throw('zd_error');
\echo :LAST_ERROR_SQLSTATE
-- A PostgreSQL ERROR raised while C++ objects are alive keeps its own SQLSTATE (22012).
SELECT zd_test_throw('pg_error');
\echo :LAST_ERROR_SQLSTATE
-- Something that is not a std::exception at all.
SELECT zd_test_throw('unknown');
\echo :LAST_ERROR_SQLSTATE
SELECT zd_test_throw('none');
-- Every object constructed on the way to those errors was destroyed.
SELECT zd_test_live_probes() AS live_probes;

-- The transaction rolls back.
BEGIN;
CREATE TABLE boundary_rolled_back (a int);
SELECT zd_test_throw('bad_alloc');
COMMIT;
SELECT to_regclass('boundary_rolled_back') AS rolled_back_table;

-- Under the hook: zero_downtime.debug_fault makes the guard fail on the next guarded statement.
CREATE TABLE boundary_t (a int);
SET zero_downtime.debug_fault = 'cpp_exception';
CREATE INDEX boundary_t_a ON boundary_t (a);
\echo :LAST_ERROR_SQLSTATE
SET zero_downtime.debug_fault = 'bad_alloc';
CREATE INDEX boundary_t_a ON boundary_t (a);
\echo :LAST_ERROR_SQLSTATE
SET zero_downtime.debug_fault = 'zd_error';
CREATE INDEX boundary_t_a ON boundary_t (a);
\echo :LAST_ERROR_SQLSTATE
SET zero_downtime.debug_fault = 'pg_error';
CREATE INDEX boundary_t_a ON boundary_t (a);
\echo :LAST_ERROR_SQLSTATE
-- In a transaction block, the whole transaction is rolled back.
BEGIN;
INSERT INTO boundary_t VALUES (1);
ALTER TABLE boundary_t ADD COLUMN b int;
COMMIT;
RESET zero_downtime.debug_fault;
SELECT zd_test_live_probes() AS live_probes;

-- Nothing was half done, and the same session keeps working.
SELECT count(*) AS rows_after_rollback FROM boundary_t;
SELECT count(*) AS indexes_after_faults FROM pg_index WHERE indrelid = 'boundary_t'::regclass;
CREATE INDEX boundary_t_a ON boundary_t (a);
SELECT indexrelid::regclass AS index_built FROM pg_index WHERE indrelid = 'boundary_t'::regclass;

-- The hidden fault setting is for superusers only.
CREATE ROLE zd_boundary_app;
SET ROLE zd_boundary_app;
SET zero_downtime.debug_fault = 'cpp_exception';
RESET ROLE;
DROP ROLE zd_boundary_app;

DROP TABLE boundary_t;
DROP FUNCTION zd_test_throw(text);
DROP FUNCTION zd_test_live_probes();
DROP EXTENSION zero_downtime;
