-- Tables owned by the extension. Marked with pg_extension_config_dump so that pg_dump
-- saves their rows (the extension script itself only recreates them empty).
--
-- Every table of pg_weston lives in weston_data (since 0.8.0), a schema no default
-- search_path names: a schema tool that reflects every table visible on the session's
-- search_path (SQLAlchemy, so Alembic's autogenerate on the database's plain URL) sees none
-- of them. What people name unqualified stays in the extension's schema, weston: the
-- functions, and a view over each table, of the same name and columns, security_invoker
-- (the table's grants decide, for the caller): the extension's own here, the migrations'
-- by migrations/0034. The extension's functions search weston_data first. The extension
-- creates the schema (a member: it goes with DROP EXTENSION); the migrations put their
-- tables in it and grant its USAGE. The migrations before 0034 name these tables in weston
-- (GRANT ... ON weston.weston_partition_config, INSERT INTO weston_partition_config): they
-- reach the views, and 0034 gives each table its view's grants.
CREATE SCHEMA weston_data;
COMMENT ON SCHEMA weston_data IS
    'pg_weston''s tables (market data, the ETL runs, corrections, partition settings); read them through the views of the same names in weston.';

CREATE TABLE weston_data.weston_partition_config (
    parent          regclass PRIMARY KEY,
    premake_months  int NOT NULL DEFAULT 3
                    CONSTRAINT weston_partition_config_premake_range CHECK (premake_months BETWEEN 0 AND 120),
    -- NULL keeps every month.
    retain_months   int
                    CONSTRAINT weston_partition_config_retain_positive CHECK (retain_months IS NULL OR retain_months >= 1),
    retention       text NOT NULL DEFAULT 'detach'
                    CONSTRAINT weston_partition_config_retention_known CHECK (retention IN ('detach', 'drop', 'archive')),
    archive_schema  name,
    -- The most months one weston_ensure_partitions() call may create (each holds DEFAULT
    -- locked until the call's transaction ends); only dba may change it, not the loader.
    max_partitions_per_call int NOT NULL DEFAULT 120
                    CONSTRAINT weston_partition_config_max_partitions_positive CHECK (max_partitions_per_call >= 1),
    CONSTRAINT weston_partition_config_archive_schema_iff_archive
        CHECK ((retention = 'archive') = (archive_schema IS NOT NULL))
);
COMMENT ON TABLE weston_data.weston_partition_config IS
    'Which range-partitioned tables weston_rotate_partitions() maintains, and how.';
SELECT pg_catalog.pg_extension_config_dump('weston_data.weston_partition_config', '');

CREATE TABLE weston_data.weston_maintenance_log (
    log_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at  timestamptz,
    status       text NOT NULL
                 CONSTRAINT weston_maintenance_log_status_known
                 CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'skipped', 'standby')),
    -- What was created, moved, detached, and what failed: the jsonb weston_rotate_partitions() returns.
    details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE weston_data.weston_maintenance_log IS 'One row per weston_rotate_partitions() run.';
SELECT pg_catalog.pg_extension_config_dump('weston_data.weston_maintenance_log', '');
SELECT pg_catalog.pg_extension_config_dump('weston_data.weston_maintenance_log_log_id_seq', '');

CREATE VIEW weston_partition_config WITH (security_invoker = true) AS
    SELECT * FROM weston_data.weston_partition_config;
COMMENT ON VIEW weston_partition_config IS
    'Which range-partitioned tables weston_rotate_partitions() maintains, and how.';
CREATE VIEW weston_maintenance_log WITH (security_invoker = true) AS
    SELECT * FROM weston_data.weston_maintenance_log;
COMMENT ON VIEW weston_maintenance_log IS 'One row per weston_rotate_partitions() run.';
