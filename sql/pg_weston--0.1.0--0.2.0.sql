-- pg_weston 0.1.0 -> 0.2.0: PUBLIC no longer has EXECUTE on the functions that make tables
-- or write data (privileges.sql says why).
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- Revoked only where PUBLIC still has it. A GRANT or REVOKE in an extension script records
-- the function's whole ACL in pg_init_privs as the extension's own, and pg_dump writes only
-- the grants beyond those: in a database whose roles migration already revoked PUBLIC and
-- granted dba and etl_writer, an unconditional REVOKE here would make the next dump
-- silently leave out those grants (tests/tests/upgrade.rs checks it).
DO $revoke$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        '@extschema@.weston_create_partition(date, regclass)',
        '@extschema@.weston_ensure_partitions(date, date, regclass)',
        '@extschema@.weston_rotate_partitions()',
        '@extschema@.weston_etl_begin(text, date, date)',
        '@extschema@.weston_etl_progress(bigint, bigint)',
        '@extschema@.weston_etl_finish(bigint)',
        '@extschema@.weston_etl_fail(bigint, text)',
        '@extschema@.weston_etl_reap(interval)'
    ]::pg_catalog.regprocedure[] LOOP
        IF pg_catalog.has_function_privilege('public', fn, 'EXECUTE') THEN
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
        END IF;
    END LOOP;
END
$revoke$;
