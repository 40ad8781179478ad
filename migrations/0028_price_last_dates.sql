-- Each symbol's newest bar, kept by prices_daily's own statement triggers in the
-- writing transaction (whoever writes: the loader, a correction, a restore's COPY), so that
-- `status` and the exporter's freshness query, run on every scrape, read one row per symbol
-- instead of probing every monthly partition's index for every symbol (12,000 symbols x 120
-- partitions is 1.4 million index descents a scrape). A rolled-back batch rolls this back too.
--
-- Kept through the partitioned table: rows written into a partition directly (rotation moving
-- DEFAULT rows, which were counted when they arrived) fire no trigger here. Retention detaching
-- old months leaves a symbol's last_date where it was: the newest bar ever stored.
CREATE TABLE price_last_dates (
    symbol    text PRIMARY KEY,
    last_date date NOT NULL
);
COMMENT ON TABLE price_last_dates IS
    'Each symbol''s newest bar in prices_daily, maintained by its statement triggers (issue 16); read by status and the freshness exporter query.';

-- Keys that are gone: only symbols whose last date went with them are looked up again.
CREATE FUNCTION price_last_dates_recompute(gone text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, weston, pg_temp AS $$
    DELETE FROM weston.price_last_dates l WHERE l.symbol = ANY (gone);
    INSERT INTO weston.price_last_dates (symbol, last_date)
    SELECT g.symbol, m.last_date
      FROM unnest(gone) AS g(symbol)
     CROSS JOIN LATERAL (SELECT max(p.date) AS last_date FROM weston.prices_daily p WHERE p.symbol = g.symbol) m
     WHERE m.last_date IS NOT NULL;
$$;

-- New keys can only move a symbol's last date forward.
CREATE FUNCTION price_last_dates_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, weston, pg_temp AS $$
BEGIN
    INSERT INTO weston.price_last_dates AS l (symbol, last_date)
    SELECT n.symbol, max(n.date) FROM new_rows n GROUP BY n.symbol ORDER BY n.symbol
        ON CONFLICT (symbol) DO UPDATE SET last_date = excluded.last_date
     WHERE l.last_date < excluded.last_date;
    RETURN NULL;
END $$;

-- An update rarely changes a key (the loader's upsert never does): new keys advance, keys
-- that are gone and held a last date are looked up again.
CREATE FUNCTION price_last_dates_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, weston, pg_temp AS $$
DECLARE
    gone text[];
BEGIN
    INSERT INTO weston.price_last_dates AS l (symbol, last_date)
    SELECT n.symbol, max(n.date) FROM new_rows n GROUP BY n.symbol ORDER BY n.symbol
        ON CONFLICT (symbol) DO UPDATE SET last_date = excluded.last_date
     WHERE l.last_date < excluded.last_date;
    SELECT array_agg(DISTINCT o.symbol ORDER BY o.symbol) INTO gone
      FROM (SELECT symbol, date FROM old_rows EXCEPT SELECT symbol, date FROM new_rows) o
      JOIN weston.price_last_dates l ON l.symbol = o.symbol AND o.date >= l.last_date;
    IF gone IS NOT NULL THEN
        PERFORM weston.price_last_dates_recompute(gone);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION price_last_dates_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, weston, pg_temp AS $$
DECLARE
    gone text[];
BEGIN
    SELECT array_agg(DISTINCT o.symbol ORDER BY o.symbol) INTO gone
      FROM old_rows o JOIN weston.price_last_dates l ON l.symbol = o.symbol AND o.date >= l.last_date;
    IF gone IS NOT NULL THEN
        PERFORM weston.price_last_dates_recompute(gone);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION price_last_dates_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, weston, pg_temp AS $$
BEGIN
    TRUNCATE weston.price_last_dates;
    RETURN NULL;
END $$;

-- PostgreSQL allows one event per trigger with transition tables.
CREATE TRIGGER price_last_dates_insert AFTER INSERT ON prices_daily
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION price_last_dates_inserted();
CREATE TRIGGER price_last_dates_update AFTER UPDATE ON prices_daily
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION price_last_dates_updated();
CREATE TRIGGER price_last_dates_delete AFTER DELETE ON prices_daily
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION price_last_dates_deleted();
CREATE TRIGGER price_last_dates_truncate AFTER TRUNCATE ON prices_daily
    FOR EACH STATEMENT EXECUTE FUNCTION price_last_dates_truncated();

INSERT INTO price_last_dates (symbol, last_date)
SELECT symbol, max(date) FROM prices_daily GROUP BY symbol;

REVOKE ALL ON FUNCTION price_last_dates_recompute(text[]), price_last_dates_inserted(),
    price_last_dates_updated(), price_last_dates_deleted(), price_last_dates_truncated() FROM PUBLIC;
GRANT SELECT ON TABLE price_last_dates TO etl_writer, app_rw, app_ro, dba;
-- Owned by dba like every market-data table, and so are the definer functions that write
-- it: they run as dba, never as the superuser who migrated, so that a trigger a dba member
-- planted on this table never runs with a superuser's rights.
ALTER TABLE price_last_dates OWNER TO dba;
ALTER FUNCTION price_last_dates_recompute(text[]) OWNER TO dba;
ALTER FUNCTION price_last_dates_inserted() OWNER TO dba;
ALTER FUNCTION price_last_dates_updated() OWNER TO dba;
ALTER FUNCTION price_last_dates_deleted() OWNER TO dba;
ALTER FUNCTION price_last_dates_truncated() OWNER TO dba;
