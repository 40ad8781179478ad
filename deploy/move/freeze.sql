-- weston-move freeze, on the old host's database as a superuser, in ONE transaction: every
-- role but superusers loses every way to write, or nothing changes (a failure, or a check at
-- the end finding a writer left, rolls all of it back). What it undoes (the thaw) is written
-- to :'thaw_file', one statement a line, valid on this database and on a restored copy of
-- it (names, never OIDs or job ids).
--
-- Writers are blocked by privileges, because a session may turn default_transaction_read_only
-- off: write privileges (tables, partitions, views, sequences, columns) are revoked from every
-- role; CREATE on the schemas and the database too; EXECUTE on superusers' SECURITY DEFINER
-- functions (they would write as a superuser). A role that some session can become (a login,
-- or a group with members) would still own its objects, and an owner can grant itself rights
-- back: its schemas, relations and routines pass to the NOLOGIN role weston_frozen, which
-- nobody can become. pg_cron's jobs in this database are paused (cron.alter_job), its
-- launcher keeps running. default_transaction_read_only = on makes every new session
-- read-only by default (but the bootstrap superuser's, pg_cron's), so that the loader (and a
-- migrate pointed here by mistake) refuse before writing anything.
\set ON_ERROR_STOP on
BEGIN READ WRITE;
SET LOCAL lock_timeout = '60s';
-- Names in the thaw qualified (regclass and regprocedure print the schema unless it is on
-- the path), and nothing a database user defines found first.
SET LOCAL search_path TO pg_catalog, pg_temp;
CREATE TEMP TABLE thaw (phase int, stmt text, n serial) ON COMMIT DROP;
DO $freeze$
DECLARE
    db name := pg_catalog.current_database();
    holder constant name := 'weston_frozen';
    problems text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s
                WHERE s.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = db) AND s.setrole IN (0, 10)
                  AND s.setconfig::text ~ 'default_transaction_read_only') THEN
        RAISE EXCEPTION 'database % already has a default_transaction_read_only setting (frozen by hand?): '
                        'ALTER DATABASE % RESET default_transaction_read_only (and ALTER ROLE % IN DATABASE % RESET it) first',
                        db, db, pg_catalog.pg_get_userbyid(10), db;
    END IF;
    SELECT r.rolcanlogin OR r.rolsuper OR EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m WHERE r.oid IN (m.roleid, m.member))
      INTO STRICT problems FROM pg_catalog.pg_roles r WHERE r.rolname = holder;
    IF problems = 'true' THEN
        RAISE EXCEPTION 'role % exists and can log in, is a superuser, or has memberships: it must be nobody''s', holder;
    END IF;
EXCEPTION WHEN no_data_found THEN
    NULL;
END
$freeze$;
SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'weston_frozen') AS need_holder \gset
\if :need_holder
CREATE ROLE weston_frozen NOLOGIN;
\endif
DO $freeze$
DECLARE
    db name := pg_catalog.current_database();
    holder constant name := 'weston_frozen';
    r record;
    problems text;
BEGIN
    -- The schemas the database's own objects live in (pg_cron's excluded: its jobs are paused).
    CREATE TEMP TABLE frozen_schemas ON COMMIT DROP AS
        SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'cron')
           AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%';
    -- Roles a session can become: logins and groups with members, never superusers.
    CREATE TEMP TABLE reachable ON COMMIT DROP AS
        SELECT ro.oid FROM pg_catalog.pg_roles ro
         WHERE NOT ro.rolsuper AND ro.rolname <> holder AND ro.rolname NOT LIKE 'pg\_%'
           AND (ro.rolcanlogin OR EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m WHERE m.roleid = ro.oid));

    -- 1. Owners a session can become give their objects to the holder (thaw: back, phase 2),
    -- keeping the right to read them (thaw: revoked first, phase 0).
    FOR r IN SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) AS owner
               FROM pg_catalog.pg_namespace n JOIN frozen_schemas f ON f.oid = n.oid
              WHERE n.nspowner IN (SELECT oid FROM reachable) ORDER BY 1 LOOP
        EXECUTE pg_catalog.format('ALTER SCHEMA %I OWNER TO %I', r.nspname, holder);
        INSERT INTO thaw (phase, stmt) VALUES (2, pg_catalog.format('ALTER SCHEMA %I OWNER TO %I;', r.nspname, r.owner));
        -- The owner still reads what it owned (the backend's own tables).
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO %I', r.nspname, r.owner);
        INSERT INTO thaw (phase, stmt) VALUES (0, pg_catalog.format('REVOKE USAGE ON SCHEMA %I FROM %I;', r.nspname, r.owner));
    END LOOP;
    FOR r IN SELECT c.oid::pg_catalog.regclass::text AS name, pg_catalog.pg_get_userbyid(c.relowner) AS owner,
                    CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                                   WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
                    CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS grant_kind
               FROM pg_catalog.pg_class c
              WHERE c.relnamespace IN (SELECT oid FROM frozen_schemas) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                AND c.relowner IN (SELECT oid FROM reachable)
                -- A table's own sequences (identity, serial) follow it.
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
                                   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i'))
              ORDER BY 1 LOOP
        EXECUTE pg_catalog.format('ALTER %s %s OWNER TO %I', r.kind, r.name, holder);
        INSERT INTO thaw (phase, stmt) VALUES (2, pg_catalog.format('ALTER %s %s OWNER TO %I;', r.kind, r.name, r.owner));
        EXECUTE pg_catalog.format('GRANT SELECT ON %s %s TO %I', r.grant_kind, r.name, r.owner);
        INSERT INTO thaw (phase, stmt) VALUES (0, pg_catalog.format('REVOKE SELECT ON %s %s FROM %I;', r.grant_kind, r.name, r.owner));
    END LOOP;
    FOR r IN SELECT p.oid::pg_catalog.regprocedure::text AS name, pg_catalog.pg_get_userbyid(p.proowner) AS owner,
                    CASE p.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END AS kind
               FROM pg_catalog.pg_proc p
              WHERE p.pronamespace IN (SELECT oid FROM frozen_schemas) AND p.proowner IN (SELECT oid FROM reachable)
              ORDER BY 1 LOOP
        EXECUTE pg_catalog.format('ALTER %s %s OWNER TO %I', r.kind, r.name, holder);
        INSERT INTO thaw (phase, stmt) VALUES (2, pg_catalog.format('ALTER %s %s OWNER TO %I;', r.kind, r.name, r.owner));
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', r.name, r.owner);
        INSERT INTO thaw (phase, stmt) VALUES (0, pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM %I;', r.name, r.owner));
    END LOOP;

    -- 2. Write privileges (thaw: granted again, phase 1, before the owners come back: an
    -- owner's entries follow the object to its new owner and back).
    CREATE TEMP TABLE grants ON COMMIT DROP AS
        SELECT pg_catalog.format('%s ON %s %s', a.privilege_type,
                                 CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                                 c.oid::pg_catalog.regclass) AS what,
               a.grantee, a.grantor, c.relowner AS owner, a.is_grantable
          FROM pg_catalog.pg_class c,
               pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault(
                   CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
         WHERE c.relnamespace IN (SELECT oid FROM frozen_schemas) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
           AND a.privilege_type = ANY (CASE WHEN c.relkind = 'S' THEN ARRAY['USAGE', 'UPDATE']
                                            ELSE ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'] END)
        UNION ALL
        SELECT pg_catalog.format('%s (%I) ON TABLE %s', a.privilege_type, att.attname, c.oid::pg_catalog.regclass),
               a.grantee, a.grantor, c.relowner, a.is_grantable
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
          CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
         WHERE c.relnamespace IN (SELECT oid FROM frozen_schemas) AND att.attacl IS NOT NULL
           AND a.privilege_type IN ('INSERT', 'UPDATE', 'REFERENCES')
        UNION ALL
        SELECT pg_catalog.format('CREATE ON SCHEMA %I', n.nspname), a.grantee, a.grantor, n.nspowner, a.is_grantable
          FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
         WHERE n.oid IN (SELECT oid FROM frozen_schemas) AND a.privilege_type = 'CREATE'
        UNION ALL
        SELECT pg_catalog.format('CREATE ON DATABASE %I', d.datname), a.grantee, a.grantor, d.datdba, a.is_grantable
          FROM pg_catalog.pg_database d, pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
         WHERE d.datname = db AND a.privilege_type = 'CREATE'
        UNION ALL
        SELECT pg_catalog.format('EXECUTE ON FUNCTION %s', p.oid::pg_catalog.regprocedure), a.grantee, a.grantor,
               p.proowner, a.is_grantable
          FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
         WHERE p.pronamespace IN (SELECT oid FROM frozen_schemas) AND p.prosecdef
           AND (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = p.proowner) AND a.privilege_type = 'EXECUTE';
    DELETE FROM grants g USING pg_catalog.pg_roles ro WHERE ro.oid = g.grantee AND ro.rolsuper;
    -- pg_database_owner is the database's owner, here a superuser.
    DELETE FROM grants g
     WHERE g.grantee = 'pg_database_owner'::pg_catalog.regrole
       AND (SELECT ro.rolsuper FROM pg_catalog.pg_database d JOIN pg_catalog.pg_roles ro ON ro.oid = d.datdba WHERE d.datname = db);
    -- A grant made by someone other than the owner, or one its holder may pass on, cannot be
    -- given back as it was by a superuser: refused, named, nothing changed.
    SELECT pg_catalog.string_agg(pg_catalog.format('%s to %s (granted by %s%s)', g.what,
                                 CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(g.grantee) END,
                                 pg_catalog.pg_get_userbyid(g.grantor),
                                 CASE WHEN g.is_grantable THEN ', WITH GRANT OPTION' ELSE '' END), '; ' ORDER BY g.what)
      INTO problems
      FROM grants g WHERE g.grantor <> g.owner OR (g.is_grantable AND g.grantee <> g.owner);
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'cannot freeze: these write grants were made by a role other than the owner or carry GRANT OPTION, '
                        'and could not be given back exactly: %; revoke them (and what was granted from them), then freeze again',
                        problems;
    END IF;
    FOR r IN SELECT g.what, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END AS who
               FROM grants g ORDER BY 1, 2 LOOP
        EXECUTE pg_catalog.format('REVOKE %s FROM %s', r.what, r.who);
        INSERT INTO thaw (phase, stmt) VALUES (1, pg_catalog.format('GRANT %s TO %s;', r.what, r.who));
    END LOOP;

    -- 3. pg_cron's jobs of this database, paused (thaw: resumed by name, phase 3).
    IF pg_catalog.to_regclass('cron.job') IS NOT NULL THEN
        FOR r IN SELECT j.jobid, j.jobname, j.command FROM cron.job j
                  WHERE j.database = db AND j.active ORDER BY j.jobid LOOP
            PERFORM cron.alter_job(r.jobid, active := false);
            INSERT INTO thaw (phase, stmt) VALUES (3, pg_catalog.format(
                'SELECT cron.alter_job(jobid, active := true) FROM cron.job WHERE database = pg_catalog.current_database() AND %s;',
                CASE WHEN r.jobname IS NULL THEN pg_catalog.format('jobname IS NULL AND command = %L', r.command)
                     ELSE pg_catalog.format('jobname = %L', r.jobname) END));
        END LOOP;
    END IF;

    -- 4. Every new session read-only by default (thaw: reset, phase 4).
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET default_transaction_read_only = on', db);
    INSERT INTO thaw (phase, stmt) VALUES (4, 'DO $$BEGIN EXECUTE pg_catalog.format(''ALTER DATABASE %I RESET default_transaction_read_only'', pg_catalog.current_database()); END$$;');
    -- Except for pg_cron's launcher, which connects as the bootstrap superuser and, when it
    -- starts (after a restart of the host), writes its own bookkeeping: read-only, it would
    -- fail and be started again every second.
    EXECUTE pg_catalog.format('ALTER ROLE %I IN DATABASE %I SET default_transaction_read_only = off',
                              pg_catalog.pg_get_userbyid(10), db);
    INSERT INTO thaw (phase, stmt) VALUES (4, pg_catalog.format(
        'DO $$BEGIN EXECUTE pg_catalog.format(''ALTER ROLE %%I IN DATABASE %%I RESET default_transaction_read_only'', %L, pg_catalog.current_database()); END$$;',
        pg_catalog.pg_get_userbyid(10)));

    -- The check that makes this fail closed: no role but superusers may write anything here.
    SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%s on %s', ro.rolname, w.what), '; ')
      INTO problems
      FROM pg_catalog.pg_roles ro
      CROSS JOIN LATERAL (
          SELECT c.oid::pg_catalog.regclass::text AS what FROM pg_catalog.pg_class c
           WHERE c.relnamespace IN (SELECT oid FROM frozen_schemas) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             AND (pg_catalog.has_table_privilege(ro.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                  OR pg_catalog.has_any_column_privilege(ro.oid, c.oid, 'INSERT, UPDATE, REFERENCES')
                  OR (ro.oid IN (SELECT oid FROM reachable) AND pg_catalog.pg_has_role(ro.oid, c.relowner, 'USAGE')))
          UNION ALL
          SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c
           WHERE c.relnamespace IN (SELECT oid FROM frozen_schemas)
             -- (CASE: the planner may call the function before testing relkind)
             AND CASE WHEN c.relkind = 'S' THEN pg_catalog.has_sequence_privilege(ro.oid, c.oid, 'USAGE, UPDATE') ELSE false END
          UNION ALL
          SELECT 'schema ' || n.nspname FROM frozen_schemas n
           WHERE pg_catalog.has_schema_privilege(ro.oid, n.oid, 'CREATE')
          UNION ALL
          SELECT 'database ' || db WHERE pg_catalog.has_database_privilege(ro.oid, db, 'CREATE')
          UNION ALL
          SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
           WHERE p.pronamespace IN (SELECT oid FROM frozen_schemas)
             AND ((p.prosecdef AND (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = p.proowner)
                   AND pg_catalog.has_function_privilege(ro.oid, p.oid, 'EXECUTE'))
                  OR (ro.oid IN (SELECT oid FROM reachable) AND pg_catalog.pg_has_role(ro.oid, p.proowner, 'USAGE')))
      ) w
     WHERE NOT ro.rolsuper AND ro.rolname NOT LIKE 'pg\_%';
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'cannot freeze: roles could still write (%); nothing was changed', problems;
    END IF;
END
$freeze$;
\pset tuples_only on
\pset format unaligned
\o :thaw_file
SELECT stmt FROM thaw ORDER BY phase, n;
\o
SELECT pg_catalog.format('freeze: %s grants revoked, %s objects given to weston_frozen, %s pg_cron jobs paused',
                         count(*) FILTER (WHERE phase = 1), count(*) FILTER (WHERE phase = 2),
                         count(*) FILTER (WHERE phase = 3)) FROM thaw;
COMMIT;
