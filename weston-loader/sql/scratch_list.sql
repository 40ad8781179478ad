-- scratch list: the scratch databases of this server (named weston_scratch_*, marked by
-- the comment `scratch create` wrote), their owner, size and the comment's details.
SELECT d.datname::text AS name,
       pg_catalog.pg_get_userbyid(d.datdba)::text AS owner,
       pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(d.oid)) AS size,
       pg_catalog.shobj_description(d.oid, 'pg_database') AS marker
  FROM pg_catalog.pg_database d
 WHERE d.datname LIKE 'weston\_scratch\_%'
 ORDER BY 1
