-- pg_weston 0.3.0 -> 0.4.0 (each change under a header naming its issue).
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- issue 14: schema
-- Since 0.4.0 pg_weston lives in schema weston (the control file's `schema`: a fresh install
-- lands there whatever the session's search_path), out of the application's default schema,
-- where its schema tooling (Alembic) would see it. An installation of an earlier version lives
-- where it was created (public, usually). This section moves every member of the extension
-- from there to weston, makes weston the extension's schema (pg_extension.extnamespace and the
-- extension's dependency on its schema, as ALTER EXTENSION SET SCHEMA does for a relocatable
-- extension, which pg_weston is not), and rewrites what named the old schema: each function's
-- pinned search_path, and the bodies and argument defaults qualified with it (@extschema@ in
-- the scripts). Read from the catalog, not a list, so members added above are moved too:
-- this section must stay the LAST of this file. The market-data tables are not the
-- extension's: migration 0009 (weston-loader migrate, right after this update) moves them.
DO $move$
DECLARE
    ext oid := (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_weston');
    old_nsp oid := (SELECT e.extnamespace FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_weston');
    old_name text;
    new_nsp oid;
    member record;
    definition text;
    rewritten text;
BEGIN
    IF (SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = old_nsp) = 'weston' THEN
        RETURN;
    END IF;
    old_name := pg_catalog.quote_ident((SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = old_nsp));
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'weston') THEN
        CREATE SCHEMA weston;
        -- Not a member, as with a fresh install (CREATE EXTENSION creates it before the
        -- extension exists): DROP EXTENSION leaves the schema and what else is in it.
        ALTER EXTENSION pg_weston DROP SCHEMA weston;
    END IF;
    new_nsp := 'weston'::pg_catalog.regnamespace;

    -- Tables first: their indexes, constraints, row types and owned sequences move with them.
    FOR member IN
        SELECT c.oid::pg_catalog.regclass AS rel, c.relkind
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = ext AND d.deptype = 'e'
         ORDER BY c.relkind <> 'S' DESC, c.relname
    LOOP
        CONTINUE WHEN (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = member.rel) <> old_nsp;
        IF member.relkind IN ('r', 'p') THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s SET SCHEMA weston', member.rel);
        ELSIF member.relkind = 'S' THEN
            EXECUTE pg_catalog.format('ALTER SEQUENCE %s SET SCHEMA weston', member.rel);
        ELSIF member.relkind = 'v' THEN
            EXECUTE pg_catalog.format('ALTER VIEW %s SET SCHEMA weston', member.rel);
        ELSE
            RAISE EXCEPTION 'pg_weston: cannot move member % (relkind %) to schema weston', member.rel, member.relkind;
        END IF;
    END LOOP;
    FOR member IN
        SELECT p.oid::pg_catalog.regprocedure AS fn
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = ext AND d.deptype = 'e' AND p.pronamespace = old_nsp
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SET SCHEMA weston', member.fn);
    END LOOP;
    -- Any other kind of member (a type, an operator) would have to be moved here too.
    FOR member IN
        SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what
          FROM pg_catalog.pg_depend d
         WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = ext AND d.deptype = 'e'
           AND d.classid NOT IN ('pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass,
                                 'pg_catalog.pg_namespace'::pg_catalog.regclass)
    LOOP
        RAISE EXCEPTION 'pg_weston: cannot move member % to schema weston', member.what;
    END LOOP;

    UPDATE pg_catalog.pg_extension SET extnamespace = new_nsp WHERE oid = ext;
    UPDATE pg_catalog.pg_depend SET refobjid = new_nsp
     WHERE classid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND objid = ext
       AND refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND refobjid = old_nsp;
    IF NOT FOUND THEN
        INSERT INTO pg_catalog.pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
        VALUES ('pg_catalog.pg_extension'::pg_catalog.regclass, ext, 0,
                'pg_catalog.pg_namespace'::pg_catalog.regclass, new_nsp, 0, 'n');
    END IF;

    -- What named the old schema: "old." in bodies and defaults, and the old schema in a
    -- pinned search_path. pg_get_functiondef gives the whole definition; re-created with
    -- CREATE OR REPLACE, a member keeps its membership, owner, privileges and comment.
    FOR member IN
        SELECT p.oid
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = ext AND d.deptype = 'e'
    LOOP
        definition := pg_catalog.pg_get_functiondef(member.oid);
        rewritten := pg_catalog.regexp_replace(
            definition, '\m' || pg_catalog.regexp_replace(old_name, '([^A-Za-z0-9_])', '\\\1', 'g') || '\.', 'weston.', 'g');
        rewritten := pg_catalog.regexp_replace(
            rewritten, '(\n SET search_path TO [^\n]*)''' || pg_catalog.replace(old_name, '''', '''''') || '''',
            '\1''weston''');
        IF rewritten <> definition THEN
            EXECUTE rewritten;
        END IF;
    END LOOP;
END
$move$;
