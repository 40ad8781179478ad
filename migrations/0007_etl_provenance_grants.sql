-- pg_weston 0.3.0 writes a run's stats and its skipped runs through two new functions.
-- 0006 grants by name pattern, so a database migrated after the extension is at
-- 0.3.0 has these grants already; this gives them to a database that was migrated before
-- the update. weston-loader applies it only once the functions exist (after ALTER EXTENSION
-- pg_weston UPDATE). GRANT is idempotent.
DO $grants$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        'weston_etl_skip(text, text)',
        'weston_etl_set_stats(bigint, jsonb)'
    ]::pg_catalog.regprocedure[] LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO dba, etl_writer', fn);
    END LOOP;
END
$grants$;
