-- What a superuser's pg_restore of this database would run that a less trusted role could
-- have written: functions (directly, through an operator, or through a function whose body
-- PostgreSQL tracks) reached from the expressions PostgreSQL evaluates, as the restoring
-- user, while it loads rows and adds constraints: table and domain checks, generated
-- columns, partition keys. Index expressions, materialized views and foreign keys are left
-- out: PostgreSQL evaluates those as the table's owner, in a security-restricted operation.
-- Trusted owners: superusers, and roles no login can act as (no LOGIN, no members) while no
-- role but a superuser can create roles (CREATEROLE could grant itself any of them).
-- One row per (expression, function): what evaluates it, the function, its owner; names are
-- qualified on a search_path of pg_catalog alone.
WITH RECURSIVE trusted AS (
    SELECT r.oid
      FROM pg_catalog.pg_roles r
     WHERE r.rolsuper
        OR (NOT r.rolcanlogin
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members m WHERE m.roleid = r.oid)
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles c WHERE c.rolcreaterole AND NOT c.rolsuper))
), relation_name AS (
    SELECT c.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
), evaluated(classid, objid, what) AS (
    SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, k.oid,
           CASE WHEN k.contypid <> 0
                THEN 'the check ' || pg_catalog.quote_ident(k.conname) || ' of domain '
                     || pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.typname)
                ELSE 'the check ' || pg_catalog.quote_ident(k.conname) || ' of ' || rn.name END
      FROM pg_catalog.pg_constraint k
      LEFT JOIN relation_name rn ON rn.oid = k.conrelid
      LEFT JOIN pg_catalog.pg_type t ON t.oid = k.contypid
      LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
     WHERE k.contype = 'c'
    UNION ALL
    SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass, d.oid,
           'the generated column ' || pg_catalog.quote_ident(a.attname) || ' of ' || rn.name
      FROM pg_catalog.pg_attrdef d
      JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      JOIN relation_name rn ON rn.oid = d.adrelid
     WHERE a.attgenerated <> ''
    UNION ALL
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, p.partrelid, 'the partition key of ' || rn.name
      FROM pg_catalog.pg_partitioned_table p
      JOIN relation_name rn ON rn.oid = p.partrelid
     WHERE p.partexprs IS NOT NULL
), reached(what, function, depth) AS (
    SELECT e.what, coalesce(o.oprcode::pg_catalog.oid, d.refobjid), 1
      FROM evaluated e
      JOIN pg_catalog.pg_depend d ON d.classid = e.classid AND d.objid = e.objid
      LEFT JOIN pg_catalog.pg_operator o
        ON d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND o.oid = d.refobjid
     WHERE d.refclassid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass)
    UNION
    SELECT r.what, d.refobjid, r.depth + 1
      FROM reached r
      JOIN pg_catalog.pg_depend d
        ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = r.function
     WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND r.depth < 16
)
SELECT DISTINCT r.what,
       p.oid::pg_catalog.regprocedure::pg_catalog.text AS function,
       pg_catalog.pg_get_userbyid(p.proowner)::text AS owner
  FROM reached r
  JOIN pg_catalog.pg_proc p ON p.oid = r.function
 WHERE p.proowner NOT IN (SELECT oid FROM trusted)
 ORDER BY 1, 2
