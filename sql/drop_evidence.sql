-- drop-table and drop-column on evidence: a DROP of a table (or column) that holds rows runs
-- when the server has recorded its use for zero_downtime.contract_quiet_period and no
-- application used it meanwhile.  Recording starts with a refused DROP, zd_track, or (with
-- zero_downtime.track_new_tables) the table's creation; a migration's own statements do not
-- count.  (With the quiet period 0, as elsewhere in these tests, the rules refuse as before.)
-- (Several sessions, waiting out the quiet period: test/t/019_drop_evidence.pl.)
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
CREATE FUNCTION usage_of(t regclass, c name DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
  SELECT format('recorded=%s since_creation=%s used=%s by=%s', tracked_since IS NOT NULL,
                since_creation, last_used IS NOT NULL, used_by)
  FROM zd_usage(t, c) $$;

CREATE TABLE old_events (id int PRIMARY KEY, payload text, note text);
INSERT INTO old_events SELECT g, 'p' || g, 'n' FROM generate_series(1, 100) g;

-- Quiet period 0: not consulted, nothing recorded.
SELECT try('DROP TABLE old_events');
SELECT usage_of('old_events');

SET zero_downtime.contract_quiet_period = '1h';
-- No record yet: refused, and the refusal starts one.
SELECT try('DROP TABLE old_events');
SELECT usage_of('old_events');
-- Recorded for less than the quiet period: refused, though nothing used it.
SELECT try('DROP TABLE old_events');
-- An application uses it: refused, naming it.
SET application_name = 'reporting';
SELECT count(*) FROM old_events;
RESET application_name;
SELECT usage_of('old_events');
SELECT try('DROP TABLE old_events');
-- A DROP SCHEMA ... CASCADE taking it along is judged the same way.
CREATE SCHEMA archive;
CREATE TABLE archive.kept (id int);
INSERT INTO archive.kept VALUES (1);
SELECT try('DROP SCHEMA archive CASCADE');

-- Unused for the quiet period, recorded that long: the DROP runs as written.
SET zero_downtime.contract_quiet_period = '1s';
SELECT pg_sleep(1.2);
SELECT try('DROP TABLE old_events');
SELECT to_regclass('old_events') IS NULL AS dropped;
SELECT try('DROP SCHEMA archive CASCADE');

-- A column: zd_track records it; uses of the other columns do not count.
CREATE TABLE profiles (id int PRIMARY KEY, name text, legacy_flag boolean);
INSERT INTO profiles SELECT g, 'u' || g, true FROM generate_series(1, 100) g;
SELECT zd_track('profiles', 'legacy_flag') IS NOT NULL AS recording;
SELECT zd_track('profiles', 'legacy_flag') = zd_track('profiles', 'legacy_flag') AS same_since;
SET application_name = 'new-code';
SELECT count(*) FROM profiles WHERE name LIKE 'u1%';
UPDATE profiles SET name = 'x' WHERE id = 1;
INSERT INTO profiles (id, name) VALUES (101, 'v');
SELECT usage_of('profiles', 'legacy_flag');
SET application_name = 'old-code';
SELECT count(*) FROM profiles WHERE legacy_flag;
RESET application_name;
SELECT usage_of('profiles', 'legacy_flag');
SELECT try('ALTER TABLE profiles DROP COLUMN legacy_flag');
SELECT pg_sleep(1.2);
-- A migration's own statements (its transaction changed the schema) are not a use.
BEGIN;
ALTER TABLE profiles ADD COLUMN flags int;
UPDATE profiles SET flags = 1 WHERE legacy_flag;
COMMIT;
SELECT usage_of('profiles', 'legacy_flag');
SELECT try('ALTER TABLE profiles DROP COLUMN legacy_flag');
SELECT count(*) FROM pg_attribute WHERE attrelid = 'profiles'::regclass AND attname = 'legacy_flag';
SELECT zd_track('profiles', 'name') IS NOT NULL AS recording;
SELECT zd_untrack('profiles', 'name') AS was_recorded, zd_untrack('profiles', 'name') AS again;

-- zero_downtime.track_new_tables: a table recorded since its creation needs no wait for the
-- record; a fresh install's migrations (create, fill, drop) run through.
SET zero_downtime.contract_quiet_period = '1h';
SET zero_downtime.track_new_tables = on;
BEGIN;
CREATE TABLE staging (id int, v text);
INSERT INTO staging VALUES (1, 'a');
COMMIT;
RESET zero_downtime.track_new_tables;
SELECT usage_of('staging');
BEGIN;
ALTER TABLE staging ADD COLUMN w text;
INSERT INTO staging SELECT g, 'b', 'c' FROM generate_series(2, 50) g;
COMMIT;
SELECT usage_of('staging');
SELECT try('DROP TABLE staging');
-- ... but not once an application used it.
SET zero_downtime.track_new_tables = on;
CREATE TABLE staging2 (id int);
RESET zero_downtime.track_new_tables;
INSERT INTO staging2 VALUES (1);
SELECT usage_of('staging2');
SELECT try('DROP TABLE staging2');

-- Who may: zd_track and zd_untrack for the table's owner; zd_usage shows nothing to others.
CREATE ROLE regress_evidence_other;
GRANT SELECT ON staging2 TO regress_evidence_other;
SET ROLE regress_evidence_other;
SELECT try('SELECT zd_track(''staging2'')');
SELECT try('SELECT zd_untrack(''staging2'')');
SELECT usage_of('staging2');
SELECT try('SET zero_downtime.track_new_tables = on');
RESET ROLE;
-- Bad input: a clear error, nothing changed.
SELECT try('SELECT zd_track(NULL)');
SELECT try('SELECT zd_track(''staging2'', ''nope'')');
CREATE VIEW staging_view AS SELECT * FROM staging2;
SELECT try('SELECT zd_track(''staging_view'')');
CREATE TEMP TABLE scratch (id int);
SELECT try('SELECT zd_track(''scratch'')');
SELECT zd_untrack('staging2') AS was_recorded;
SELECT usage_of('staging2');

RESET zero_downtime.contract_quiet_period;
SET zero_downtime.mode = off;
DROP TABLE profiles, staging2 CASCADE;
DROP SCHEMA IF EXISTS archive CASCADE;
DROP FUNCTION try(text), usage_of(regclass, name);
DROP ROLE regress_evidence_other;
DROP EXTENSION zero_downtime;
