-- Findings of one run ($1: the run; $2: a jsonb array of {rule, symbol, date, subject, details}).
-- Seen again: last_run moves and, while the finding is open, its details are refreshed; a
-- resolved finding keeps the details it was resolved on, and judged_at (migration 0041), the
-- moment of the rows it judged. Returns whether each row was new.
INSERT INTO quality_findings AS f (rule, symbol, date, subject, details, first_run, last_run)
SELECT n.rule, n.symbol, n.date, coalesce(n.subject, ''), n.details, $1, $1
  FROM jsonb_to_recordset($2) AS n(rule text, symbol text, date date, subject text, details jsonb)
ON CONFLICT ON CONSTRAINT quality_findings_once DO UPDATE
   SET last_run = greatest(f.last_run, EXCLUDED.last_run),
       details = CASE WHEN f.resolved_at IS NULL THEN EXCLUDED.details ELSE f.details END,
       judged_at = CASE WHEN f.resolved_at IS NULL THEN now() ELSE f.judged_at END
RETURNING (xmax = 0) AS inserted
