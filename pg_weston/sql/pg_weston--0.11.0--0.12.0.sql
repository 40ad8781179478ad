-- pg_weston 0.11.0 -> 0.12.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- The one-symbol form is PL/pgSQL and keeps its plan for the session: inlined, each call
-- (each query an analyst types) would plan the read over every monthly partition in the
-- window, which for one symbol costs as much as reading its bars (10 years: 120
-- partitions). One symbol's rows are few, so materialising them costs little.
CREATE OR REPLACE FUNCTION weston_adjusted_prices(
    ticker text, from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false, known_on timestamptz DEFAULT NULL)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
-- Planned once for any arguments: the read is a nested loop of index range scans, its
-- partitions pruned at run time, whatever the arguments.
SET plan_cache_mode TO force_generic_plan
AS $fn$
BEGIN
    RETURN QUERY
    SELECT a.symbol, a.date, a.open, a.high, a.low, a.close, a.volume, a.price_factor, a.volume_factor
      FROM @extschema@.weston_adjusted_prices(
           ARRAY[ticker]::text[], from_date, to_date, as_of, total_return, known_on) a;
END
$fn$;
