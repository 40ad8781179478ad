-- scratch create, in the shared database: the scratch database's own login role for its
-- postgres_fdw user mapping, a member of app_ro (reads market data, writes nothing). Its
-- name and password come from this session's settings weston_scratch.reader and
-- weston_scratch.password, so the password appears in no statement text (logs, errors).
DO $reader$
BEGIN
    EXECUTE pg_catalog.format('CREATE ROLE %I LOGIN CONNECTION LIMIT 20 IN ROLE app_ro PASSWORD %L',
                              pg_catalog.current_setting('weston_scratch.reader'),
                              pg_catalog.current_setting('weston_scratch.password'));
END
$reader$
