-- pg_weston lives in weston (or is about to: CREATE EXTENSION puts it there): so do the
-- loader's migrations and their history. Loaders before 0.4.0 kept _sqlx_migrations in public.
CREATE SCHEMA IF NOT EXISTS weston;
DO $history$
BEGIN
    IF pg_catalog.to_regclass('public._sqlx_migrations') IS NOT NULL
       AND pg_catalog.to_regclass('weston._sqlx_migrations') IS NULL THEN
        ALTER TABLE public._sqlx_migrations SET SCHEMA weston;
    END IF;
END
$history$;
