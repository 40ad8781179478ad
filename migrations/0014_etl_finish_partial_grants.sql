-- pg_weston 0.4.0 records a partial run through weston_etl_finish_partial. 0006
-- grants by name pattern, so a database migrated after the extension is at 0.4.0 has this
-- grant already; this gives it to a database migrated before the update. weston-loader
-- applies it only once the function exists (after ALTER EXTENSION pg_weston UPDATE).
REVOKE ALL ON FUNCTION weston_etl_finish_partial(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION weston_etl_finish_partial(bigint, text) TO dba, etl_writer;
