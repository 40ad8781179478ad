-- Re-schedule nightly rotation with a schema-qualified command (pg_cron runs it with the
-- job owner's default search_path, which must not decide which function is called), and
-- make scheduling idempotent: any earlier job of this name for this database is replaced.
DO $$
DECLARE
    ext_schema name;
    old_job bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RAISE NOTICE 'pg_cron is not installed in database %: schedule weston_rotate_partitions() by hand (see README)',
            pg_catalog.current_database();
        RETURN;
    END IF;
    SELECT n.nspname INTO STRICT ext_schema
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_weston';
    FOR old_job IN
        SELECT jobid FROM cron.job
         WHERE jobname = 'weston_rotate_partitions' AND database = pg_catalog.current_database()
    LOOP
        PERFORM cron.unschedule(old_job);
    END LOOP;
    -- 06:15 GMT: after the US close and the providers' end-of-day files, before Europe opens.
    PERFORM cron.schedule_in_database(
        'weston_rotate_partitions', '15 6 * * *',
        pg_catalog.format('SELECT %I.weston_rotate_partitions()', ext_schema),
        pg_catalog.current_database());
END
$$;
