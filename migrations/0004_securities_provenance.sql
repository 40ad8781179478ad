-- Security metadata carries its provenance like every other row the loader writes.
-- Nullable: rows added by hand (an operator adding a symbol to the universe) have none.
ALTER TABLE securities
    ADD COLUMN provider text CONSTRAINT securities_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock')),
    ADD COLUMN run_id bigint CONSTRAINT securities_run_id_fkey REFERENCES etl_run (run_id);

-- Runs whose loader was killed stay `running` until reaped: the next loader run reaps them,
-- and so does this nightly job where pg_cron is installed in this database (see 0002),
-- with the default staleness of weston_etl_reap().
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.schedule_in_database(
            'weston_etl_reap', '10 6 * * *', 'SELECT weston_etl_reap()', current_database());
    END IF;
END
$$;
