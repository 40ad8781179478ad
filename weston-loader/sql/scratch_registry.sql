-- scratch: the registry of scratch databases in this (the shared) database, migration
-- 0032's scratch_databases, found in the schema of pg_weston's tables (weston_data, which
-- the extension makes, since migration 0034) or else in pg_weston's schema: its name quoted
-- for use in a statement, its owner, and whether that owner is a superuser.
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name,
       r.rolname::text AS owner,
       r.rolsuper AS owner_is_superuser
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n
    ON n.oid = e.extnamespace
    OR n.oid IN (SELECT d.objid FROM pg_catalog.pg_depend d
                  WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.refobjid = e.oid
                    AND d.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.deptype = 'e')
  JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid
  JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
 WHERE e.extname = 'pg_weston' AND c.relname = 'scratch_databases' AND c.relkind = 'r'
 ORDER BY n.oid = e.extnamespace
 LIMIT 1
