-- verify: the rotation configuration, one object per configured table (in the
-- extension's schema).
SELECT pg_catalog.format('%I.%I', n.nspname, cl.relname) AS object,
       pg_catalog.to_jsonb(c) - 'parent' AS fields
  FROM {schema}.weston_partition_config c
  JOIN pg_catalog.pg_class cl ON cl.oid = c.parent
  JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
