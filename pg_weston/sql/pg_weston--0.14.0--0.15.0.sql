-- pg_weston 0.14.0 -> 0.15.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- The many-symbol form's planner support function (src/inline.rs): the call with its symbols
-- as a sub-select (array(SELECT symbol FROM weston_universe(...))) is inlined too, the
-- sub-select run first, once, as an initplan. Since 0.15.0.
CREATE FUNCTION weston_adjusted_prices_support(internal) RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'weston_adjusted_prices_support';
COMMENT ON FUNCTION weston_adjusted_prices_support(internal) IS
'Internal to weston_adjusted_prices(text[], ...), its planner support function: an uncorrelated sub-select among the arguments becomes an initplan, so that the call is inlined into the caller''s query as with a bound array.';

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
CREATE OR REPLACE FUNCTION weston_adjusted_prices(
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
