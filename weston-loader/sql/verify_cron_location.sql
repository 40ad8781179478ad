-- verify: where this database's pg_cron jobs are kept: here, or in the database named by
-- cron.database_name (pg_cron keeps one job table per cluster), or nowhere.
SELECT pg_catalog.to_regclass('cron.job') IS NOT NULL AS here,
       pg_catalog.current_database()::text AS this_database,
       nullif(pg_catalog.current_setting('cron.database_name', true), '') AS cron_database
