-- pg_weston's objects live in a schema of their own, `weston`, out of the
-- application's default schema, where its schema tooling (an unmodified Alembic env.py)
-- would otherwise propose to drop them. The extension is there already: a fresh install
-- lands there (its control file's `schema`), an earlier version is moved by
-- `ALTER EXTENSION pg_weston UPDATE` (0.4.0); weston-loader applies this migration only then.
-- This moves what earlier migrations created next to the extension (public, in a database
-- migrated before 0.4.0; a fresh database has it in weston already).
--
-- weston-loader keeps its history (_sqlx_migrations) in the extension's schema and runs every
-- migration with `search_path = weston, public`: unqualified names in this and later
-- migrations are created in, and resolved from, weston.
DO $move$
DECLARE
    ext_schema name := (SELECT n.nspname FROM pg_catalog.pg_extension e
                          JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                         WHERE e.extname = 'pg_weston');
    prices oid;
    old_nsp oid;
    rel record;
    job record;
BEGIN
    IF ext_schema IS DISTINCT FROM 'weston' THEN
        RAISE EXCEPTION 'pg_weston is in schema %, not weston: as a superuser run ALTER EXTENSION pg_weston UPDATE, then migrate again',
            coalesce(ext_schema, '(not installed)');
    END IF;

    -- Where prices_daily is: the market-data tables were created next to it.
    SELECT c.oid, c.relnamespace INTO prices, old_nsp
      FROM weston.weston_partition_config cfg JOIN pg_catalog.pg_class c ON c.oid = cfg.parent
     WHERE c.relname = 'prices_daily';
    IF old_nsp IS NOT NULL AND old_nsp <> 'weston'::pg_catalog.regnamespace THEN
        -- The tables, every partition of prices_daily (DEFAULT included), and months that
        -- retention detached (still named like partitions). Indexes, constraints, row types,
        -- grants and the identity sequences move with their tables; OIDs do not change, so
        -- weston_partition_config and the foreign keys are untouched.
        FOR rel IN
            SELECT c.oid::pg_catalog.regclass AS name
              FROM pg_catalog.pg_class c
             WHERE c.relnamespace = old_nsp AND c.relkind IN ('r', 'p')
               AND (c.relname IN ('securities', 'prices_daily', 'splits', 'dividends', 'etl_run')
                    OR c.relname ~ '^prices_daily_(p[0-9]{4}_[0-9]{2}|default)$'
                    OR c.oid IN (SELECT i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent = prices))
             ORDER BY c.relname
        LOOP
            EXECUTE pg_catalog.format('ALTER TABLE %s SET SCHEMA weston', rel.name);
        END LOOP;
        -- Migration 0006 gave the roles what they needed in the old schema; now they need it in weston.
        EXECUTE pg_catalog.format('REVOKE USAGE, CREATE ON SCHEMA %I FROM dba, etl_writer, app_rw, app_ro',
                                  (SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = old_nsp));
    END IF;

    REVOKE CREATE ON SCHEMA weston FROM PUBLIC;
    GRANT USAGE ON SCHEMA weston TO dba, etl_writer, app_rw, app_ro;
    -- The owner of a partitioned table needs CREATE on its schema to add months.
    GRANT CREATE ON SCHEMA weston TO dba;

    -- Every name of the contract resolves unqualified for every role (analysts in psql, the
    -- backend): weston is searched last, so whatever a session creates without a schema lands
    -- in its own schema ("$user"), the application's (app, owned by app_rw; skipped by roles
    -- without USAGE on it) or public, never among pg_weston's objects, and the application's
    -- default schema (its tooling's) holds none of them. A role's own `ALTER ROLE ... SET
    -- search_path` overrides this; such a role adds weston to it.
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET search_path = "$user", app, public, weston',
                              pg_catalog.current_database());

    -- The nightly jobs name the functions with their schema (0003, 0008): re-schedule them
    -- with the new one, replacing any earlier job of the name for this database.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        FOR job IN
            SELECT jobid FROM cron.job
             WHERE jobname IN ('weston_rotate_partitions', 'weston_etl_reap')
               AND database = pg_catalog.current_database()
        LOOP
            PERFORM cron.unschedule(job.jobid);
        END LOOP;
        -- 06:15 GMT: after the US close and the providers' end-of-day files, before Europe opens;
        -- reaping just before it.
        PERFORM cron.schedule_in_database('weston_rotate_partitions', '15 6 * * *',
            'SELECT weston.weston_rotate_partitions()', pg_catalog.current_database());
        PERFORM cron.schedule_in_database('weston_etl_reap', '10 6 * * *',
            'SELECT weston.weston_etl_reap()', pg_catalog.current_database());
    END IF;
END
$move$;
