-- pg_weston 0.8.0 -> 0.9.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- known_on: reads as the database knew them (sql/known.sql; the history is migration 0040's).
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

-- known_on, last, on the adjusted-price functions (their signatures change: dropped and
-- made again; migration 0040 grants them as 0006 grants a fresh install's).
DROP FUNCTION weston_adjusted_prices(text, date, date, date, boolean);
DROP FUNCTION weston_adjusted_prices(text[], date, date, date, boolean);
DROP FUNCTION weston_adjustment_factors(text, date, boolean);
DROP FUNCTION weston_adjustment_segments(text[], date, date, boolean);
CREATE FUNCTION weston_adjustment_segments(
    symbols text[], bars_from date, as_of date, total_return boolean, known_on timestamptz)
RETURNS TABLE(symbol text, bounds date[], price_factors numeric[], volume_factors numeric[])
STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
-- The lookups run over every monthly partition; a generic plan prunes them at run time
-- instead of planning them all on each call.
SET plan_cache_mode TO force_generic_plan
LANGUAGE c AS 'MODULE_PATHNAME', 'weston_adjustment_segments_known_wrapper';

-- The public adjusted-price functions (plain SQL over weston_adjustment_segments, which
-- pg_weston/src/adjust.rs implements in Rust) and their comments.

COMMENT ON FUNCTION weston_adjustment_segments(text[], date, date, boolean, timestamptz) IS
'Internal to weston_adjusted_prices. For each of symbols with events in effect (bars_from < ex_date <= as_of; NULL: unbounded), as known at known_on (NULL: as stored): bounds, the event dates ascending, and price_factors / volume_factors, the cumulative factors of bars before each bound plus a final 1, so a bar on d takes price_factors[width_bucket(d, bounds) + 1]. Exact; a non-terminating factor (2/3, 1/7) is rounded to 20 decimal places.';
COMMENT ON FUNCTION weston_check_adjusted_arguments(text[], date, date, boolean) IS
'Internal to weston_adjusted_prices: true, or an error naming the NULL argument or the from_date after to_date.';

CREATE FUNCTION weston_adjustment_factors(
    symbol text, as_of date DEFAULT NULL, total_return boolean DEFAULT false,
    known_on timestamptz DEFAULT NULL)
RETURNS TABLE(effective_before date, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
    SELECT u.effective_before, u.price_factor, u.volume_factor
      FROM weston_adjustment_segments(ARRAY[symbol], NULL, as_of, total_return, known_on) s,
           unnest(s.bounds, s.price_factors, s.volume_factors) AS u(effective_before, price_factor, volume_factor)
     WHERE u.effective_before IS NOT NULL
     ORDER BY u.effective_before
$fn$;
COMMENT ON FUNCTION weston_adjustment_factors(text, date, boolean, timestamptz) IS
'The adjustment factors of the security that symbol names as of as_of (NULL: today; events under its earlier tickers included, see weston_symbol_history), one row per event date (ex-date) on or before as_of (NULL: every stored event), ascending: bars dated before effective_before, and on or after the previous row''s date, are multiplied by these cumulative factors (prices by price_factor, volume by volume_factor); bars on or after the last row''s date by 1. A split n-for-d contributes d/n to price_factor and n/d to volume_factor; with total_return a dividend contributes 1 - amount/close_before to price_factor (close_before: raw close of the last bar before the ex-date, in the ex-date''s share basis; a dividend with no earlier bar contributes 1). Exact; a non-terminating factor is rounded to 20 decimal places. In the spirit of a LEAN factor file. known_on: the answer as the database knew it then (events, bars and tickers as known at that moment; as_of NULL then means what it meant then); NULL: as stored now.';

-- The two weston_adjusted_prices are plain SQL that PostgreSQL inlines into the caller's
-- query: no SET clause (it would prevent inlining, and the rows would be materialised),
-- so instead every name in them is schema-qualified, operators included, and they mean
-- the same under any search_path. weston_ticker_pieces (sql/ticker_pieces.sql) gives the tickers and
-- date ranges of the security each symbol names as of as_of (a ticker that never changed:
-- itself, over all dates); each piece takes its symbol's segments first, in a subquery the
-- planner may not flatten (OFFSET 0), then its bars; each bar finds its factor by binary
-- search. known_on (since 0.9.0) is passed to each source, which reads as known when it is
-- not NULL (sql/known.sql); NULL plans as before. Joined after the bars, the segments were rescanned for every bar under a
-- generic plan, which sizes the symbols array at 10 (a prepared statement's sixth run, or
-- plan_cache_mode = force_generic_plan): 14 times slower at 750 symbols.
CREATE FUNCTION weston_adjusted_prices(
    symbols text[], from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false, known_on timestamptz DEFAULT NULL)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    -- Most bars take a factor of 1 (no event after them): they are returned as stored,
    -- without five numeric multiplications that would change nothing.
    SELECT b.symbol, b.date,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.open ELSE b.open OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.high ELSE b.high OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.low ELSE b.low OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.close ELSE b.close OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.vf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.volume ELSE b.volume OPERATOR(pg_catalog.*) b.vf END,
           b.pf, b.vf
      FROM (SELECT k.symbol, p.date, p.open, p.high, p.low, p.close, p.volume,
                   coalesce(k.price_factors[pg_catalog.width_bucket(p.date, k.bounds) OPERATOR(pg_catalog.+) 1],
                            1::pg_catalog.numeric) AS pf,
                   coalesce(k.volume_factors[pg_catalog.width_bucket(p.date, k.bounds) OPERATOR(pg_catalog.+) 1],
                            1::pg_catalog.numeric) AS vf
              FROM (SELECT q.symbol, q.traded, q.valid_from, q.valid_to,
                           s.bounds, s.price_factors, s.volume_factors
                      FROM @extschema@.weston_ticker_pieces(symbols, as_of, known_on) q
                      LEFT JOIN @extschema@.weston_adjustment_segments(symbols, from_date, as_of, total_return, known_on) s
                        ON s.symbol OPERATOR(pg_catalog.=) q.symbol
                    OFFSET 0) k
              JOIN @extschema@.weston_prices_daily_as(symbols, from_date, to_date, as_of, known_on) p
                ON p.symbol OPERATOR(pg_catalog.=) k.traded
               AND p.date OPERATOR(pg_catalog.>=) k.valid_from AND p.date OPERATOR(pg_catalog.<=) k.valid_to
             WHERE @extschema@.weston_check_adjusted_arguments(symbols, from_date, to_date, total_return)
               AND p.date OPERATOR(pg_catalog.>=) from_date AND p.date OPERATOR(pg_catalog.<=) to_date
             ORDER BY k.symbol, p.date
            OFFSET 0) b -- not flattened: each factor is looked up once per bar, not per column
     ORDER BY b.symbol, b.date
$fn$;
COMMENT ON FUNCTION weston_adjusted_prices(text[], date, date, date, boolean, timestamptz) IS
'Adjusted daily bars of every symbol in symbols between from_date and to_date (inclusive), ordered by symbol, date, computed in one pass; same semantics as weston_adjusted_prices(text, ...). Unknown symbols give no rows. Write the array as ARRAY[...] or ''{...}''::text[].';

CREATE FUNCTION weston_adjusted_prices(
    ticker text, from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false, known_on timestamptz DEFAULT NULL)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT * FROM @extschema@.weston_adjusted_prices(
        ARRAY[ticker]::pg_catalog.text[], from_date, to_date, as_of, total_return, known_on)
$fn$;
COMMENT ON FUNCTION weston_adjusted_prices(text, date, date, date, boolean, timestamptz) IS
'Daily bars of the security that ticker names as of as_of (NULL: today, New York) between from_date and to_date (inclusive), ordered by date, under the name asked for, adjusted as of as_of (NULL: every stored event); bars, splits and dividends under the security''s earlier tickers are included (see weston_symbol_history). A ticker first held after as_of gives no rows; one never recorded in ticker_history is read as it is stored. An event''s date is its ex-date: a bar on d is adjusted by events with d < ex_date <= as_of. Split n-for-d: prices times d/n, volume times n/d. total_return also multiplies prices by 1 - amount/close_before per dividend (close_before: raw close of the last bar before the ex-date, in the ex-date''s share basis). price_factor and volume_factor are the factors applied (see weston_adjustment_factors). Exact numeric: raw times factor, a non-terminating factor rounded to 20 decimal places. Unknown symbol: no rows. known_on: the exact answer this call gave at that moment (bars, splits, dividends and tickers as the database knew them then; as_of NULL means what it meant then: that day in New York for which security a ticker names, every event then stored for the factors); an error when known_on is before the database began keeping its changes (weston_data.history_start) or in the future. Errors on a NULL argument other than as_of and known_on, and on from_date > to_date.';

-- known_on on weston_ticker_pieces (a new form; the old one calls it).
-- What a read of `symbols` as of `as_of` (NULL: today, New York) covers: for each symbol
-- (distinct), the tickers and date ranges of the security it names. A symbol names the
-- security that most recently held it on or before as_of (Zipline's rule; a delisted or
-- renamed ticker still names its last holder); a ticker whose first holder starts after
-- as_of names nothing (no rows); a ticker never in ticker_history names itself, over all
-- dates (valid_from -infinity, valid_to infinity). known_on (since 0.9.0): ticker_history
-- as known then, and "today" is known_on's New York date (sql/known.sql). Rows of the named security starting
-- after as_of are left out; those ending after it keep their end (bars stop there anyway).
--
-- The extension's own, so that no role but the extension's owner can change what the
-- adjusted-price functions run (a copy a dba owned could be replaced by code that runs with
-- the rights of whoever reads adjusted prices). Plain SQL that PostgreSQL inlines into the
-- calling query: no SET clause (it would prevent inlining), so every name is
-- schema-qualified, operators included, and it means the same under any search_path. The
-- body is quoted, not BEGIN ATOMIC: ticker_history is created by migrations/0016 (and put
-- in weston_data by 0034), after the extension, and a quoted body is resolved when it is
-- first run (CREATE EXTENSION and ALTER EXTENSION UPDATE do not check function bodies).
CREATE FUNCTION weston_ticker_pieces(symbols text[], as_of date, known_on timestamptz)
RETURNS TABLE(symbol text, traded text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT q.symbol,
           coalesce(t.symbol, q.symbol),
           coalesce(t.valid_from, '-infinity'::pg_catalog.date),
           coalesce(t.valid_to, 'infinity'::pg_catalog.date)
      FROM (SELECT DISTINCT u.symbol FROM pg_catalog.unnest(symbols) AS u(symbol)) q
      LEFT JOIN LATERAL (
            SELECT h.security_id FROM @extschema@.weston_ticker_history_as(known_on) h
             WHERE h.symbol OPERATOR(pg_catalog.=) q.symbol
               AND h.valid_from OPERATOR(pg_catalog.<=)
                   coalesce(as_of, (coalesce(known_on, pg_catalog.now()) AT TIME ZONE 'America/New_York')::pg_catalog.date)
             ORDER BY h.valid_from DESC LIMIT 1) holder ON true
      LEFT JOIN @extschema@.weston_ticker_history_as(known_on) t
        ON t.security_id OPERATOR(pg_catalog.=) holder.security_id
       AND t.valid_from OPERATOR(pg_catalog.<=)
           coalesce(as_of, (coalesce(known_on, pg_catalog.now()) AT TIME ZONE 'America/New_York')::pg_catalog.date)
     WHERE holder.security_id IS NOT NULL
        OR NOT EXISTS (SELECT 1 FROM @extschema@.weston_ticker_history_as(known_on) n
                        WHERE n.symbol OPERATOR(pg_catalog.=) q.symbol)
$fn$;
COMMENT ON FUNCTION weston_ticker_pieces(text[], date, timestamptz) IS
'Internal to the adjusted-price functions: per symbol, the (ticker, valid_from, valid_to) pieces of the security it names as of as_of (NULL: today, New York, or known_on''s New York date), with ticker_history as known at known_on (NULL: as it is); a ticker never in ticker_history is its own single piece. Reads ticker_history (migration 0016).';

-- The form the adjusted-price reads of 0.7.0 and 0.8.0 (their SQL, and the library's
-- queries without known_on) call, and migration 0032 grants.
CREATE OR REPLACE FUNCTION weston_ticker_pieces(symbols text[], as_of date)
RETURNS TABLE(symbol text, traded text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT p.symbol, p.traded, p.valid_from, p.valid_to
      FROM @extschema@.weston_ticker_pieces(symbols, as_of, NULL::pg_catalog.timestamptz) p
$fn$;
COMMENT ON FUNCTION weston_ticker_pieces(text[], date) IS
'Internal to the adjusted-price functions: weston_ticker_pieces(symbols, as_of, NULL), ticker_history as it is.';

-- weston_resolve_symbol and weston_universe check their day in one internal function,
-- weston_check_day (the same refusal, the same message).
CREATE FUNCTION @extschema@.weston_check_day(argument text, day date)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
BEGIN
    IF NOT day BETWEEN '0001-01-01' AND '9999-12-31' THEN
        RAISE EXCEPTION 'weston: % % is outside the supported range 0001-01-01 to 9999-12-31',
                        argument,
                        CASE WHEN NOT isfinite(day) THEN day::text
                             WHEN day < '0001-01-01' THEN to_char(day, 'YYYY-MM-DD BC')
                             ELSE to_char(day, 'YYYY-MM-DD') END
              USING ERRCODE = 'datetime_field_overflow';
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@.weston_check_day(text, date) IS
'Internal to weston_resolve_symbol and weston_universe: nothing, or an error naming argument and day when day is outside 0001-01-01 to 9999-12-31 (infinity, -infinity; SQLSTATE 22008). NULL passes.';

-- known_on on weston_resolve_symbol and weston_universe (new forms; the old ones call them).
CREATE FUNCTION weston_resolve_symbol(symbol text, on_date date, known_on timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    answers    text[];
    candidates text;
BEGIN
    IF symbol IS NULL THEN
        RAISE EXCEPTION 'weston: symbol must not be NULL';
    END IF;
    IF on_date IS NULL THEN
        RAISE EXCEPTION 'weston: on_date must not be NULL';
    END IF;
    PERFORM weston_check_day('on_date', on_date);
    IF NOT EXISTS (SELECT 1 FROM weston_ticker_history_as(known_on) h WHERE h.symbol = weston_resolve_symbol.symbol) THEN
        RETURN (SELECT s.symbol FROM weston_securities_as(known_on) s
                 WHERE s.symbol = weston_resolve_symbol.symbol
                   AND (s.listed_date IS NULL OR s.listed_date <= on_date)
                   AND (s.delisted_date IS NULL OR s.delisted_date >= on_date));
    END IF;
    -- Whoever held the ticker that day traded under it.
    IF EXISTS (SELECT 1 FROM weston_ticker_history_as(known_on) h
                WHERE h.symbol = weston_resolve_symbol.symbol
                  AND h.valid_from <= on_date AND (h.valid_to IS NULL OR h.valid_to >= on_date)) THEN
        RETURN symbol;
    END IF;
    -- Otherwise the ticker that day of each security that ever held it.
    SELECT array_agg(t.symbol ORDER BY t.symbol),
           string_agg(pg_catalog.format('%s (security %s, which held %s from %s to %s)',
                                        t.symbol, t.security_id, symbol, c.held_from,
                                        coalesce(c.held_to::text, 'now')), ', ' ORDER BY t.symbol)
      INTO answers, candidates
      FROM (SELECT h.security_id, min(h.valid_from) AS held_from,
                   CASE WHEN bool_and(h.valid_to IS NOT NULL) THEN max(h.valid_to) END AS held_to
              FROM weston_ticker_history_as(known_on) h WHERE h.symbol = weston_resolve_symbol.symbol
             GROUP BY h.security_id) c
      JOIN weston_ticker_history_as(known_on) t ON t.security_id = c.security_id
     WHERE t.valid_from <= on_date AND (t.valid_to IS NULL OR t.valid_to >= on_date);
    IF coalesce(cardinality(answers), 0) > 1 THEN
        RAISE EXCEPTION 'weston: % is ambiguous on %: securities that held it traded that day as %',
                        symbol, on_date, candidates
              USING HINT = 'Name the security by the ticker it had on that date.';
    END IF;
    RETURN answers[1];
END
$fn$;
COMMENT ON FUNCTION weston_resolve_symbol(text, date, timestamptz) IS
'The ticker under which the security named by symbol traded on on_date: symbol itself when a security held it that day; otherwise the ticker that day of the one security that ever held symbol and traded that day (FB on 2023-01-03: META); NULL when none did; an error naming the candidates when several did. A ticker never recorded in ticker_history: itself between its securities row''s listed_date and delisted_date (NULL bounds: open). Uses what was recorded at known_on (NULL: everything recorded today): the answer this call gave then. An on_date outside 0001-01-01 to 9999-12-31 (infinity, -infinity) is refused naming it (SQLSTATE 22008).';

CREATE FUNCTION weston_universe(as_of date, known_on timestamptz)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM weston_check_day('as_of', as_of);
    RETURN QUERY
    WITH d AS (SELECT coalesce(as_of, (coalesce(known_on, now()) AT TIME ZONE 'America/New_York')::date) AS day)
    SELECT t.symbol,
           (SELECT min(f.valid_from) FROM weston_ticker_history_as(known_on) f WHERE f.security_id = t.security_id),
           CASE WHEN t.valid_to = d.day
                 AND NOT EXISTS (SELECT 1 FROM weston_ticker_history_as(known_on) l
                                  WHERE l.security_id = t.security_id AND l.valid_from > t.valid_from)
                THEN t.valid_to END
      FROM weston_ticker_history_as(known_on) t, d
     WHERE t.valid_from <= d.day AND (t.valid_to IS NULL OR t.valid_to >= d.day)
    UNION ALL
    SELECT s.symbol, s.listed_date, CASE WHEN s.delisted_date = d.day THEN s.delisted_date END
      FROM weston_securities_as(known_on) s, d
     WHERE (s.listed_date IS NULL OR s.listed_date <= d.day)
       AND (s.delisted_date IS NULL OR s.delisted_date >= d.day)
       AND NOT EXISTS (SELECT 1 FROM weston_ticker_history_as(known_on) n WHERE n.symbol = s.symbol)
     ORDER BY 1;
END
$fn$;
COMMENT ON FUNCTION weston_universe(date, timestamptz) IS
'The securities listed on as_of (NULL: today, New York, or known_on''s New York date), under the ticker each had that day, including those delisted since (survivorship-free), ordered by symbol. listed_date: the first day of the security under any ticker; delisted_date: as known on as_of, so set only when as_of is its last day. A ticker never recorded in ticker_history is listed while its securities row''s listed_date (NULL: always) and delisted_date (NULL: still listed) say so. known_on: the answer this call gave at that moment (ticker_history and securities as known then; NULL: as recorded now); write weston_universe(NULL, known_on) for that day''s universe as known then. An as_of outside 0001-01-01 to 9999-12-31 (infinity, -infinity) is refused naming it (SQLSTATE 22008).';

-- The forms without known_on (since 0.4.0): what is recorded now. Kept as they were named,
-- so that calls without known_on, and migration 0017's grants, find them; known_on has no
-- default in the forms above, so that no call is ambiguous between the two.
CREATE OR REPLACE FUNCTION weston_resolve_symbol(symbol text, on_date date)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
    SELECT weston_resolve_symbol($1, $2, NULL::timestamptz)
$fn$;
COMMENT ON FUNCTION weston_resolve_symbol(text, date) IS
'weston_resolve_symbol(symbol, on_date, NULL): the ticker under which the security named by symbol traded on on_date, from everything recorded today.';

CREATE OR REPLACE FUNCTION weston_universe(as_of date DEFAULT NULL)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
    SELECT u.symbol, u.listed_date, u.delisted_date FROM weston_universe($1, NULL::timestamptz) u
$fn$;
COMMENT ON FUNCTION weston_universe(date) IS
'weston_universe(as_of, NULL): the securities listed on as_of (NULL: today, New York), as recorded now, ordered by symbol.';

