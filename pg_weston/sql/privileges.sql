-- PostgreSQL gives EXECUTE on every new function to PUBLIC. The functions that make tables
-- or write data are for the roles a DBA grants them to (migrations/0006_roles.sql does, for
-- dba and etl_writer), so an installation without those grants is closed, not open; above
-- all weston_ensure_partitions, which runs with its owner's rights. The reading functions
-- keep PUBLIC: they run with the caller's rights, so the tables' privileges still decide.
-- (Since 0.2.0; pg_weston--0.1.0--0.2.0.sql brings an older installation here.)
REVOKE EXECUTE ON FUNCTION weston_create_partition(date, regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_ensure_partitions(date, date, regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_rotate_partitions() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_begin(text, date, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_progress(bigint, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_finish(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_finish_partial(bigint, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_fail(bigint, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_reap(interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_skip(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_set_stats(bigint, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_ticker_listed(text, date, text, bigint, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_ticker_changed(text, text, date, text, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_ticker_delisted(text, date, text, bigint) FROM PUBLIC;
-- The DBA's corrections (since 0.5.0): dba only (migrations/0023).
REVOKE EXECUTE ON FUNCTION weston_check_correction(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_check_correction_symbol(text, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_record_split(text, date, numeric, numeric, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_delete_split(text, date, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_record_dividend(text, date, numeric, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_delete_dividend(text, date, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_correct_bar(text, date, numeric, numeric, numeric, numeric, numeric, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_resolve_finding(bigint, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_decide_ticker_conflict(bigint, boolean, text) FROM PUBLIC;
