-- Least-privilege group roles (NOLOGIN; people and services log in as their own users,
-- which are GRANTed one of these). Roles are cluster-wide, so creating them tolerates
-- another database (or a concurrent migration) having created them first.
--   dba        owns the market-data tables, runs migrations and rotation
--   etl_writer the loader: reads and upserts securities, prices, splits, dividends, etl_run;
--              adds months only through weston_ensure_partitions (SECURITY DEFINER)
--   app_rw     the backend: reads market data, writes only its own schema "app"
--   app_ro     analysts: reads market data, calls the adjusted-price functions
-- Grants on extension functions are made by name pattern over the extension's members,
-- so functions added to the extension later are covered when this runs on a new database;
-- functions of no known kind default to dba only.
DO $roles$
DECLARE
    role_name text;
    existing record;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['dba', 'etl_writer', 'app_rw', 'app_ro'] LOOP
        SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb INTO existing
          FROM pg_catalog.pg_roles WHERE rolname = role_name;
        IF NOT FOUND THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created concurrently by a migration of another database
            END;
        ELSIF existing.rolsuper OR existing.rolbypassrls OR existing.rolcreaterole OR existing.rolcreatedb THEN
            RAISE EXCEPTION 'role % already exists with SUPERUSER, BYPASSRLS, CREATEROLE or CREATEDB; '
                            'pg_weston''s group roles must not have them: ALTER ROLE % NOSUPERUSER NOBYPASSRLS '
                            'NOCREATEROLE NOCREATEDB, then migrate again', role_name, role_name;
        END IF;
    END LOOP;
END
$roles$;

DO $grants$
DECLARE
    ext_schema text := (SELECT n.nspname FROM pg_catalog.pg_extension e
                          JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                         WHERE e.extname = 'pg_weston');
    market_tables text[] := ARRAY['securities', 'prices_daily', 'splits', 'dividends', 'etl_run'];
    rel record;
    fn record;
BEGIN
    IF ext_schema IS NULL THEN
        RAISE EXCEPTION 'extension pg_weston is not installed in database %', current_database();
    END IF;

    -- Connecting and temp tables only for our roles (and the monitoring role).
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO dba, etl_writer, app_rw, app_ro', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO pg_monitor', current_database());

    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', ext_schema);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO dba, etl_writer, app_rw, app_ro', ext_schema);
    EXECUTE format('GRANT CREATE ON SCHEMA %I TO dba', ext_schema);

    -- The market-data tables (every partition too: a partition reached directly answers
    -- to its own ACL) belong to dba; nobody else gets DELETE, TRUNCATE or DDL.
    FOR rel IN
        SELECT c.oid::regclass AS name
          FROM pg_catalog.pg_class c
          LEFT JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
          LEFT JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
         WHERE c.relnamespace = ext_schema::regnamespace AND c.relkind IN ('r', 'p')
           AND coalesce(p.relname, c.relname)::text = ANY (market_tables)
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO dba', rel.name);
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', rel.name);
        EXECUTE format('GRANT SELECT ON TABLE %s TO etl_writer, app_rw, app_ro', rel.name);
        -- Upserts only: corrections overwrite, nothing the loader does needs DELETE.
        EXECUTE format('GRANT INSERT, UPDATE ON TABLE %s TO etl_writer', rel.name);
    END LOOP;

    -- Extension-owned tables stay the extension's (pg_dump recreates them with it);
    -- dba configures rotation, everyone may read how it went.
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I.weston_partition_config, %I.weston_maintenance_log TO dba',
                   ext_schema, ext_schema);
    EXECUTE format('GRANT SELECT ON TABLE %I.weston_partition_config, %I.weston_maintenance_log TO etl_writer, app_rw, app_ro',
                   ext_schema, ext_schema);

    -- The backend's own schema: app_rw owns it (create objects in it after SET ROLE app_rw,
    -- so that every app_rw member can use them).
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'app') THEN
        CREATE SCHEMA app AUTHORIZATION app_rw;
    END IF;

    FOR fn IN
        SELECT p.oid::regprocedure AS signature, p.proname::text AS name
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_proc'::regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass
           AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'pg_weston')
           AND d.deptype = 'e'
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn.signature);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO dba', fn.signature);
        -- weston_check_adjusted_arguments: called inside weston_adjusted_prices (a SQL function).
        IF fn.name IN ('weston_version', 'weston_partition_health', 'weston_check_adjusted_arguments')
           OR fn.name LIKE 'weston\_adjust%' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO etl_writer, app_rw, app_ro', fn.signature);
        ELSIF fn.name = 'weston_ensure_partitions' OR fn.name LIKE 'weston\_etl\_%' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO etl_writer', fn.signature);
        END IF;
        -- weston_create_partition, weston_rotate_partitions and anything unknown: dba only.
    END LOOP;
END
$grants$;
