-- Who may call weston_adjusted_prices_support(internal), which pg_weston 0.15.0 adds: the
-- roles 0006 gives every weston_adjust* function, so that an updated database has the
-- grants a new one gets (no one can call it from SQL: the planner does, for
-- weston_adjusted_prices). weston-loader applies this only once the function exists (after
-- ALTER EXTENSION pg_weston UPDATE). GRANT and REVOKE are idempotent.
REVOKE ALL ON FUNCTION weston.weston_adjusted_prices_support(internal) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION weston.weston_adjusted_prices_support(internal) TO dba, etl_writer, app_rw, app_ro;
