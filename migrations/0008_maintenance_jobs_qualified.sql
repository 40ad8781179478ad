-- No road from any role to superuser. pg_cron runs the nightly jobs as the
-- superuser who scheduled them, with that superuser's default search_path; since
-- pg_weston 0.3.0 the extension's functions do their work on the market-data tables as
-- the tables' owner (dba), never as that superuser. What the job's command itself names
-- must not depend on a search_path either: the reaping job of migration 0004 was
-- unqualified, and is re-scheduled here schema-qualified like rotation's (0003).
-- Re-running is harmless: any earlier job of the name for this database is replaced.
DO $$
DECLARE
    ext_schema name;
    old_job bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    SELECT n.nspname INTO STRICT ext_schema
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_weston';
    FOR old_job IN
        SELECT jobid FROM cron.job
         WHERE jobname = 'weston_etl_reap' AND database = pg_catalog.current_database()
    LOOP
        PERFORM cron.unschedule(old_job);
    END LOOP;
    PERFORM cron.schedule_in_database(
        'weston_etl_reap', '10 6 * * *',
        pg_catalog.format('SELECT %I.weston_etl_reap()', ext_schema),
        pg_catalog.current_database());
END
$$;
