-- The session holding a bigint advisory lock ($1) in this database: its pid, its
-- application_name and when it connected. A bigint key is split into classid (high 32 bits)
-- and objid (low 32 bits), with objsubid 1.
SELECT l.pid, a.application_name, a.backend_start
  FROM pg_catalog.pg_locks l
  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
   AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
   AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
 LIMIT 1
