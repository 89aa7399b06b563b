-- Loading: the library is preloaded (test/regress.conf), so the guard is active in every
-- session; its settings exist under the reserved prefix zero_downtime.
CREATE EXTENSION zero_downtime;
SELECT version, mode, loaded_by, active_in_all_sessions FROM zd_status();
SHOW zero_downtime.mode;
SELECT name, summary FROM zd_rules() ORDER BY name;

SET zero_downtime.mode = 'warn';
SELECT mode FROM zd_status();
RESET zero_downtime.mode;
SET zero_downtime.mode = 'sometimes';

-- The prefix is reserved: a misspelt setting is an error, not a silent placeholder.
SET zero_downtime.mdoe = 'off';

-- Settings that weaken the guard belong to superusers and to roles granted SET on them.
CREATE ROLE zd_load_app;
SET ROLE zd_load_app;
SET zero_downtime.mode = 'off';
SELECT set_config('zero_downtime.mode', 'off', false);
SHOW zero_downtime.mode;
RESET ROLE;
GRANT SET ON PARAMETER zero_downtime.mode TO zd_load_app;
SET ROLE zd_load_app;
SET zero_downtime.mode = 'warn';
SHOW zero_downtime.mode;
RESET zero_downtime.mode;
RESET ROLE;
REVOKE SET ON PARAMETER zero_downtime.mode FROM zd_load_app;
DROP ROLE zd_load_app;

DROP EXTENSION zero_downtime;
