-- scratch create: what the scratch database needs to know about the shared one (this
-- session's database): how the server reaches it (the address this session came in on, or
-- the first Unix socket directory), where its market data as people read it (the views
-- of weston since migration 0034, the tables before; in public before pg_weston 0.4.0) and
-- pg_weston live, where its tables are (weston_data since migration 0034; empty before),
-- pg_weston's version, and the database's
-- own search_path setting, which the scratch database copies (as a setting, never as SQL).
SELECT coalesce(pg_catalog.host(pg_catalog.inet_server_addr()),
                pg_catalog.btrim(pg_catalog.split_part(pg_catalog.current_setting('unix_socket_directories'), ',', 1))) AS host,
       pg_catalog.current_setting('port') AS port,
       pg_catalog.current_database()::text AS dbname,
       coalesce((SELECT n.nspname::text FROM pg_catalog.pg_extension e
                   JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                   JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = 'prices_daily'
                  WHERE e.extname = 'pg_weston'),
                (SELECT n.nspname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.oid = pg_catalog.to_regclass('prices_daily'))) AS tables_schema,
       (SELECT n.nspname::text FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_weston') AS extension_schema,
       -- The tables themselves, where pg_weston's functions read them (since migration 0034).
       coalesce((SELECT n.nspname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'weston_data' AND c.relname = 'prices_daily' AND c.relkind = 'p'), '') AS data_schema,
       (SELECT e.extversion::text FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_weston') AS extension_version,
       coalesce((SELECT pg_catalog.substr(cfg, pg_catalog.length('search_path=') + 1)
                   FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) cfg
                  WHERE s.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
                    AND s.setrole = 0 AND cfg LIKE 'search\_path=%'), '') AS search_path,
       (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) AS caller_is_superuser
