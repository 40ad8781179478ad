-- Which transactions that may write the market data are still open, and since when: what a
-- read as known (pg_weston 0.11.0, weston_check_known_final) asks before it answers. A
-- change is known from its transaction's start (0040), so while one that began by known_on
-- is open, what known_on knew is not final: a read then could differ from the same read
-- made later.
--
-- Other roles' transactions are visible in pg_stat_activity only to members of
-- pg_read_all_stats. The function runs as weston_activity, a role of its own (NOLOGIN, no
-- members, roles being cluster-wide; made a member of pg_read_all_stats and of nothing
-- else), and returns only the pid, role and start of each such transaction.
DO $activity$
DECLARE
    existing record;
    members text;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'migration 0050 must run as a superuser: it creates role weston_activity, a member of pg_read_all_stats';
    END IF;
    SELECT r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolcanlogin
      INTO existing FROM pg_catalog.pg_roles r WHERE r.rolname = 'weston_activity';
    IF NOT FOUND THEN
        BEGIN
            CREATE ROLE weston_activity NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created concurrently by a migration of another database
        END;
    ELSIF existing.rolsuper OR existing.rolbypassrls OR existing.rolcreaterole OR existing.rolcreatedb
          OR existing.rolreplication OR existing.rolcanlogin THEN
        RAISE EXCEPTION 'role weston_activity already exists with LOGIN, SUPERUSER, BYPASSRLS, CREATEROLE, CREATEDB or '
                        'REPLICATION; it must have none: ALTER ROLE weston_activity NOLOGIN NOSUPERUSER NOBYPASSRLS '
                        'NOCREATEROLE NOCREATEDB NOREPLICATION, then migrate again';
    END IF;
    -- A member would read every session's statistics and queries.
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(u.rolname), ', ' ORDER BY u.rolname) INTO members
      FROM pg_catalog.pg_auth_members m
      JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
      JOIN pg_catalog.pg_roles u ON u.oid = m.member
     WHERE g.rolname = 'weston_activity';
    IF members IS NOT NULL THEN
        RAISE EXCEPTION 'role weston_activity must have no member (%): REVOKE weston_activity FROM them, then migrate again', members;
    END IF;
    BEGIN
        GRANT pg_read_all_stats TO weston_activity;
    EXCEPTION WHEN unique_violation THEN
        NULL; -- granted concurrently by a migration of another database
    END;
END
$activity$;

-- Who may write the market data: the sessions of the loader, the DBAs, the owner and
-- superusers (every other role is refused every write by the tables' privileges), and
-- pg_cron's jobs. Not the server's own workers, which write none of it though some run as
-- the bootstrap superuser: autovacuum (a transaction a table, minutes on a large one) and
-- pg_cron's launcher.
CREATE FUNCTION weston_data.weston_open_writes(began_by timestamptz)
RETURNS TABLE(pid integer, role name, began timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT a.pid, r.rolname, a.xact_start
      FROM pg_catalog.pg_stat_activity a
      JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid
     WHERE a.datname = pg_catalog.current_database()
       AND a.backend_type IN ('client backend', 'pg_cron')
       AND a.pid <> pg_catalog.pg_backend_pid()
       AND a.xact_start <= began_by
       AND (r.rolsuper
            OR pg_catalog.pg_has_role(r.oid, 'etl_writer', 'MEMBER')
            OR pg_catalog.pg_has_role(r.oid, 'dba', 'MEMBER')
            OR pg_catalog.pg_has_role(r.oid, 'weston_owner', 'MEMBER'))
     ORDER BY a.xact_start
$$;
COMMENT ON FUNCTION weston_data.weston_open_writes(timestamptz) IS
'The open transactions of this database''s sessions and pg_cron''s jobs, other than the caller''s, that began by began_by and whose role may write the market data (a superuser, or a member of etl_writer, dba or weston_owner): pid, role, start. Runs as weston_activity (a member of pg_read_all_stats). Read by weston_check_known_final.';
ALTER FUNCTION weston_data.weston_open_writes(timestamptz) OWNER TO weston_activity;
REVOKE ALL ON FUNCTION weston_data.weston_open_writes(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION weston_data.weston_open_writes(timestamptz) TO dba, etl_writer, app_rw, app_ro;
