-- pg_weston 0.6.0 -> 0.7.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- The ticker pieces of the adjusted-price functions become the extension's own
-- weston_ticker_pieces (sql/ticker_pieces.sql), in place of migration 0016's ticker_pieces,
-- which a dba owned and could replace. Migration 0032 grants it and drops the old one.
CREATE FUNCTION weston_ticker_pieces(symbols text[], as_of date)
RETURNS TABLE(symbol text, traded text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT q.symbol,
           coalesce(t.symbol, q.symbol),
           coalesce(t.valid_from, '-infinity'::pg_catalog.date),
           coalesce(t.valid_to, 'infinity'::pg_catalog.date)
      FROM (SELECT DISTINCT u.symbol FROM pg_catalog.unnest(symbols) AS u(symbol)) q
      LEFT JOIN LATERAL (
            SELECT h.security_id FROM @extschema@.ticker_history h
             WHERE h.symbol OPERATOR(pg_catalog.=) q.symbol
               AND h.valid_from OPERATOR(pg_catalog.<=)
                   coalesce(as_of, (pg_catalog.now() AT TIME ZONE 'America/New_York')::pg_catalog.date)
             ORDER BY h.valid_from DESC LIMIT 1) holder ON true
      LEFT JOIN @extschema@.ticker_history t
        ON t.security_id OPERATOR(pg_catalog.=) holder.security_id
       AND t.valid_from OPERATOR(pg_catalog.<=)
           coalesce(as_of, (pg_catalog.now() AT TIME ZONE 'America/New_York')::pg_catalog.date)
     WHERE holder.security_id IS NOT NULL
        OR NOT EXISTS (SELECT 1 FROM @extschema@.ticker_history n
                        WHERE n.symbol OPERATOR(pg_catalog.=) q.symbol)
$fn$;
COMMENT ON FUNCTION weston_ticker_pieces(text[], date) IS
'Internal to the adjusted-price functions: per symbol, the (ticker, valid_from, valid_to) pieces of the security it names as of as_of (NULL: today, New York); a ticker never in ticker_history is its own single piece. Reads ticker_history (migration 0016).';

-- weston_adjusted_prices(text[], ...) reads the extension's pieces; otherwise unchanged
-- (same rows, same plan). The comment is kept.
CREATE OR REPLACE FUNCTION weston_adjusted_prices(
    symbols text[], from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false)
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
                      FROM @extschema@.weston_ticker_pieces(symbols, as_of) q
                      LEFT JOIN @extschema@.weston_adjustment_segments(symbols, from_date, as_of, total_return) s
                        ON s.symbol OPERATOR(pg_catalog.=) q.symbol
                    OFFSET 0) k
              JOIN @extschema@.prices_daily p
                ON p.symbol OPERATOR(pg_catalog.=) k.traded
               AND p.date OPERATOR(pg_catalog.>=) k.valid_from AND p.date OPERATOR(pg_catalog.<=) k.valid_to
             WHERE @extschema@.weston_check_adjusted_arguments(symbols, from_date, to_date, total_return)
               AND p.date OPERATOR(pg_catalog.>=) from_date AND p.date OPERATOR(pg_catalog.<=) to_date
             ORDER BY k.symbol, p.date
            OFFSET 0) b -- not flattened: each factor is looked up once per bar, not per column
     ORDER BY b.symbol, b.date
$fn$;
