-- verify: every partition, its parent and its bounds.
SELECT pg_catalog.format('%I.%I', cn.nspname, c.relname) AS object,
       pg_catalog.jsonb_build_object(
           'parent', pg_catalog.format('%I.%I', pn.nspname, p.relname),
           'bound', pg_catalog.pg_get_expr(c.relpartbound, c.oid)) AS fields
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
  JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
  JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
 WHERE c.relispartition AND c.relkind IN ('r', 'p')
