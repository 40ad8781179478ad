-- verify: the pg_cron jobs of database $1, by name, by what they do.
SELECT coalesce(j.jobname, j.command) AS object,
       pg_catalog.jsonb_build_object('schedule', j.schedule, 'command', j.command,
                                     'username', j.username, 'active', j.active) AS fields
  FROM cron.job j
 WHERE j.database = $1
