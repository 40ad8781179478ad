-- Where the loader's migration history (_sqlx_migrations) is, qualified: weston_data since
-- migration 0034, weston since pg_weston 0.4.0, public before; NULL when never migrated.
-- Looked up in the catalog: a role without USAGE on a schema (weston_data before 0034
-- grants it) may not even name a table in it.
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
 WHERE c.relname OPERATOR(pg_catalog.=) '_sqlx_migrations'::pg_catalog.name
   AND n.nspname OPERATOR(pg_catalog.=) ANY ('{weston_data,weston,public}'::pg_catalog.name[])
 ORDER BY pg_catalog.array_position('{weston_data,weston,public}'::pg_catalog.name[], n.nspname)
 LIMIT 1
