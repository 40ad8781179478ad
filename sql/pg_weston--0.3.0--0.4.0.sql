-- pg_weston 0.3.0 -> 0.4.0 (each change under a header naming its issue).
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- issue 13: data you can trust
-- A run that finished but could not have some data from any provider ends `partial`
-- (the status etl_run's CHECK already allows), through the extension like every ending.
CREATE  FUNCTION "weston_etl_finish_partial"(
	"run_id" bigint, /* i64 */
	"summary" TEXT /* core::option::Option<&str> */
) RETURNS void
VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'weston_etl_finish_partial_wrapper';

COMMENT ON FUNCTION weston_etl_finish_partial(bigint, text) IS 'Marks a running etl_run partial: finished, but some data could not be had from any provider (the summary says which; its stats list them).';
REVOKE EXECUTE ON FUNCTION weston_etl_finish_partial(bigint, text) FROM PUBLIC;
