-- The comments of the ETL provenance functions (pg_weston/src/etl.rs).
COMMENT ON FUNCTION weston_etl_begin(text, date, date) IS 'Starts an etl_run (status running); returns its run_id.';
COMMENT ON FUNCTION weston_etl_progress(bigint, bigint) IS 'Adds rows to rows_loaded in the caller''s transaction and refreshes the heartbeat.';
COMMENT ON FUNCTION weston_etl_finish(bigint) IS 'Marks a running etl_run succeeded.';
COMMENT ON FUNCTION weston_etl_finish_partial(bigint, text) IS 'Marks a running etl_run partial: finished, but some data could not be had from any provider (the summary says which; its stats list them).';
COMMENT ON FUNCTION weston_etl_fail(bigint, text) IS 'Marks a running etl_run failed with its error text (call it after the failed batch rolled back).';
COMMENT ON FUNCTION weston_etl_skip(text, text) IS 'Records a skipped etl_run (another run held the lock), finished now, with the reason; returns its run_id.';
COMMENT ON FUNCTION weston_etl_set_stats(bigint, jsonb) IS 'Replaces a running etl_run''s stats (what the run did, per provider and table).';
COMMENT ON FUNCTION weston_etl_reap(interval) IS 'Marks running etl_runs whose heartbeat is older than stale_after as abandoned; returns how many.';
