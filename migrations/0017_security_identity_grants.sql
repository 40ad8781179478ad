-- Who may call the extension's functions over a security's life (pg_weston 0.4.0,
-- sql/identity.sql). 0006 grants by name pattern and gives a name it does not know to dba
-- only; these names are granted here, on a new database and on one migrated before the
-- update alike. weston-loader applies this only once the functions exist (after ALTER
-- EXTENSION pg_weston UPDATE). GRANT and REVOKE are idempotent.
DO $grants$
DECLARE
    fn regprocedure;
BEGIN
    -- Reads: everyone who reads market data.
    FOREACH fn IN ARRAY ARRAY[
        'weston_symbol_history(text, date)',
        'weston_resolve_symbol(text, date)',
        'weston_universe(date)'
    ]::pg_catalog.regprocedure[] LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO dba, etl_writer, app_rw, app_ro', fn);
    END LOOP;
    -- Writes: the loader (and dba, by hand).
    FOREACH fn IN ARRAY ARRAY[
        'weston_ticker_listed(text, date, text, bigint, text, text, text)',
        'weston_ticker_changed(text, text, date, text, bigint)',
        'weston_ticker_delisted(text, date, text, bigint)'
    ]::pg_catalog.regprocedure[] LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO dba, etl_writer', fn);
    END LOOP;
END
$grants$;
