-- Where pg_weston's tables live in this database: weston_data, the schema pg_weston makes
-- since 0.8.0 (a member of the extension: no other role's schema of that name counts);
-- no row before, when they are in the extension's schema.
SELECT n.nspname::text
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_depend d ON d.refobjid OPERATOR(pg_catalog.=) e.oid
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) d.objid
 WHERE e.extname OPERATOR(pg_catalog.=) 'pg_weston'
   AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
   AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
   AND d.deptype OPERATOR(pg_catalog.=) 'e'::"char"
   AND n.nspname OPERATOR(pg_catalog.=) 'weston_data'::name
