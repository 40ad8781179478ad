-- A finding of the run $6 (rule, symbol, date, subject, details): seen again, its last_run
-- and details are updated, never duplicated; a resolved one stays resolved.
INSERT INTO quality_findings AS f (rule, symbol, date, subject, details, first_run, last_run)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT ON CONSTRAINT quality_findings_once
DO UPDATE SET last_run = greatest(f.last_run, EXCLUDED.last_run), details = EXCLUDED.details
