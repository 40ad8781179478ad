-- What the data-quality audit found, stored next to the untouched raw data. One row
-- per (rule, symbol, date, subject): seen again by a later run, the row's last_run and details
-- are updated, never duplicated; a resolved finding stays resolved (a later run only bumps
-- last_run). `subject` tells two findings of one rule on one day apart (e.g. reconciliation's
-- `close` and `volume`, or a provider pair); '' when the rule needs none. Resolutions are
-- written by the dba through weston_resolve_finding (pg_weston), never by hand.
CREATE TABLE quality_findings (
    finding_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule        text NOT NULL,
    symbol      text NOT NULL,
    date        date NOT NULL,
    subject     text NOT NULL DEFAULT '',
    details     jsonb NOT NULL,
    first_run   bigint NOT NULL REFERENCES etl_run (run_id),
    last_run    bigint NOT NULL REFERENCES etl_run (run_id),
    resolved_at timestamptz NULL,
    resolution  text NULL,
    resolved_by text NULL,
    resolution_note text NULL,
    CONSTRAINT quality_findings_once UNIQUE (rule, symbol, date, subject),
    CONSTRAINT quality_findings_resolution_known
        CHECK (resolution IS NULL OR resolution IN ('true_event', 'corrected', 'false_positive')),
    CONSTRAINT quality_findings_resolved_whole
        CHECK ((resolution IS NULL) = (resolved_at IS NULL) AND (resolution IS NULL) = (resolved_by IS NULL)),
    CONSTRAINT quality_findings_runs_ordered CHECK (first_run <= last_run)
);
-- status and the exporter count open findings by rule on every call and scrape.
CREATE INDEX quality_findings_open ON quality_findings (rule) WHERE resolved_at IS NULL;

GRANT SELECT ON TABLE quality_findings TO etl_writer, app_rw, app_ro, dba;
GRANT INSERT, UPDATE ON TABLE quality_findings TO etl_writer;
