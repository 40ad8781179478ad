-- status: the latest run that reconciled with a second provider, and what it found.
SELECT run_id, stats->'reconciliation' AS reconciliation
  FROM etl_run
 WHERE jsonb_typeof(stats->'reconciliation') = 'object'
 ORDER BY run_id DESC
 LIMIT 1
