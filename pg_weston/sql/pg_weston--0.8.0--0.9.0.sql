-- pg_weston 0.8.0 -> 0.9.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

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

CREATE OR REPLACE FUNCTION @extschema@.weston_resolve_symbol(symbol text, on_date date)
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
    IF NOT EXISTS (SELECT 1 FROM ticker_history h WHERE h.symbol = weston_resolve_symbol.symbol) THEN
        RETURN (SELECT s.symbol FROM securities s
                 WHERE s.symbol = weston_resolve_symbol.symbol
                   AND (s.listed_date IS NULL OR s.listed_date <= on_date)
                   AND (s.delisted_date IS NULL OR s.delisted_date >= on_date));
    END IF;
    -- Whoever held the ticker that day traded under it.
    IF EXISTS (SELECT 1 FROM ticker_history h
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
              FROM ticker_history h WHERE h.symbol = weston_resolve_symbol.symbol
             GROUP BY h.security_id) c
      JOIN ticker_history t ON t.security_id = c.security_id
     WHERE t.valid_from <= on_date AND (t.valid_to IS NULL OR t.valid_to >= on_date);
    IF coalesce(cardinality(answers), 0) > 1 THEN
        RAISE EXCEPTION 'weston: % is ambiguous on %: securities that held it traded that day as %',
                        symbol, on_date, candidates
              USING HINT = 'Name the security by the ticker it had on that date.';
    END IF;
    RETURN answers[1];
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.weston_universe(as_of date DEFAULT NULL)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM weston_check_day('as_of', as_of);
    RETURN QUERY
    WITH d AS (SELECT coalesce(as_of, (now() AT TIME ZONE 'America/New_York')::date) AS day)
    SELECT t.symbol,
           (SELECT min(f.valid_from) FROM ticker_history f WHERE f.security_id = t.security_id),
           CASE WHEN t.valid_to = d.day
                 AND NOT EXISTS (SELECT 1 FROM ticker_history l
                                  WHERE l.security_id = t.security_id AND l.valid_from > t.valid_from)
                THEN t.valid_to END
      FROM ticker_history t, d
     WHERE t.valid_from <= d.day AND (t.valid_to IS NULL OR t.valid_to >= d.day)
    UNION ALL
    SELECT s.symbol, s.listed_date, CASE WHEN s.delisted_date = d.day THEN s.delisted_date END
      FROM securities s, d
     WHERE (s.listed_date IS NULL OR s.listed_date <= d.day)
       AND (s.delisted_date IS NULL OR s.delisted_date >= d.day)
       AND NOT EXISTS (SELECT 1 FROM ticker_history n WHERE n.symbol = s.symbol)
     ORDER BY 1;
END
$fn$;
