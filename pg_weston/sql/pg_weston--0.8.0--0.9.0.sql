-- pg_weston 0.8.0 -> 0.9.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- weston_adjusted_prices(text[], ...) reads runs: each ticker piece cut at its factor
-- segments' bounds, one factor per run, each run's bars by one index range scan in date
-- order (see sql/adjusted_prices.sql); weston_adjustment_segments is estimated at 10 rows.
ALTER FUNCTION weston_adjustment_segments(text[], date, date, boolean) ROWS 10;
CREATE OR REPLACE FUNCTION weston_adjusted_prices(
    symbols text[], from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE PARALLEL SAFE
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
              FROM @extschema@.weston_ticker_pieces(symbols, as_of) k
              LEFT JOIN (SELECT s.symbol, s.bounds, s.price_factors, s.volume_factors, i.i
                           FROM @extschema@.weston_adjustment_segments(symbols, from_date, as_of, total_return) s,
                                pg_catalog.unnest(s.price_factors) WITH ORDINALITY AS i(factor, i)) g
                ON g.symbol OPERATOR(pg_catalog.=) k.symbol
             WHERE @extschema@.weston_check_adjusted_arguments(symbols, from_date, to_date, total_return)
             ORDER BY k.symbol, lo
            OFFSET 0) r
     CROSS JOIN LATERAL (
            SELECT p.date, p.open, p.high, p.low, p.close, p.volume
              FROM weston_data.prices_daily p
             WHERE p.symbol OPERATOR(pg_catalog.=) r.traded
               AND p.date OPERATOR(pg_catalog.>=) r.lo AND p.date OPERATOR(pg_catalog.<=) r.hi
               AND p.date OPERATOR(pg_catalog.>=) from_date AND p.date OPERATOR(pg_catalog.<=) to_date
            OFFSET 0) b
     -- (symbol, lo, date) is (symbol, date): one symbol's runs do not overlap.
     ORDER BY r.symbol, r.lo, b.date
$fn$;

-- weston_adjusted_prices(text[], ...) skips the runs outside the window (a symbol's segments
-- reach every later event; each such run was an empty index range scan).
CREATE OR REPLACE FUNCTION weston_adjusted_prices(
    symbols text[], from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE PARALLEL SAFE
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
              FROM @extschema@.weston_ticker_pieces(symbols, as_of) k
              LEFT JOIN (SELECT s.symbol, s.bounds, s.price_factors, s.volume_factors, i.i
                           FROM @extschema@.weston_adjustment_segments(symbols, from_date, as_of, total_return) s,
                                pg_catalog.unnest(s.price_factors) WITH ORDINALITY AS i(factor, i)) g
                ON g.symbol OPERATOR(pg_catalog.=) k.symbol
             WHERE @extschema@.weston_check_adjusted_arguments(symbols, from_date, to_date, total_return)
               -- Runs outside the window (the segments reach every later event) read nothing.
               AND GREATEST(k.valid_from, from_date, g.bounds[g.i OPERATOR(pg_catalog.-) 1])
                   OPERATOR(pg_catalog.<=) LEAST(k.valid_to, to_date, g.bounds[g.i] OPERATOR(pg_catalog.-) 1)
             ORDER BY k.symbol, lo
            OFFSET 0) r
     CROSS JOIN LATERAL (
            SELECT p.date, p.open, p.high, p.low, p.close, p.volume
              FROM weston_data.prices_daily p
             WHERE p.symbol OPERATOR(pg_catalog.=) r.traded
               AND p.date OPERATOR(pg_catalog.>=) r.lo AND p.date OPERATOR(pg_catalog.<=) r.hi
               AND p.date OPERATOR(pg_catalog.>=) from_date AND p.date OPERATOR(pg_catalog.<=) to_date
            OFFSET 0) b
     -- (symbol, lo, date) is (symbol, date): one symbol's runs do not overlap.
     ORDER BY r.symbol, r.lo, b.date
$fn$;
