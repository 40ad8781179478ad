-- verify: owners and privileges of the relations and schemas outside PostgreSQL's own and
-- pg_cron's, of the database (with its settings: the default search_path) and of every
-- extension function. An ACL spelled out but equal to the object's default reads as NULL,
-- the default's own form: pg_dump writes no GRANT or REVOKE for it, so a restored copy has
-- NULL where the source had, say, a REVOKE ALL FROM PUBLIC on a table that granted nothing.
SELECT pg_catalog.format('relation %I.%I', n.nspname, c.relname) AS object,
       pg_catalog.jsonb_build_object('owner', pg_catalog.pg_get_userbyid(c.relowner),
                                     'acl', (CASE WHEN c.relacl OPERATOR(pg_catalog.=) pg_catalog.acldefault(
                                                           CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 's'
                                                                ELSE 'r' END::"char", c.relowner)
                                                  THEN NULL ELSE c.relacl END)::text) AS fields
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'cron')
   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
UNION ALL
SELECT pg_catalog.format('schema %I', n.nspname),
       pg_catalog.jsonb_build_object('owner', pg_catalog.pg_get_userbyid(n.nspowner),
                                     'acl', (CASE WHEN n.nspacl OPERATOR(pg_catalog.=) pg_catalog.acldefault('n', n.nspowner)
                                                  THEN NULL ELSE n.nspacl END)::text)
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'cron')
   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
UNION ALL
SELECT 'database',
       pg_catalog.jsonb_build_object(
           'owner', pg_catalog.pg_get_userbyid(d.datdba),
           'acl', (CASE WHEN d.datacl OPERATOR(pg_catalog.=) pg_catalog.acldefault('d', d.datdba)
                        THEN NULL ELSE d.datacl END)::text,
           'settings', (SELECT s.setconfig::text FROM pg_catalog.pg_db_role_setting s
                         WHERE s.setdatabase = d.oid AND s.setrole = 0))
  FROM pg_catalog.pg_database d
 WHERE d.datname = pg_catalog.current_database()
UNION ALL
SELECT pg_catalog.format('function %I.%I(%s)', n.nspname, p.proname,
                         pg_catalog.pg_get_function_identity_arguments(p.oid)),
       pg_catalog.jsonb_build_object('owner', pg_catalog.pg_get_userbyid(p.proowner),
                                     'acl', (CASE WHEN p.proacl OPERATOR(pg_catalog.=) pg_catalog.acldefault('f', p.proowner)
                                                  THEN NULL ELSE p.proacl END)::text,
                                     'security_definer', p.prosecdef,
                                     'config', p.proconfig::text)
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                             AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
 WHERE e.extname = 'pg_weston'
