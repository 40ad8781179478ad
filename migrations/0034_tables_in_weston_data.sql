-- pg_weston's tables leave weston for weston_data, a schema no default search_path names;
-- weston keeps what people name unqualified: the functions, and one view per table.
--
-- Why. The database's search_path ends in weston (0009) so that analysts and the backend
-- name pg_weston's objects unqualified. SQLAlchemy's PostgreSQL dialect reflects, as the
-- default schema's, every table visible on the session's search_path, so an unmodified
-- Alembic project on the database's plain URL took every table of weston for one of the
-- application's and proposed to drop them all (as a superuser, `upgrade` would have dropped
-- the price history). Alembic's autogenerate does not reflect views, and a table in a schema
-- off the search_path is not visible: the safe path is the default, nothing to remember.
--
-- The views are `security_invoker`: the tables' own grants decide, for the caller, as
-- before; each view has its table's name, columns and grants, and is owned by weston_owner
-- (0030), which nobody can become, so nobody can redefine one or attach code to it. Being
-- simple views they accept INSERT, UPDATE, DELETE and INSERT ... ON CONFLICT from whoever
-- may write the table; COPY needs the table (the loader's sessions search weston_data
-- first: weston-loader/src/home.rs). Months of prices_daily need no view.
--
-- pg_weston 0.8.0 made weston_data, moved the extension's own tables into it and made their
-- views; weston-loader applies this migration only then. The migrations before this one
-- granted on `weston.<extension table>`: on a database installed at 0.8.0 that was the
-- view, on one updated to it the table; each gets the other's grants here. The loader's history (_sqlx_migrations)
-- moves too, last: sqlx records this migration in it, so the session searches weston_data
-- first from here on, as the loader's migrations do from now on (home.rs): a table a later
-- migration creates unqualified lands in weston_data.
DO $owner$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'migration 0034 must run as a superuser: it moves tables it does not own and makes weston_owner own the views';
    END IF;
END
$owner$;

-- Gives `target` every read and write grant `source` has (and column grants), but its
-- owner's. A view passes on only SELECT, INSERT, UPDATE and DELETE. Temporary: it goes with
-- this session.
CREATE FUNCTION pg_temp.weston_copy_grants(source regclass, target regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $copy$
DECLARE
    acl record;
BEGIN
    FOR acl IN
        SELECT NULL::name AS attname, a.grantee, a.privilege_type
          FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid = source AND a.grantee <> c.relowner
           AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
        UNION ALL
        SELECT t.attname, x.grantee, x.privilege_type
          FROM pg_attribute t, aclexplode(t.attacl) x
         WHERE t.attrelid = source AND t.attnum > 0 AND NOT t.attisdropped
           AND x.privilege_type IN ('SELECT', 'INSERT', 'UPDATE')
    LOOP
        EXECUTE format('GRANT %s %s ON %s TO %s', acl.privilege_type,
                       CASE WHEN acl.attname IS NULL THEN '' ELSE format('(%I)', acl.attname) END, target,
                       CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE acl.grantee::regrole::text END);
    END LOOP;
END
$copy$;

DO $move$
DECLARE
    rel record;
    acl record;
    -- The tables people (the backend, analysts, the exporter) name unqualified.
    exposed text[] := '{}';
    name text;
BEGIN
    -- Who may use weston may use weston_data, exactly so (USAGE; CREATE for weston_owner,
    -- which makes months next to their table).
    FOR acl IN
        SELECT a.grantee, a.privilege_type
          FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
         WHERE n.nspname = 'weston' AND a.grantee <> n.nspowner
    LOOP
        EXECUTE pg_catalog.format('GRANT %s ON SCHEMA weston_data TO %s', acl.privilege_type,
                                  CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE acl.grantee::pg_catalog.regrole::text END);
    END LOOP;

    -- Every table of weston (a partitioned table's months, DEFAULT and the months retention
    -- detached included: each is a table of its own), the history last. Indexes,
    -- constraints, triggers, row types, grants and identity sequences follow their table;
    -- OIDs do not change, so weston_partition_config and the foreign keys hold.
    FOR rel IN
        SELECT c.relname, c.relispartition,
               c.relname ~ '^prices_daily_(p[0-9]{4}_[0-9]{2}|default)$' AS month
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'weston'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
         ORDER BY c.relname = '_sqlx_migrations', c.relname
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE weston.%I SET SCHEMA weston_data', rel.relname);
        IF NOT rel.relispartition AND NOT rel.month
           AND rel.relname NOT IN ('_sqlx_migrations', 'scratch_databases') THEN
            exposed := exposed || rel.relname::text;
        END IF;
    END LOOP;

    FOREACH name IN ARRAY exposed LOOP
        EXECUTE pg_catalog.format(
            'CREATE VIEW weston.%1$I WITH (security_invoker = true) AS SELECT * FROM weston_data.%1$I', name);
        EXECUTE pg_catalog.format('ALTER VIEW weston.%I OWNER TO weston_owner', name);
        EXECUTE pg_catalog.format('COMMENT ON VIEW weston.%1$I IS %2$L', name,
            pg_catalog.obj_description(pg_catalog.format('weston_data.%I', name)::pg_catalog.regclass, 'pg_class'));
        PERFORM pg_temp.weston_copy_grants(pg_catalog.format('weston_data.%I', name)::pg_catalog.regclass,
                                           pg_catalog.format('weston.%I', name)::pg_catalog.regclass);
    END LOOP;
    -- The extension's tables and their views (0.8.0's) hold the same grants, whichever the
    -- earlier migrations reached.
    FOREACH name IN ARRAY ARRAY['weston_partition_config', 'weston_maintenance_log', 'weston_corrections'] LOOP
        PERFORM pg_temp.weston_copy_grants(pg_catalog.format('weston_data.%I', name)::pg_catalog.regclass,
                                           pg_catalog.format('weston.%I', name)::pg_catalog.regclass);
        PERFORM pg_temp.weston_copy_grants(pg_catalog.format('weston.%I', name)::pg_catalog.regclass,
                                           pg_catalog.format('weston_data.%I', name)::pg_catalog.regclass);
    END LOOP;

    -- sqlx records this migration in its history, unqualified, in this session and this
    -- transaction: it finds it in weston_data from here on.
    PERFORM pg_catalog.set_config('search_path', 'weston_data, weston, public', false);
END
$move$;

DROP FUNCTION pg_temp.weston_copy_grants(regclass, regclass);

-- The definer functions that keep price_last_dates (0028) write the table, not its view
-- (TRUNCATE cannot reach a view): as 0028 made them, with weston_data's names. Their owner
-- (weston_owner, 0030) and grants stay.
-- Keys that are gone: only symbols whose last date went with them are looked up again.
CREATE OR REPLACE FUNCTION weston.price_last_dates_recompute(gone text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, weston_data, weston, pg_temp AS $$
    DELETE FROM weston_data.price_last_dates l WHERE l.symbol = ANY (gone);
    INSERT INTO weston_data.price_last_dates (symbol, last_date)
    SELECT g.symbol, m.last_date
      FROM unnest(gone) AS g(symbol)
     CROSS JOIN LATERAL (SELECT max(p.date) AS last_date FROM weston_data.prices_daily p WHERE p.symbol = g.symbol) m
     WHERE m.last_date IS NOT NULL;
$$;

-- New keys can only move a symbol's last date forward.
CREATE OR REPLACE FUNCTION weston.price_last_dates_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, weston_data, weston, pg_temp AS $$
BEGIN
    INSERT INTO weston_data.price_last_dates AS l (symbol, last_date)
    SELECT n.symbol, max(n.date) FROM new_rows n GROUP BY n.symbol ORDER BY n.symbol
        ON CONFLICT (symbol) DO UPDATE SET last_date = excluded.last_date
     WHERE l.last_date < excluded.last_date;
    RETURN NULL;
END $$;

-- An update rarely changes a key (the loader's upsert never does): new keys advance, keys
-- that are gone and held a last date are looked up again.
CREATE OR REPLACE FUNCTION weston.price_last_dates_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, weston_data, weston, pg_temp AS $$
DECLARE
    gone text[];
BEGIN
    INSERT INTO weston_data.price_last_dates AS l (symbol, last_date)
    SELECT n.symbol, max(n.date) FROM new_rows n GROUP BY n.symbol ORDER BY n.symbol
        ON CONFLICT (symbol) DO UPDATE SET last_date = excluded.last_date
     WHERE l.last_date < excluded.last_date;
    SELECT array_agg(DISTINCT o.symbol ORDER BY o.symbol) INTO gone
      FROM (SELECT symbol, date FROM old_rows EXCEPT SELECT symbol, date FROM new_rows) o
      JOIN weston_data.price_last_dates l ON l.symbol = o.symbol AND o.date >= l.last_date;
    IF gone IS NOT NULL THEN
        PERFORM weston.price_last_dates_recompute(gone);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION weston.price_last_dates_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, weston_data, weston, pg_temp AS $$
DECLARE
    gone text[];
BEGIN
    SELECT array_agg(DISTINCT o.symbol ORDER BY o.symbol) INTO gone
      FROM old_rows o JOIN weston_data.price_last_dates l ON l.symbol = o.symbol AND o.date >= l.last_date;
    IF gone IS NOT NULL THEN
        PERFORM weston.price_last_dates_recompute(gone);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION weston.price_last_dates_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, weston_data, weston, pg_temp AS $$
BEGIN
    TRUNCATE weston_data.price_last_dates;
    RETURN NULL;
END $$;
