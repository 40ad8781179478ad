-- Who may record corrections (pg_weston 0.5.0, sql/corrections.sql): dba only, on
-- a new database and on one migrated before the update alike (0006 gives a name it does not
-- know to dba only when it runs after the functions exist). weston-loader applies this only
-- once they exist (after ALTER EXTENSION pg_weston UPDATE). GRANT and REVOKE are idempotent.
DO $grants$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        'weston_check_correction(text)',
        'weston_check_correction_symbol(text, date)',
        'weston_record_split(text, date, numeric, numeric, text)',
        'weston_delete_split(text, date, text)',
        'weston_record_dividend(text, date, numeric, text, text)',
        'weston_delete_dividend(text, date, text)',
        'weston_correct_bar(text, date, numeric, numeric, numeric, numeric, numeric, text)',
        'weston_resolve_finding(bigint, text, text)'
    ]::pg_catalog.regprocedure[] LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO dba', fn);
    END LOOP;
END
$grants$;

-- The trail: everyone reads it (why a price changed is no secret; the loader reads its
-- tombstones). dba appends to it through the functions, which run with dba's rights: every
-- column but by_role and at, whose defaults (session_user, now()) therefore always hold,
-- and no UPDATE, DELETE or TRUNCATE: the extension's owner alone may change the past.
REVOKE ALL ON TABLE weston_corrections FROM PUBLIC;
GRANT SELECT ON TABLE weston_corrections TO dba, etl_writer, app_rw, app_ro;
GRANT INSERT (action, symbol, date, before, after, reason) ON TABLE weston_corrections TO dba;

-- weston_resolve_finding runs with dba's rights: the resolution columns of the findings
-- (migrations/0018), nothing else of them.
GRANT UPDATE (resolved_at, resolution, resolved_by, resolution_note) ON TABLE quality_findings TO dba;
