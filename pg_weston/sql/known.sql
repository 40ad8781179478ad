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

-- A change is known from its transaction's start, so what known_on knew is final only once
-- every transaction that may write the market data and began by then has ended. Checked
-- where a read takes the tickers and securities as known (every read as known does, a few
-- times a read), not for each run of bars: weston_open_writes (migration 0050) reads
-- pg_stat_activity. Not seen: such a transaction that commits in the instant between the
-- read's snapshot and this check.
CREATE FUNCTION weston_check_known_final(known_on timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
DECLARE
    writer record;
BEGIN
    PERFORM weston_check_known_on(known_on);
    IF known_on IS NULL OR to_regprocedure('weston_data.weston_open_writes(timestamptz)') IS NULL THEN
        RETURN;
    END IF;
    SELECT w.pid, w.role, w.began INTO writer FROM weston_data.weston_open_writes(known_on) w
     ORDER BY w.began LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'weston: known_on % is not final yet: a transaction that may write the market data (role %, pid %) began at % and is still open, and what it writes will be known from then',
                        known_on, writer.role, writer.pid, writer.began
              USING HINT = 'Ask again once it has ended, or for a moment before it began.',
                    ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END
$fn$;
COMMENT ON FUNCTION weston_check_known_final(timestamptz) IS
'Internal to the reads as known: weston_check_known_on, then nothing, or an error when what known_on knew may still change: a transaction that may write the market data began by known_on and is still open (weston_data.weston_open_writes, migration 0050).';

CREATE FUNCTION weston_ticker_history_known(known_on timestamptz)
RETURNS TABLE(security_id bigint, symbol text, valid_from date, valid_to date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM weston_check_known_final(known_on);
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
    PERFORM weston_check_known_final(known_on);
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

-- The bars of one ticker from lo to hi (inclusive), as known at known_on: what a run of
-- weston_adjusted_prices reads when known_on is given (its other branch reads the table).
-- PL/pgSQL, so it is planned only when it runs: it names migration 0040's history, which a
-- database whose extension was updated before `weston-loader migrate` does not have yet.
CREATE FUNCTION weston_prices_daily_known(traded text, lo date, hi date, known_on timestamptz)
RETURNS TABLE(date date, open numeric, high numeric, low numeric, close numeric, volume numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM weston_check_known_on(known_on);
    RETURN QUERY
    SELECT p.date, p.open, p.high, p.low, p.close, p.volume FROM weston_data.prices_daily p
     WHERE p.symbol = traded AND p.date >= lo AND p.date <= hi AND p.updated_at <= known_on
    UNION ALL
    SELECT h.date, h.open, h.high, h.low, h.close, h.volume FROM weston_data.prices_daily_history h
     WHERE h.symbol = traded AND h.date >= lo AND h.date <= hi
       AND h.updated_at <= known_on AND known_on < h.known_to;
END
$fn$;
COMMENT ON FUNCTION weston_prices_daily_known(text, date, date, timestamptz) IS
'Internal to weston_adjusted_prices: the bars (date, open, high, low, close, volume) of ticker traded from lo to hi (inclusive) as known at known_on: the current rows known by then and the kept versions current then.';
