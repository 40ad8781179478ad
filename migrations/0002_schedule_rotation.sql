-- Nightly partition rotation under pg_cron, where pg_cron is installed in this database
-- (it lives in the database named by cron.database_name). Elsewhere this is a no-op,
-- and the DBA schedules rotation by hand (see README).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')
       AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron')
       AND current_setting('cron.database_name', true) = current_database() THEN
        CREATE EXTENSION pg_cron;
    END IF;

    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        -- 06:15 GMT: after the US close and the providers' end-of-day files, before Europe opens.
        PERFORM cron.schedule_in_database(
            'weston_rotate_partitions', '15 6 * * *',
            'SELECT weston_rotate_partitions()', current_database());
    ELSE
        RAISE NOTICE 'pg_cron is not installed in database %: rotation not scheduled', current_database();
    END IF;
END
$$;
