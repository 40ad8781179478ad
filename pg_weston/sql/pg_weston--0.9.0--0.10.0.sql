-- pg_weston 0.9.0 -> 0.10.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- weston_adjusted_prices(text[], ...) orders its rows by (symbol, date) instead of (symbol,
-- run, date): the same rows in the same order, sorted in one group a symbol instead of one
-- a run, and a caller's ORDER BY symbol, date needs no second sort.
CREATE OR REPLACE FUNCTION weston_adjusted_prices(
    symbols text[], from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false, known_on timestamptz DEFAULT NULL)
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
            -- The bars as stored, or (known_on given) as known then: a condition on the
            -- union, which a plan with known_on NULL proves false for the second branch.
            SELECT u.date, u.open, u.high, u.low, u.close, u.volume
              FROM (SELECT p.date, p.open, p.high, p.low, p.close, p.volume, true AS stored
                      FROM weston_data.prices_daily p
                     WHERE p.symbol OPERATOR(pg_catalog.=) r.traded
                       AND p.date OPERATOR(pg_catalog.>=) r.lo AND p.date OPERATOR(pg_catalog.<=) r.hi
                       AND p.date OPERATOR(pg_catalog.>=) from_date AND p.date OPERATOR(pg_catalog.<=) to_date
                    UNION ALL
                    SELECT k.date, k.open, k.high, k.low, k.close, k.volume, false
                      FROM @extschema@.weston_prices_daily_known(r.traded, r.lo, r.hi, known_on) k) u
             WHERE u.stored OPERATOR(pg_catalog.=) (known_on IS NULL)
            OFFSET 0) b
     -- The runs come ordered by (symbol, lo) and one symbol's runs do not overlap, so each
     -- symbol's rows arrive in date order: this is an incremental sort by symbol that finds
     -- every group sorted (one group a symbol, not one a run), and a caller's own ORDER BY
     -- symbol, date is then already satisfied.
     ORDER BY r.symbol, b.date
$fn$;
