-- verify: pg_weston's group roles and the roles directly in them (scratch databases'
-- readers excluded: they belong to one server), their attributes and memberships.
SELECT r.rolname::text AS object,
       pg_catalog.jsonb_build_object(
           'login', r.rolcanlogin, 'superuser', r.rolsuper, 'createrole', r.rolcreaterole,
           'createdb', r.rolcreatedb, 'bypassrls', r.rolbypassrls,
           'member_of', array(SELECT g.rolname::text FROM pg_catalog.pg_auth_members m
                                JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                               WHERE m.member = r.oid ORDER BY 1)::text) AS fields
  FROM pg_catalog.pg_roles r
 WHERE (r.rolname IN ('dba', 'etl_writer', 'app_rw', 'app_ro')
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                     JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                    WHERE m.member = r.oid AND g.rolname IN ('dba', 'etl_writer', 'app_rw', 'app_ro')))
   AND r.rolname NOT LIKE 'weston\_scratch\_%'
