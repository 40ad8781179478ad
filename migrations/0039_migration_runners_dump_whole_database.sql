-- The people who run the team's migrations (an app_rw member, a dba who is one too) take a
-- snapshot of the whole database first (`weston-loader snapshot`, pg_dump), and pg_dump reads
-- every table it dumps and every sequence's position. They read pg_weston's tables already;
-- what stopped them was the sequences behind those tables' ids and the scratch registry
-- (`permission denied for table scratch_databases` at pg_dump's first LOCK). Read only:
-- SELECT on a sequence shows where it stands, it does not advance it (that is USAGE/UPDATE),
-- and the registry is still written by `scratch` alone.
-- Each sequence is granted to a role only when the role reads the table that owns it; found
-- in the catalog across pg_weston's schemas, so this holds wherever the tables live.
DO $$
DECLARE
    grantee text;
    seq record;
BEGIN
    FOREACH grantee IN ARRAY ARRAY['app_rw', 'dba'] LOOP
        FOR seq IN
            SELECT n.nspname, s.relname
              FROM pg_catalog.pg_class s
              JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
              JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                        AND d.objid = s.oid AND d.deptype IN ('a', 'i')
                                        AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
             WHERE s.relkind = 'S' AND n.nspname LIKE 'weston%'
               AND pg_catalog.has_table_privilege(grantee, d.refobjid, 'SELECT')
        LOOP
            EXECUTE pg_catalog.format('GRANT SELECT ON SEQUENCE %I.%I TO %I', seq.nspname, seq.relname, grantee);
        END LOOP;
        FOR seq IN
            SELECT n.nspname, c.relname
              FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relname = 'scratch_databases' AND c.relkind = 'r' AND n.nspname LIKE 'weston%'
        LOOP
            EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %I.%I TO %I', seq.nspname, seq.relname, grantee);
        END LOOP;
    END LOOP;
END
$$;
