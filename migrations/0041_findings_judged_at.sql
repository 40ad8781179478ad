-- A finding points at the versions it judged: judged_at is the moment the loader last judged
-- the finding's rows (the start of the run's transaction that wrote it), so the rows as it
-- saw them are those read with known_on => judged_at (migration 0040 keeps every version).
-- A resolved finding keeps the moment it was resolved on, as it keeps its details
-- (weston-loader/sql/upsert_findings.sql). Findings stored before this migration take its
-- moment, which is where the history of their rows begins too.
ALTER TABLE weston_data.quality_findings ADD COLUMN judged_at timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN weston_data.quality_findings.judged_at IS
    'When the finding''s rows were last judged: read them as judged with known_on => judged_at.';
GRANT UPDATE (judged_at) ON TABLE weston_data.quality_findings TO etl_writer;

-- The view shows the column (a column reaches a view only when the view is made again).
CREATE OR REPLACE VIEW weston.quality_findings WITH (security_invoker = true) AS
SELECT * FROM weston_data.quality_findings;
GRANT UPDATE (judged_at) ON weston.quality_findings TO etl_writer;
