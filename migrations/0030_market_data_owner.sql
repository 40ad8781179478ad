-- The market-data tables belong to `weston_owner`, a NOLOGIN role nobody is a member of.
--
-- Why. A table's owner can attach code to it (triggers, rules, column defaults, CHECK
-- constraints, index expressions) that runs as whoever writes the table. While `dba` owned
-- them, any dba member could plant code that ran inside another member's correction, as
-- that member: a statement trigger on `splits` inserting `weston_corrections` rows during
-- someone else's weston_record_split wrote the trail in the victim's name (its `by_role` is
-- session_user), and an index expression or a default did the same to every writer. The
-- extension's owner switch (pg_weston/src/owner.rs) keeps such code from running as a
-- superuser, not from running as another person. With an owner that no person can become,
-- nobody but a superuser can attach code to these tables, and schema changes are what the
-- migrations (run by a superuser) do. `dba` keeps, through grants, exactly the rows it needs
-- for corrections, the security's life and the configuration; it no longer creates objects in
-- `weston` (a function or operator there would be found by other members' sessions).
--
-- Months made later follow by themselves: weston_ensure_partitions and rotation make them as
-- the parent's owner and copy its owner and grants to the new month (the switch handles any
-- owner that is not a superuser); a dba adds months through weston_ensure_partitions.
--
-- The loader may insert findings and move a finding's `last_run` and `details`
-- (weston-loader/sql/upsert_findings.sql), nothing else of them: a resolution is written
-- only by weston_resolve_finding, with its trail row.
DO $owner$
DECLARE
    existing record;
    ties text;
BEGIN
    SELECT r.oid, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolcanlogin
      INTO existing FROM pg_catalog.pg_roles r WHERE r.rolname = 'weston_owner';
    IF NOT FOUND THEN
        BEGIN
            CREATE ROLE weston_owner NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created concurrently by a migration of another database
        END;
    ELSIF existing.rolsuper OR existing.rolbypassrls OR existing.rolcreaterole OR existing.rolcreatedb
          OR existing.rolreplication OR existing.rolcanlogin THEN
        RAISE EXCEPTION 'role weston_owner already exists with LOGIN, SUPERUSER, BYPASSRLS, CREATEROLE, CREATEDB or '
                        'REPLICATION; the owner of pg_weston''s tables must have none: ALTER ROLE weston_owner NOLOGIN '
                        'NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION, then migrate again';
    END IF;
    -- A member could attach code to every market-data table; and it needs no other role's rights.
    SELECT pg_catalog.string_agg(pg_catalog.format('%I is a member of %I', u.rolname, g.rolname), ', '
                                 ORDER BY u.rolname, g.rolname)
      INTO ties
      FROM pg_catalog.pg_auth_members m
      JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
      JOIN pg_catalog.pg_roles u ON u.oid = m.member
     WHERE 'weston_owner' IN (g.rolname, u.rolname);
    IF ties IS NOT NULL THEN
        RAISE EXCEPTION 'role weston_owner must have no member and be a member of no role (%): a member could attach '
                        'code to the market-data tables; REVOKE those memberships, then migrate again', ties;
    END IF;
END
$owner$;

-- The owner reads and makes months in pg_weston's schema; dba no longer creates anything there.
GRANT USAGE, CREATE ON SCHEMA weston TO weston_owner;
REVOKE CREATE ON SCHEMA weston FROM dba;

DO $tables$
DECLARE
    -- What dba may do to each table's rows: the corrections (sql/corrections.sql) write
    -- splits, dividends (both deleted too) and bars, and read them FOR UPDATE; the security's
    -- life and the loader's functions (which a dba may run) write securities, the identity
    -- tables and etl_run; the dba tunes the audit's thresholds. quality_findings' resolution
    -- columns are 0029's grant, made again below.
    dba_rights constant jsonb := '{
        "securities": "SELECT, INSERT, UPDATE",
        "prices_daily": "SELECT, INSERT, UPDATE",
        "splits": "SELECT, INSERT, UPDATE, DELETE",
        "dividends": "SELECT, INSERT, UPDATE, DELETE",
        "etl_run": "SELECT, INSERT, UPDATE",
        "security_identity": "SELECT, INSERT, UPDATE",
        "ticker_history": "SELECT, INSERT, UPDATE",
        "quality_findings": "SELECT",
        "quality_thresholds": "SELECT, INSERT, UPDATE, DELETE",
        "price_last_dates": "SELECT"
    }';
    prices oid := 'weston.prices_daily'::pg_catalog.regclass;
    rel record;
BEGIN
    -- Every table of the list, every partition of prices_daily (DEFAULT included), and the
    -- months retention detached (still named like partitions): ownership is per relation.
    FOR rel IN
        SELECT c.oid::pg_catalog.regclass AS name,
               CASE WHEN c.relname ~ '^prices_daily_(p[0-9]{4}_[0-9]{2}|default)$'
                      OR c.oid IN (SELECT t.relid FROM pg_catalog.pg_partition_tree(prices) t)
                    THEN 'prices_daily' ELSE c.relname::text END AS kind
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'weston'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
           AND (c.relname::text IN (SELECT pg_catalog.jsonb_object_keys(dba_rights))
                OR c.relname ~ '^prices_daily_(p[0-9]{4}_[0-9]{2}|default)$'
                OR c.oid IN (SELECT t.relid FROM pg_catalog.pg_partition_tree(prices) t))
         ORDER BY c.relname
    LOOP
        -- The old owner's own rights pass to the new owner (identity sequences follow their table).
        EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO weston_owner', rel.name);
        EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM dba', rel.name);
        EXECUTE pg_catalog.format('GRANT %s ON TABLE %s TO dba', dba_rights ->> rel.kind, rel.name);
    END LOOP;

    -- The definer functions that keep price_last_dates run as the tables' owner; dba could
    -- otherwise replace them. ticker_pieces (0016) is read by every adjusted price.
    ALTER FUNCTION price_last_dates_recompute(text[]) OWNER TO weston_owner;
    ALTER FUNCTION price_last_dates_inserted() OWNER TO weston_owner;
    ALTER FUNCTION price_last_dates_updated() OWNER TO weston_owner;
    ALTER FUNCTION price_last_dates_deleted() OWNER TO weston_owner;
    ALTER FUNCTION price_last_dates_truncated() OWNER TO weston_owner;
    IF pg_catalog.to_regprocedure('weston.ticker_pieces(text[], date)') IS NOT NULL THEN
        ALTER FUNCTION ticker_pieces(text[], date) OWNER TO weston_owner;
    END IF;
END
$tables$;

-- weston_resolve_finding, with dba's rights, writes the resolution columns (as 0029 granted).
GRANT UPDATE (resolved_at, resolution, resolved_by, resolution_note) ON TABLE quality_findings TO dba;

-- The loader: new findings (never resolved ones), and a seen-again finding's last_run and details.
REVOKE INSERT, UPDATE ON TABLE quality_findings FROM etl_writer;
GRANT INSERT (rule, symbol, date, subject, details, first_run, last_run) ON TABLE quality_findings TO etl_writer;
GRANT UPDATE (last_run, details) ON TABLE quality_findings TO etl_writer;

-- Making and retiring months acts as the caller, who must own the table: only the owner's
-- switch (a superuser's call, pg_cron's rotation) or weston_ensure_partitions can now.
REVOKE EXECUTE ON FUNCTION weston_create_partition(date, pg_catalog.regclass) FROM dba;
REVOKE EXECUTE ON FUNCTION weston_rotate_partitions() FROM dba;
