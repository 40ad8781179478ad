-- pg_weston 0.7.0 reads a symbol's tickers through its own weston_ticker_pieces; the copy
-- migration 0016 made, owned by dba, goes. A dba could replace that copy with code that ran
-- with the rights of whoever read adjusted prices (a superuser included), and `scratch
-- create` re-created it, as a superuser, in every scratch database. weston-loader applies
-- this only once the extension's function exists (after ALTER EXTENSION pg_weston UPDATE).
--
-- And the registry of scratch databases: which database `scratch create` made, with which
-- owner and reader roles, who made it and when. `scratch list` and `scratch drop` read
-- only it: a database's comment, which its owner can rewrite, names nothing `drop` acts on.
-- Owned by the superuser who migrates and closed to everyone else, so that no dba or
-- application role can add a row naming a role for `drop` to take away.

DO $owner$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'migration 0032 must run as a superuser: the scratch registry it creates is owned by whoever runs it';
    END IF;
END
$owner$;

REVOKE ALL ON FUNCTION weston.weston_ticker_pieces(text[], date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION weston.weston_ticker_pieces(text[], date) TO dba, etl_writer, app_rw, app_ro;

-- Not CASCADE: anything a dba built on it fails this migration, loudly, instead of going.
DROP FUNCTION IF EXISTS weston.ticker_pieces(text[], date);

CREATE TABLE weston.scratch_databases (
    database    name PRIMARY KEY,
    owner_role  name NOT NULL,
    reader_role name NOT NULL CONSTRAINT scratch_databases_reader_role_unique UNIQUE,
    created_by  name NOT NULL DEFAULT session_user,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT scratch_databases_database_named CHECK (database LIKE 'weston\_scratch\_%'),
    CONSTRAINT scratch_databases_reader_named CHECK (reader_role = database || '_reader')
);
COMMENT ON TABLE weston.scratch_databases IS
    'The scratch databases `weston-loader scratch create` made on this server from this database, with their owner and reader roles; `scratch list` and `scratch drop` read only this. Written by superusers only.';
REVOKE ALL ON TABLE weston.scratch_databases FROM PUBLIC;
