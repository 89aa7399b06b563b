-- zd_rule_stats: per-rule counters of rewrites, refusals, warnings and lock retries.
CREATE EXTENSION zero_downtime;
SELECT zd_rule_stats_reset();
SET zero_downtime.small_table_size = 0;
CREATE TABLE counted (id int);
INSERT INTO counted SELECT generate_series(1, 10);

CREATE INDEX counted_id ON counted (id);                   -- rewritten
ALTER TABLE counted ALTER COLUMN id TYPE bigint;           -- refused
SET zero_downtime.mode = warn;
ALTER TABLE counted ALTER COLUMN id TYPE bigint;           -- warned
RESET zero_downtime.mode;

SELECT rule, rewritten, refused, warned, lock_retries FROM zd_rule_stats
 WHERE rewritten + refused + warned + lock_retries > 0 ORDER BY rule;
SELECT count(*) AS rows FROM zd_rule_stats;  -- every rule, and lock-cap
SELECT zd_rule_stats_reset();
SELECT sum(rewritten + refused + warned + lock_retries) AS after_reset FROM zd_rule_stats;

-- Resetting is for superusers and those granted it.
CREATE ROLE zd_stats_reader;
SET ROLE zd_stats_reader;
SELECT count(*) > 0 AS can_read FROM zd_rule_stats;
SELECT zd_rule_stats_reset();
RESET ROLE;
DROP ROLE zd_stats_reader;

SET zero_downtime.mode = off;
DROP TABLE counted;
RESET zero_downtime.mode;
DROP EXTENSION zero_downtime;
