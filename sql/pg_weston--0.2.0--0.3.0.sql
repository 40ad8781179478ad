-- pg_weston 0.2.0 -> 0.3.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- issue 17: loader provenance through the extension
-- The loader writes etl_run only through the extension's functions: a skipped run and a
-- run's stats get functions of their own. New functions, so PUBLIC's default EXECUTE is
-- revoked as privileges.sql does on a fresh install (the same initial privileges);
-- migrations/0007 grants them to dba and etl_writer.
CREATE  FUNCTION "weston_etl_skip"(
	"job_name" TEXT, /* & str */
	"reason" TEXT /* Option < & str > */
) RETURNS bigint /* i64 */
VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'weston_etl_skip_wrapper';

CREATE  FUNCTION "weston_etl_set_stats"(
	"run_id" bigint, /* i64 */
	"stats" jsonb /* pgrx :: JsonB */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'weston_etl_set_stats_wrapper';

COMMENT ON FUNCTION weston_etl_skip(text, text) IS 'Records a skipped etl_run (another run held the lock), finished now, with the reason; returns its run_id.';
COMMENT ON FUNCTION weston_etl_set_stats(bigint, jsonb) IS 'Replaces a running etl_run''s stats (what the run did, per provider and table).';
REVOKE EXECUTE ON FUNCTION weston_etl_skip(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_set_stats(bigint, jsonb) FROM PUBLIC;
