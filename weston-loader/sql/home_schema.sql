-- Where pg_weston lives in this database: the extension's schema, or weston (where
-- CREATE EXTENSION puts it since 0.4.0) before it is installed. An installation of an
-- earlier version lives where it was created until ALTER EXTENSION pg_weston UPDATE moves it.
-- (COALESCE is syntax, not a function: there is no schema to name.)
SELECT COALESCE(
         (SELECT n.nspname::text FROM pg_catalog.pg_extension e
            JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
           WHERE e.extname OPERATOR(pg_catalog.=) 'pg_weston'),
         'weston')
