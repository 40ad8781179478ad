-- scratch list: the scratch databases the registry ({registry}, the quoted name the
-- loader found) names, their owner, size (or "(missing)" when the database is gone), when
-- and by whom they were made, and this database, whose market data they read.
SELECT r.database::text AS name,
       r.owner_role::text AS owner,
       coalesce(pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(d.oid)), '(missing)') AS size,
       pg_catalog.to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created,
       r.created_by::text AS by,
       pg_catalog.current_database()::text AS of
  FROM {registry} r
  LEFT JOIN pg_catalog.pg_database d ON d.datname = r.database
 ORDER BY 1
