-- scratch create, in the new scratch database (as a superuser): the shared market data as
-- postgres_fdw foreign tables, read through the scratch database's reader role (app_ro in
-- the shared database), in the schema they have there, readable by the owner only;
-- pg_weston in the schema it has there, so weston_adjusted_prices works on them (all of it,
-- weston_ticker_pieces included, from CREATE EXTENSION: nothing read from a database is run
-- as SQL here); the shared database's search_path, set as a value. Everything comes from
-- weston_scratch.* settings of this session, quoted where it enters a statement.
-- The owner gets no USAGE on the foreign server: they cannot change the user mapping nor
-- point new foreign tables at it. password_required is off because the server may trust
-- its own local connections (then no password is asked); the mapping's user stays the reader.
-- Everything else is the owner's: the database and its schema public (pg_database_owner's).
DO $setup$
DECLARE
    owner_role    text := pg_catalog.current_setting('weston_scratch.owner');
    reader        text := pg_catalog.current_setting('weston_scratch.reader');
    tables_schema text := pg_catalog.current_setting('weston_scratch.tables_schema');
    ext_schema    text := pg_catalog.current_setting('weston_scratch.extension_schema');
    data_schema   text := pg_catalog.current_setting('weston_scratch.data_schema');
    -- security_identity and ticker_history exist from migration 0016 on (missing ones are
    -- not imported).
    market_tables text[] := ARRAY['securities', 'prices_daily', 'splits', 'dividends', 'etl_run',
                                  'security_identity', 'ticker_history'];
    search_path   text := pg_catalog.current_setting('weston_scratch.search_path');
    market_table  text;
BEGIN
    CREATE EXTENSION IF NOT EXISTS postgres_fdw;
    EXECUTE pg_catalog.format(
        'CREATE SERVER weston_shared FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L, updatable %L)',
        pg_catalog.current_setting('weston_scratch.host'), pg_catalog.current_setting('weston_scratch.port'),
        pg_catalog.current_setting('weston_scratch.dbname'), 'false');
    -- The owner's, and (IMPORT FOREIGN SCHEMA reads the remote catalog as the caller) the
    -- superuser's who runs this, both as the reader.
    EXECUTE pg_catalog.format(
        'CREATE USER MAPPING FOR %I SERVER weston_shared OPTIONS (user %L, password %L, password_required %L)',
        owner_role, reader, pg_catalog.current_setting('weston_scratch.password'), 'false');
    IF owner_role <> current_user THEN
        EXECUTE pg_catalog.format(
            'CREATE USER MAPPING FOR CURRENT_USER SERVER weston_shared OPTIONS (user %L, password %L)',
            reader, pg_catalog.current_setting('weston_scratch.password'));
    END IF;
    EXECUTE pg_catalog.format('CREATE SCHEMA IF NOT EXISTS %I', tables_schema);
    EXECUTE pg_catalog.format('IMPORT FOREIGN SCHEMA %I LIMIT TO (%s) FROM SERVER weston_shared INTO %I',
        tables_schema, (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(t), ', ') FROM pg_catalog.unnest(market_tables) t),
        tables_schema);
    FOREACH market_table IN ARRAY market_tables LOOP
        CONTINUE WHEN pg_catalog.to_regclass(pg_catalog.format('%I.%I', tables_schema, market_table)) IS NULL;
        EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %I.%I FROM PUBLIC', tables_schema, market_table);
        EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %I.%I TO %I', tables_schema, market_table, owner_role);
    END LOOP;
    EXECUTE pg_catalog.format('CREATE SCHEMA IF NOT EXISTS %I', ext_schema);
    EXECUTE pg_catalog.format('CREATE EXTENSION pg_weston WITH SCHEMA %I VERSION %L',
        ext_schema, pg_catalog.current_setting('weston_scratch.extension_version'));
    -- Since migration 0034 the shared tables are in weston_data and the tables_schema holds
    -- views of them: the functions of pg_weston (which CREATE EXTENSION gave its weston_data)
    -- read the tables, so they are imported there too.
    IF data_schema <> '' THEN
        EXECUTE pg_catalog.format('IMPORT FOREIGN SCHEMA %I LIMIT TO (%s) FROM SERVER weston_shared INTO %I',
            data_schema, (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(t), ', ') FROM pg_catalog.unnest(market_tables) t),
            data_schema);
        FOREACH market_table IN ARRAY market_tables LOOP
            CONTINUE WHEN pg_catalog.to_regclass(pg_catalog.format('%I.%I', data_schema, market_table)) IS NULL;
            EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %I.%I FROM PUBLIC', data_schema, market_table);
            EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %I.%I TO %I', data_schema, market_table, owner_role);
        END LOOP;
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO %I', data_schema, owner_role);
    END IF;
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I, %I TO %I', tables_schema, ext_schema, owner_role);
    IF search_path <> '' THEN
        -- The value as a value: set for this transaction, then saved FROM CURRENT. Last, as
        -- nothing after it may resolve a name through it.
        PERFORM pg_catalog.set_config('search_path', search_path, true);
        EXECUTE pg_catalog.format('ALTER DATABASE %I SET search_path FROM CURRENT', pg_catalog.current_database());
    END IF;
END
$setup$
