-- The loader as it is deployed, an etl_writer login (weston_loader), reads which migrations
-- the database has (weston-loader checks the schema is there before `run`, `status` and
-- `audit`), and so does whoever runs `status`: analysts and the exporter (app_ro), the
-- backend (app_rw), the DBA. The history is sqlx's table, created by the superuser who
-- migrates; no migration granted it, so every one of those commands failed with "permission
-- denied for table _sqlx_migrations". Read only: the history is written by `migrate` alone.
-- Unqualified: the history lives in pg_weston's schema, first on the migrations' search_path.
-- A database migrated before gets this the next time it is migrated, like any migration.
REVOKE ALL ON TABLE _sqlx_migrations FROM PUBLIC;
GRANT SELECT ON TABLE _sqlx_migrations TO dba, etl_writer, app_rw, app_ro;
