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

-- The many-symbol weston_adjusted_prices is plain SQL that PostgreSQL inlines into the
-- caller's query: no SET clause (it would prevent inlining, and the rows would be
-- materialised), so instead every name in it is schema-qualified, operators included, and
-- it means the same under any search_path.
--
-- The shape is LEAN's and Zipline's: each symbol's bars are walked in date order and the
-- factor changes only at event boundaries. A run is one ticker piece of a symbol cut at
-- its segments' bounds (weston_adjustment_segments gives bounds b1 < b2 < ... and the
-- factors of [-infinity, b1), [b1, b2), ..., [bn, infinity)), within the window: one
-- factor over [lo, hi]. Runs are few (a symbol's pieces times its events), computed
-- first and ordered by (symbol, lo); each then reads its bars by one index range scan
-- (LATERAL and OFFSET 0: always this nested loop, whatever the plan's estimates, so a
-- generic plan, or the body run un-inlined (given a correlated sub-select), never hashes
-- the window's bars nor sorts them all); the bars of one run come in date order, so the
-- rows come in (symbol, date) order as they are joined, with no sort (since 0.15.0; an
-- incremental sort of each symbol's rows before). A bar's factor is its run's: no per-bar
-- lookup, and no multiplication when it is 1.
--
-- Three sources, each named once, each given known_on (since 0.9.0; NULL: as stored,
-- planned as before): identity, weston_ticker_pieces (ticker_pieces.sql: the tickers and
-- date ranges of the security each symbol names as of as_of); events,
-- weston_adjustment_segments (Rust, src/adjust.rs); bars, weston_data.prices_daily in the
-- LATERAL, or weston_prices_daily_known (known.sql) when known_on is given.
-- The many-symbol form's planner support function (src/inline.rs): the call with its symbols
-- as a sub-select (array(SELECT symbol FROM weston_universe(...))) is inlined too, the
-- sub-select run first, once, as an initplan. Since 0.15.0.
CREATE FUNCTION weston_adjusted_prices_support(internal) RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'weston_adjusted_prices_support';
COMMENT ON FUNCTION weston_adjusted_prices_support(internal) IS
'Internal to weston_adjusted_prices(text[], ...), its planner support function: an uncorrelated sub-select among the arguments becomes an initplan, so that the call is inlined into the caller''s query as with a bound array.';

CREATE FUNCTION weston_adjusted_prices(
    symbols text[], from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false, known_on timestamptz DEFAULT NULL)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SUPPORT @extschema@.weston_adjusted_prices_support
AS $fn$
    SELECT r.symbol, b.date,
           CASE WHEN r.unit THEN b.open ELSE b.open OPERATOR(pg_catalog.*) r.pf END,
           CASE WHEN r.unit THEN b.high ELSE b.high OPERATOR(pg_catalog.*) r.pf END,
           CASE WHEN r.unit THEN b.low ELSE b.low OPERATOR(pg_catalog.*) r.pf END,
           CASE WHEN r.unit THEN b.close ELSE b.close OPERATOR(pg_catalog.*) r.pf END,
           CASE WHEN r.volume_unit THEN b.volume ELSE b.volume OPERATOR(pg_catalog.*) r.vf END,
           r.pf, r.vf
      FROM (SELECT k.symbol, k.traded,
                   GREATEST(k.valid_from, from_date, g.bounds[g.i OPERATOR(pg_catalog.-) 1]) AS lo,
                   LEAST(k.valid_to, to_date, g.bounds[g.i] OPERATOR(pg_catalog.-) 1) AS hi,
                   coalesce(g.price_factors[g.i], 1::pg_catalog.numeric) AS pf,
                   coalesce(g.volume_factors[g.i], 1::pg_catalog.numeric) AS vf,
                   coalesce(g.price_factors[g.i] OPERATOR(pg_catalog.=) 1::pg_catalog.numeric, true) AS unit,
                   coalesce(g.volume_factors[g.i] OPERATOR(pg_catalog.=) 1::pg_catalog.numeric, true) AS volume_unit
              FROM @extschema@.weston_ticker_pieces(symbols, as_of, known_on) k
              LEFT JOIN (SELECT s.symbol, s.bounds, s.price_factors, s.volume_factors, i.i
                           FROM @extschema@.weston_adjustment_segments(symbols, from_date, as_of, total_return, known_on) s,
                                pg_catalog.unnest(s.price_factors) WITH ORDINALITY AS i(factor, i)) g
                ON g.symbol OPERATOR(pg_catalog.=) k.symbol
             WHERE @extschema@.weston_check_adjusted_arguments(symbols, from_date, to_date, total_return)
               -- Runs outside the window (the segments reach every later event) read nothing.
               AND GREATEST(k.valid_from, from_date, g.bounds[g.i OPERATOR(pg_catalog.-) 1])
                   OPERATOR(pg_catalog.<=) LEAST(k.valid_to, to_date, g.bounds[g.i] OPERATOR(pg_catalog.-) 1)
             ORDER BY k.symbol, lo
            OFFSET 0) r
     CROSS JOIN LATERAL (
            -- The run's bars in date order: as stored (an ordered Append of index scans, no
            -- sort), or (known_on given) as known then. Each branch's condition on known_on
            -- is one a plan proves false for the other, so only one reads anything; with
            -- known_on NULL the second is no plan node at all (were it sorted by itself, a
            -- sort of nothing would be set up for every run).
            SELECT u.date, u.open, u.high, u.low, u.close, u.volume
              FROM ((SELECT p.date, p.open, p.high, p.low, p.close, p.volume
                       FROM weston_data.prices_daily p
                      WHERE known_on IS NULL
                        AND p.symbol OPERATOR(pg_catalog.=) r.traded
                        AND p.date OPERATOR(pg_catalog.>=) r.lo AND p.date OPERATOR(pg_catalog.<=) r.hi
                        AND p.date OPERATOR(pg_catalog.>=) from_date AND p.date OPERATOR(pg_catalog.<=) to_date
                      ORDER BY p.date)
                    UNION ALL
                    SELECT k.date, k.open, k.high, k.low, k.close, k.volume
                      FROM @extschema@.weston_prices_daily_known(r.traded, r.lo, r.hi, known_on) k
                     WHERE known_on IS NOT NULL) u
             ORDER BY u.date
            OFFSET 0) b
     -- The runs come ordered by (symbol, lo), one symbol's runs do not overlap, and each
     -- run's bars come in date order. The LATERAL can only be joined by a nested loop, which
     -- gives each run's bars together and in their order, so the rows are in (symbol, date)
     -- order as they are joined, with no sort of them (an incremental sort by date within
     -- each symbol cost a tenth of a total-return read). A caller's own ORDER BY symbol,
     -- date sorts them again.
     ORDER BY r.symbol, r.lo
$fn$;
COMMENT ON FUNCTION weston_adjusted_prices(text[], date, date, date, boolean, timestamptz) IS
'Adjusted daily bars of every symbol in symbols between from_date and to_date (inclusive), ordered by symbol, date, computed in one pass; same semantics as weston_adjusted_prices(text, ...). Unknown symbols give no rows. Write the array as ARRAY[...] or ''{...}''::text[].';

-- The one-symbol form walks the security's bars as LEAN and Zipline do (src/walk.rs): one
-- index-ordered scan a ticker it traded under, each bar multiplied by a factor that changes
-- only at an event's date, the rows put straight into the result, with no sort and no
-- re-scan a factor. Its scans are planned once a session (inlined, each query an analyst
-- types would plan the read over every monthly partition in the window: 120 for 10 years).
-- The factors are weston_adjustment_segments's and the products numeric's own, so its rows
-- are the many-symbol form's for the one symbol. Since 0.14.0.
CREATE FUNCTION weston_adjusted_prices(
    ticker text, from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false, known_on timestamptz DEFAULT NULL)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE c STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
-- The events' and closes' lookups run over every monthly partition; a generic plan prunes
-- them at run time instead of planning them all on each call.
SET plan_cache_mode TO force_generic_plan
AS 'MODULE_PATHNAME', 'weston_adjusted_prices_one';
COMMENT ON FUNCTION weston_adjusted_prices(text, date, date, date, boolean, timestamptz) IS
'Daily bars of the security that ticker names as of as_of (NULL: today, New York) between from_date and to_date (inclusive), ordered by date, under the name asked for, adjusted as of as_of (NULL: every stored event); bars, splits and dividends under the security''s earlier tickers are included (see weston_symbol_history). A ticker first held after as_of gives no rows; one never recorded in ticker_history is read as it is stored. An event''s date is its ex-date: a bar on d is adjusted by events with d < ex_date <= as_of. Split n-for-d: prices times d/n, volume times n/d. total_return also multiplies prices by 1 - amount/close_before per dividend (close_before: raw close of the last bar before the ex-date, in the ex-date''s share basis). price_factor and volume_factor are the factors applied (see weston_adjustment_factors). Exact numeric: raw times factor, a non-terminating factor rounded to 20 decimal places. Unknown symbol: no rows. known_on: the exact answer this call gave at that moment (bars, splits, dividends and tickers as the database knew them then; as_of NULL means what it meant then: that day in New York for which security a ticker names, every event then stored for the factors); an error when known_on is before the database began keeping its changes (weston_data.history_start) or in the future. Errors on a NULL argument other than as_of and known_on, and on from_date > to_date.';
