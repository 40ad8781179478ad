-- Who may call weston_float8(numeric), which pg_weston 0.13.0 adds: everyone who reads
-- market data, as 0049 grants the reads (the weston package's float reads call it). 0006
-- gives a name it does not know to dba only. weston-loader applies this only once the
-- function exists (after ALTER EXTENSION pg_weston UPDATE). GRANT and REVOKE are idempotent.
REVOKE ALL ON FUNCTION weston.weston_float8(numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION weston.weston_float8(numeric) TO dba, etl_writer, app_rw, app_ro;
