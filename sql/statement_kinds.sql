-- What the guard does with every kind of utility statement of PostgreSQL 15 and every ALTER
-- TABLE subcommand (test/t/011_statement_kinds.pl checks both lists against the server's
-- headers).  A statement kind missing here would still get the lock cap.
CREATE EXTENSION zero_downtime;
\pset format unaligned
\pset fieldsep ' | '
SELECT guard, node_tag, statement, changes_schema, locks FROM zd_statement_kinds()
 ORDER BY guard, node_tag;
SELECT subtype, judged_as, rules, spelling FROM zd_alter_table_subcommands();
SELECT name, looks_at FROM zd_rules();
\pset format aligned
-- Every statement kind that takes a lock blocking the application is gathered.
SELECT count(*) AS statement_kinds, count(*) FILTER (WHERE guard LIKE 'gathered%') AS gathered
  FROM zd_statement_kinds();
DROP EXTENSION zero_downtime;
