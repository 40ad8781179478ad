-- status: open findings per rule, the oldest's date and the last run that saw one.
SELECT rule, count(*) AS open, min(date) AS oldest, max(last_run) AS last_seen_by
  FROM quality_findings
 WHERE resolved_at IS NULL
 GROUP BY rule
 ORDER BY rule
