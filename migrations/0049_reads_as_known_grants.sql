-- Who may call what pg_weston 0.11.0 adds to the reads as known: weston_symbol_history(text,
-- date, timestamptz), a security's tickers as the database knew them, and
-- weston_check_known_final, which every read as known runs: everyone who reads market data,
-- as 0017 and 0040 grant the reads they know. 0006 gives a name it does not know to dba
-- only. weston-loader applies this only once the functions exist (after ALTER EXTENSION
-- pg_weston UPDATE). GRANT and REVOKE are idempotent.
DO $grants$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        'weston.weston_symbol_history(text, date, timestamptz)',
        'weston.weston_check_known_final(timestamptz)'
    ]::pg_catalog.regprocedure[] LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO dba, etl_writer, app_rw, app_ro', fn);
    END LOOP;
END
$grants$;
