-- zd_status() reports the server it runs on and what the rules do differently on its major:
-- one expected output per major (versions.out: 15; _1: 18; _2: 19; _3: 17).
CREATE EXTENSION zero_downtime;
SELECT server_version = current_setting('server_version') AS names_the_server,
       server_version_num = current_setting('server_version_num')::int AS and_its_number
  FROM zd_status();
SELECT note FROM zd_status(), unnest(version_notes) AS note;
DROP EXTENSION zero_downtime;
