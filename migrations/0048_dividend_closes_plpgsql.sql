-- The two functions that keep dividend_closes, in PL/pgSQL instead of SQL: a session plans
-- a PL/pgSQL function's statements once, where a SQL function's body is planned at every
-- call, over every monthly partition, which cost the nightly's upsert more than the upsert.
-- CREATE OR REPLACE keeps their owner (weston_owner) and grants.
DO $owner$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'migration 0048 must run as a superuser: it replaces functions weston_owner owns';
    END IF;
END
$owner$;

CREATE OR REPLACE FUNCTION weston_data.dividend_closes_add(symbols text[], ex_dates date[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO weston_data.dividend_closes AS c (symbol, ex_date, close_date, close)
    SELECT a.symbol, a.ex_date, b.date, b.close
      FROM ROWS FROM (pg_catalog.unnest(symbols), pg_catalog.unnest(ex_dates)) AS a(symbol, ex_date)
      LEFT JOIN LATERAL (
            SELECT p.date, p.close FROM weston_data.prices_daily p
             WHERE p.symbol = a.symbol AND p.date < a.ex_date
             ORDER BY p.date DESC LIMIT 1) b ON true
        ON CONFLICT (symbol, ex_date) DO UPDATE SET close_date = excluded.close_date, close = excluded.close;
END $$;

CREATE OR REPLACE FUNCTION weston_data.dividend_closes_refresh(symbols text[], los date[], his date[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    WITH stale AS (
        SELECT c.symbol, c.ex_date, c.close_date, c.close
          FROM ROWS FROM (pg_catalog.unnest(symbols), pg_catalog.unnest(los), pg_catalog.unnest(his)) AS x(symbol, lo, hi)
          JOIN weston_data.dividend_closes c
            ON c.symbol = x.symbol AND c.ex_date > x.lo AND (c.close_date IS NULL OR c.close_date <= x.hi)),
    fresh AS (
        SELECT s.symbol, s.ex_date, b.date, b.close
          FROM stale s
          LEFT JOIN LATERAL (
                SELECT p.date, p.close FROM weston_data.prices_daily p
                 WHERE p.symbol = s.symbol AND p.date < s.ex_date
                 ORDER BY p.date DESC LIMIT 1) b ON true
         WHERE ROW(b.date, b.close::text) IS DISTINCT FROM ROW(s.close_date, s.close::text))
    UPDATE weston_data.dividend_closes c SET close_date = f.date, close = f.close
      FROM fresh f
     WHERE c.symbol = f.symbol AND c.ex_date = f.ex_date;
END $$;
