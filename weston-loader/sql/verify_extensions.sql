-- verify: the extensions, their versions and schemas.
SELECT e.extname::text AS object,
       pg_catalog.jsonb_build_object('version', e.extversion, 'schema', n.nspname) AS fields
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
