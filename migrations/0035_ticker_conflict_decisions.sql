-- Who decides a ticker conflict (pg_weston 0.8.0's weston_decide_ticker_conflict, in
-- sql/corrections.sql): dba only, like every correction. weston-loader applies this only
-- once the function exists (after ALTER EXTENSION pg_weston UPDATE). Idempotent.
REVOKE ALL ON FUNCTION weston_decide_ticker_conflict(bigint, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION weston_decide_ticker_conflict(bigint, boolean, text) TO dba;
