-- The close before each dividend, kept with it: a total-return factor takes, for every
-- dividend after the window's start, the raw close of the last bar before its ex-date, and
-- reading those closes (one backward index scan over the monthly partitions each) cost a
-- total-return read more than all its bars. CRSP keeps its factor on every row; this keeps
-- the one input a read cannot get cheaply, as stored, and the reads still compute every
-- factor (pg_weston 0.10.0 reads it; reads as known at a past moment still look it up).
--
-- One row per dividend: the last bar of the dividend's own ticker before its ex-date
-- (NULL: none). Under a ticker that named another security earlier, or for a dividend the
-- first after a rename, that bar may be another security's or the answer under an earlier
-- ticker: the read sees that from the ticker's dates and looks it up instead.
--
-- Kept in the writing transaction by statement triggers on dividends and prices_daily
-- (whoever writes: the loader, a correction, a restore's data comes with the table's). Not
-- kept: rows written into a partition directly (rotation moving DEFAULT rows, which were
-- counted when they arrived) and months that retention detaches or drops; the read takes
-- no close dated in a month retention may have retired, and looks it up.
--
-- Owned by weston_owner (0030) with its definer functions, as 0040's history is: no writer
-- can make it disagree with the bars.
DO $owner$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'migration 0047 must run as a superuser: it attaches triggers to tables weston_owner owns';
    END IF;
END
$owner$;

CREATE TABLE weston_data.dividend_closes (
    symbol     text NOT NULL,
    ex_date    date NOT NULL,
    close_date date,
    close      numeric,
    PRIMARY KEY (symbol, ex_date),
    CONSTRAINT dividend_closes_date_iff_close CHECK ((close_date IS NULL) = (close IS NULL)),
    CONSTRAINT dividend_closes_before_ex_date CHECK (close_date < ex_date)
);
COMMENT ON TABLE weston_data.dividend_closes IS
    'For each dividend, the last bar of its ticker before its ex-date (NULL: none), kept by triggers on dividends and prices_daily; read by total-return adjustment.';
ALTER TABLE weston_data.dividend_closes OWNER TO weston_owner;
GRANT SELECT ON weston_data.dividend_closes TO dba, etl_writer, app_rw, app_ro;

-- The closes of the given dividends, as stored now.
CREATE FUNCTION weston_data.dividend_closes_add(symbols text[], ex_dates date[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO weston_data.dividend_closes AS c (symbol, ex_date, close_date, close)
    SELECT a.symbol, a.ex_date, b.date, b.close
      FROM ROWS FROM (pg_catalog.unnest(symbols), pg_catalog.unnest(ex_dates)) AS a(symbol, ex_date)
      LEFT JOIN LATERAL (
            SELECT p.date, p.close FROM weston_data.prices_daily p
             WHERE p.symbol = a.symbol AND p.date < a.ex_date
             ORDER BY p.date DESC LIMIT 1) b ON true
        ON CONFLICT (symbol, ex_date) DO UPDATE SET close_date = excluded.close_date, close = excluded.close;
$$;

-- Bars written or removed, per symbol the range of their dates: a dividend's close can
-- change only when a bar dated from its close (or any, with none) to its ex-date did.
-- A range is wider than the dates, so some closes are looked up and found unchanged;
-- only changed ones are written.
CREATE FUNCTION weston_data.dividend_closes_refresh(symbols text[], los date[], his date[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
$$;

CREATE FUNCTION weston_data.dividend_closes_bars_written() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    symbols text[];
    los date[];
    his date[];
BEGIN
    SELECT pg_catalog.array_agg(r.symbol), pg_catalog.array_agg(r.lo), pg_catalog.array_agg(r.hi)
      INTO symbols, los, his
      FROM (SELECT n.symbol, pg_catalog.min(n.date) AS lo, pg_catalog.max(n.date) AS hi
              FROM changed_rows n GROUP BY n.symbol) r;
    IF symbols IS NOT NULL THEN
        PERFORM weston_data.dividend_closes_refresh(symbols, los, his);
    END IF;
    RETURN NULL;
END $$;

-- An update's old keys are its new ones (the loader's upserts never change a key); a
-- correction that moves a bar is both.
CREATE FUNCTION weston_data.dividend_closes_bars_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    symbols text[];
    los date[];
    his date[];
BEGIN
    SELECT pg_catalog.array_agg(r.symbol), pg_catalog.array_agg(r.lo), pg_catalog.array_agg(r.hi)
      INTO symbols, los, his
      FROM (SELECT b.symbol, pg_catalog.min(b.date) AS lo, pg_catalog.max(b.date) AS hi
              FROM (SELECT o.symbol, o.date FROM old_rows o UNION ALL SELECT n.symbol, n.date FROM new_rows n) b
             GROUP BY b.symbol) r;
    IF symbols IS NOT NULL THEN
        PERFORM weston_data.dividend_closes_refresh(symbols, los, his);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION weston_data.dividend_closes_bars_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE weston_data.dividend_closes SET close_date = NULL, close = NULL WHERE close_date IS NOT NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION weston_data.dividend_closes_dividends_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    symbols text[];
    ex_dates date[];
BEGIN
    SELECT pg_catalog.array_agg(n.symbol), pg_catalog.array_agg(n.ex_date) INTO symbols, ex_dates
      FROM new_rows n;
    IF symbols IS NOT NULL THEN
        PERFORM weston_data.dividend_closes_add(symbols, ex_dates);
    END IF;
    RETURN NULL;
END $$;

-- Keys that are gone lose their row, keys that are new gain one (an amount changed keeps it).
CREATE FUNCTION weston_data.dividend_closes_dividends_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    symbols text[];
    ex_dates date[];
BEGIN
    DELETE FROM weston_data.dividend_closes c
     USING (SELECT o.symbol, o.ex_date FROM old_rows o EXCEPT SELECT n.symbol, n.ex_date FROM new_rows n) g
     WHERE c.symbol = g.symbol AND c.ex_date = g.ex_date;
    SELECT pg_catalog.array_agg(a.symbol), pg_catalog.array_agg(a.ex_date) INTO symbols, ex_dates
      FROM (SELECT n.symbol, n.ex_date FROM new_rows n EXCEPT SELECT o.symbol, o.ex_date FROM old_rows o) a;
    IF symbols IS NOT NULL THEN
        PERFORM weston_data.dividend_closes_add(symbols, ex_dates);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION weston_data.dividend_closes_dividends_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM weston_data.dividend_closes c USING old_rows o
     WHERE c.symbol = o.symbol AND c.ex_date = o.ex_date;
    RETURN NULL;
END $$;

CREATE FUNCTION weston_data.dividend_closes_dividends_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM weston_data.dividend_closes;
    RETURN NULL;
END $$;

-- PostgreSQL allows one event per trigger with transition tables.
CREATE TRIGGER dividend_closes_insert AFTER INSERT ON weston_data.prices_daily
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION weston_data.dividend_closes_bars_written();
CREATE TRIGGER dividend_closes_update AFTER UPDATE ON weston_data.prices_daily
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION weston_data.dividend_closes_bars_updated();
CREATE TRIGGER dividend_closes_delete AFTER DELETE ON weston_data.prices_daily
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION weston_data.dividend_closes_bars_written();
CREATE TRIGGER dividend_closes_truncate AFTER TRUNCATE ON weston_data.prices_daily
    FOR EACH STATEMENT EXECUTE FUNCTION weston_data.dividend_closes_bars_truncated();
CREATE TRIGGER dividend_closes_insert AFTER INSERT ON weston_data.dividends
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION weston_data.dividend_closes_dividends_inserted();
CREATE TRIGGER dividend_closes_update AFTER UPDATE ON weston_data.dividends
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION weston_data.dividend_closes_dividends_updated();
CREATE TRIGGER dividend_closes_delete AFTER DELETE ON weston_data.dividends
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION weston_data.dividend_closes_dividends_deleted();
CREATE TRIGGER dividend_closes_truncate AFTER TRUNCATE ON weston_data.dividends
    FOR EACH STATEMENT EXECUTE FUNCTION weston_data.dividend_closes_dividends_truncated();

DO $functions$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        'weston_data.dividend_closes_add(text[], date[])',
        'weston_data.dividend_closes_refresh(text[], date[], date[])',
        'weston_data.dividend_closes_bars_written()',
        'weston_data.dividend_closes_bars_updated()',
        'weston_data.dividend_closes_bars_truncated()',
        'weston_data.dividend_closes_dividends_inserted()',
        'weston_data.dividend_closes_dividends_updated()',
        'weston_data.dividend_closes_dividends_deleted()',
        'weston_data.dividend_closes_dividends_truncated()'
    ]::pg_catalog.regprocedure[] LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO weston_owner', fn);
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
    END LOOP;
END
$functions$;

-- The dividends stored so far, as their owner writes them.
SELECT weston_data.dividend_closes_add(pg_catalog.array_agg(d.symbol), pg_catalog.array_agg(d.ex_date))
  FROM weston_data.dividends d
HAVING pg_catalog.count(*) > 0;
