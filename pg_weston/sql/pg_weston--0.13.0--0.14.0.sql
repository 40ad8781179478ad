-- pg_weston 0.13.0 -> 0.14.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- The one-symbol form walks the security's bars as LEAN and Zipline do (src/walk.rs): one
-- index-ordered scan a ticker it traded under, each bar multiplied by a factor that changes
-- only at an event's date, the rows put straight into the result, with no sort and no
-- re-scan a factor. Its scans are planned once a session (inlined, each query an analyst
-- types would plan the read over every monthly partition in the window: 120 for 10 years).
-- The factors are weston_adjustment_segments's and the products numeric's own, so its rows
-- are the many-symbol form's for the one symbol. Since 0.14.0.
CREATE OR REPLACE FUNCTION weston_adjusted_prices(
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
