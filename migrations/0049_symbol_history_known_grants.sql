-- Who may call weston_symbol_history(text, date, timestamptz) (pg_weston 0.11.0), a
-- security's tickers as the database knew them: everyone who reads market data, as 0017
-- grants the form without known_on. 0006 gives a name it does not know to dba only.
-- weston-loader applies this only once the function exists (after ALTER EXTENSION pg_weston
-- UPDATE). GRANT and REVOKE are idempotent.
REVOKE ALL ON FUNCTION weston.weston_symbol_history(text, date, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION weston.weston_symbol_history(text, date, timestamptz) TO dba, etl_writer, app_rw, app_ro;
