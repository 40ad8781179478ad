-- verify: the schema of pg_weston (quoted), NULL where it is not installed.
SELECT pg_catalog.quote_ident(n.nspname)
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_weston'
