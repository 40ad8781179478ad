-- Reads as the database knew them (known_on, since 0.9.0). Migration 0040 keeps every
-- replaced or deleted version of the market data in <table>_history with the moment it
-- stopped being current (known_to); each current row's updated_at is when it became known.
-- As known at T: the current rows with updated_at <= T and the kept versions with
-- updated_at <= T < known_to.
--
-- The readers name the sets below in place of the tables. Each is plain SQL that PostgreSQL
-- inlines: with known_on NULL it is the table itself (the other branch is proved empty
-- when the query is planned, or skipped at run time by a one-time filter), so today's reads
-- plan as before. The choice is a condition on the union, not a WHERE in its branches: a
-- branch with a WHERE is not flattened into the union, and every bar would pass through
-- one more projection. The as-known branch is a PL/pgSQL function, planned only when it runs:
-- it checks known_on first, and it names migration 0040's tables and columns, which an
-- extension updated before `weston-loader migrate` does not have yet; there a known_on read
-- is refused plainly and every other read works.

CREATE FUNCTION weston_check_known_on(known_on timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
DECLARE
    began timestamptz;
BEGIN
    IF known_on IS NULL THEN
        RETURN;
    END IF;
    IF NOT isfinite(known_on) THEN
        RAISE EXCEPTION 'weston: known_on % is no moment: give the timestamp the results were read at', known_on
              USING ERRCODE = 'datetime_field_overflow';
    END IF;
    IF to_regclass('weston_data.history_start') IS NULL THEN
        RAISE EXCEPTION 'weston: known_on: this database keeps no history of its changes yet'
              USING HINT = 'weston-loader migrate adds it (migration 0040); reads as known start from then.',
                    ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT h.started_at INTO began FROM weston_data.history_start h;
    IF known_on < began THEN
        RAISE EXCEPTION 'weston: known_on % is before the history of changes began (%): what was known then was not kept',
                        known_on, began
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF known_on > now() THEN
        RAISE EXCEPTION 'weston: known_on % is in the future (now: %): what will be known then is not known yet',
                        known_on, now()
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$fn$;
COMMENT ON FUNCTION weston_check_known_on(timestamptz) IS
'Internal to the reads as known: nothing, or an error when known_on is infinite, in the future, before the history of changes began (weston_data.history_start, migration 0040), or when the database keeps no history yet.';

CREATE FUNCTION weston_ticker_history_known(known_on timestamptz)
RETURNS TABLE(security_id bigint, symbol text, valid_from date, valid_to date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM weston_check_known_on(known_on);
    RETURN QUERY
    SELECT t.security_id, t.symbol, t.valid_from, t.valid_to FROM weston_data.ticker_history t
     WHERE t.updated_at <= known_on
    UNION ALL
    SELECT h.security_id, h.symbol, h.valid_from, h.valid_to FROM weston_data.ticker_history_history h
     WHERE h.updated_at <= known_on AND known_on < h.known_to;
END
$fn$;
COMMENT ON FUNCTION weston_ticker_history_known(timestamptz) IS
'Internal to the reads as known: ticker_history as known at known_on.';

CREATE FUNCTION weston_ticker_history_as(known_on timestamptz)
RETURNS TABLE(security_id bigint, symbol text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT u.security_id, u.symbol, u.valid_from, u.valid_to
      FROM (SELECT t.security_id, t.symbol, t.valid_from, t.valid_to, true AS stored
              FROM weston_data.ticker_history t
            UNION ALL
            SELECT k.security_id, k.symbol, k.valid_from, k.valid_to, false
              FROM @extschema@.weston_ticker_history_known(known_on) k) u
     WHERE u.stored OPERATOR(pg_catalog.=) (known_on IS NULL)
$fn$;
COMMENT ON FUNCTION weston_ticker_history_as(timestamptz) IS
'Internal to the reads as known: ticker_history (security_id, symbol, valid_from, valid_to) as known at known_on; NULL: as it is.';

CREATE FUNCTION weston_securities_known(known_on timestamptz)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM weston_check_known_on(known_on);
    RETURN QUERY
    SELECT s.symbol, s.listed_date, s.delisted_date FROM weston_data.securities s
     WHERE s.updated_at <= known_on
    UNION ALL
    SELECT h.symbol, h.listed_date, h.delisted_date FROM weston_data.securities_history h
     WHERE h.updated_at <= known_on AND known_on < h.known_to;
END
$fn$;
COMMENT ON FUNCTION weston_securities_known(timestamptz) IS
'Internal to the reads as known: securities as known at known_on.';

CREATE FUNCTION weston_securities_as(known_on timestamptz)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT u.symbol, u.listed_date, u.delisted_date
      FROM (SELECT s.symbol, s.listed_date, s.delisted_date, true AS stored FROM weston_data.securities s
            UNION ALL
            SELECT k.symbol, k.listed_date, k.delisted_date, false
              FROM @extschema@.weston_securities_known(known_on) k) u
     WHERE u.stored OPERATOR(pg_catalog.=) (known_on IS NULL)
$fn$;
COMMENT ON FUNCTION weston_securities_as(timestamptz) IS
'Internal to the reads as known: securities (symbol, listed_date, delisted_date) as known at known_on; NULL: as it is.';

-- The bars a read of symbols from from_date to to_date can use, as known: those of every
-- ticker of the securities the symbols name (as known), in the range.
CREATE FUNCTION weston_prices_daily_known(
    symbols text[], from_date date, to_date date, as_of date, known_on timestamptz)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric, volume numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM weston_check_known_on(known_on);
    RETURN QUERY
    SELECT b.symbol, b.date, b.open, b.high, b.low, b.close, b.volume
      FROM (SELECT DISTINCT q.traded FROM weston_ticker_pieces(symbols, as_of, known_on) q) q
     CROSS JOIN LATERAL (
           SELECT p.symbol, p.date, p.open, p.high, p.low, p.close, p.volume FROM weston_data.prices_daily p
            WHERE p.symbol = q.traded AND p.date >= from_date AND p.date <= to_date
              AND p.updated_at <= known_on
           UNION ALL
           SELECT h.symbol, h.date, h.open, h.high, h.low, h.close, h.volume FROM weston_data.prices_daily_history h
            WHERE h.symbol = q.traded AND h.date >= from_date AND h.date <= to_date
              AND h.updated_at <= known_on AND known_on < h.known_to) b;
END
$fn$;
COMMENT ON FUNCTION weston_prices_daily_known(text[], date, date, date, timestamptz) IS
'Internal to the reads as known: the bars (symbol, date, open, high, low, close, volume) between from_date and to_date of every ticker of the securities symbols name as of as_of, as known at known_on.';

CREATE FUNCTION weston_prices_daily_as(
    symbols text[], from_date date, to_date date, as_of date, known_on timestamptz)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric, volume numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT u.symbol, u.date, u.open, u.high, u.low, u.close, u.volume
      FROM (SELECT p.symbol, p.date, p.open, p.high, p.low, p.close, p.volume, true AS stored
              FROM weston_data.prices_daily p
            UNION ALL
            SELECT k.symbol, k.date, k.open, k.high, k.low, k.close, k.volume, false
              FROM @extschema@.weston_prices_daily_known(symbols, from_date, to_date, as_of, known_on) k) u
     WHERE u.stored OPERATOR(pg_catalog.=) (known_on IS NULL)
$fn$;
COMMENT ON FUNCTION weston_prices_daily_as(text[], date, date, date, timestamptz) IS
'Internal to the reads as known: prices_daily as it is (known_on NULL: every bar; the caller bounds them), or as known at known_on, the bars weston_prices_daily_known gives.';
