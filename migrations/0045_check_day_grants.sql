-- Who may call weston_check_day (pg_weston 0.9.0), the day check weston_resolve_symbol and
-- weston_universe run with their caller's rights: everyone who may call them. 0006 gives a
-- name it does not know to dba only. weston-loader applies this only once the function
-- exists (after ALTER EXTENSION pg_weston UPDATE). GRANT and REVOKE are idempotent.
REVOKE ALL ON FUNCTION weston.weston_check_day(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION weston.weston_check_day(text, date) TO dba, etl_writer, app_rw, app_ro;
