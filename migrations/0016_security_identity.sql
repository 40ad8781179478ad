-- A security's identity over time (renames, delistings, reused tickers).
--
-- Why this shape. Bars, splits and dividends stay under the ticker they traded under (stored
-- as traded), so `securities` stays the per-ticker table the loader writes and the other
-- tables keep their keys and foreign keys. A security's permanent identity is a row of
-- security_identity (what CRSP's PERMNO is); ticker_history gives it its tickers, each for a
-- closed range of dates [valid_from, valid_to] (valid_to: the last day under that ticker, NULL
-- while current). A reused ticker (an "FB" 1999-2003, Facebook's FB 2012-2022) is then one
-- `securities` row and two ticker_history rows of two securities: a stored bar belongs to the
-- security that held its ticker on its date, so the two histories never merge. The database,
-- not convention, refuses two securities holding one ticker on one date, and one security
-- holding two tickers on one date (the exclusion constraints below).
--
-- A ticker with no ticker_history row (every ticker before this issue) is a security of its
-- own, described by its `securities` row: reads of it are unchanged.
--
-- Each row carries the provenance of the event that opened it (a listing or a rename:
-- provider, run_id) and of the one that closed it (a rename or a delisting: ended_provider,
-- ended_run_id). The extension's weston_ticker_listed / weston_ticker_changed /
-- weston_ticker_delisted write them (idempotently); a dba may also INSERT/UPDATE by hand.
--
-- Point in time is by effective date: as of D, a row starting after D does not exist yet and
-- a row ending on or after D is still open.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- The identifiers the providers give, for the ticker's current holder (NULL when unknown).
ALTER TABLE securities
    ADD COLUMN composite_figi text
        CONSTRAINT securities_composite_figi_format CHECK (composite_figi ~ '^BBG[0-9A-Z]{9}$'),
    ADD COLUMN share_class_figi text
        CONSTRAINT securities_share_class_figi_format CHECK (share_class_figi ~ '^BBG[0-9A-Z]{9}$'),
    ADD COLUMN cik text
        CONSTRAINT securities_cik_format CHECK (cik ~ '^[0-9]{10}$');

CREATE TABLE security_identity (
    security_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    composite_figi   text CONSTRAINT security_identity_composite_figi_unique UNIQUE
                     CONSTRAINT security_identity_composite_figi_format CHECK (composite_figi ~ '^BBG[0-9A-Z]{9}$'),
    share_class_figi text CONSTRAINT security_identity_share_class_figi_unique UNIQUE
                     CONSTRAINT security_identity_share_class_figi_format CHECK (share_class_figi ~ '^BBG[0-9A-Z]{9}$'),
    -- Not unique: one issuer (one CIK) has several share classes (GOOG and GOOGL).
    cik              text CONSTRAINT security_identity_cik_format CHECK (cik ~ '^[0-9]{10}$'),
    provider         text NOT NULL
                     CONSTRAINT security_identity_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock', 'manual')),
    run_id           bigint NOT NULL CONSTRAINT security_identity_run_id_fkey REFERENCES etl_run (run_id),
    created_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE security_identity IS
    'One row per security over its whole life (a permanent id, like a CRSP PERMNO); its tickers are in ticker_history.';

CREATE TABLE ticker_history (
    security_id    bigint NOT NULL CONSTRAINT ticker_history_security_fkey REFERENCES security_identity (security_id),
    symbol         text NOT NULL CONSTRAINT ticker_history_symbol_fkey REFERENCES securities (symbol),
    valid_from     date NOT NULL,
    valid_to       date,
    provider       text NOT NULL
                   CONSTRAINT ticker_history_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock', 'manual')),
    run_id         bigint NOT NULL CONSTRAINT ticker_history_run_id_fkey REFERENCES etl_run (run_id),
    ended_provider text
                   CONSTRAINT ticker_history_ended_provider_known CHECK (ended_provider IN ('fmp', 'polygon', 'mock', 'manual')),
    ended_run_id   bigint CONSTRAINT ticker_history_ended_run_id_fkey REFERENCES etl_run (run_id),
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, valid_from),
    CONSTRAINT ticker_history_range_order CHECK (valid_to IS NULL OR valid_from <= valid_to),
    CONSTRAINT ticker_history_ended_iff_closed
        CHECK ((valid_to IS NULL) = (ended_provider IS NULL) AND (valid_to IS NULL) = (ended_run_id IS NULL)),
    CONSTRAINT ticker_history_one_holder_per_day
        EXCLUDE USING gist (symbol WITH =, daterange(valid_from, valid_to, '[]') WITH &&),
    CONSTRAINT ticker_history_one_ticker_per_day
        EXCLUDE USING gist (security_id WITH =, daterange(valid_from, valid_to, '[]') WITH &&)
);
CREATE INDEX ticker_history_security_idx ON ticker_history (security_id, valid_from);
COMMENT ON TABLE ticker_history IS
    'The dated tickers of each security (valid_to: last day under the ticker, NULL while current), with the provenance of the events that opened and closed each; no two securities hold one ticker on one date.';

-- What a read of `symbols` as of `as_of` (NULL: today, New York) covers: for each symbol
-- (distinct), the tickers and date ranges of the security it names. A symbol names the
-- security that most recently held it on or before as_of (Zipline's rule; a delisted or
-- renamed ticker still names its last holder); a ticker whose first holder starts after
-- as_of names nothing (no rows); a ticker never in ticker_history names itself, over all
-- dates (valid_from -infinity, valid_to infinity). Rows of the named security starting
-- after as_of are left out; those ending after it keep their end (bars stop there anyway).
-- A SQL-standard body: its names are bound when it is created, so it means the same under
-- any search_path, and it can still be inlined into the query that calls it.
CREATE FUNCTION ticker_pieces(symbols text[], as_of date)
RETURNS TABLE(symbol text, traded text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT q.symbol,
           coalesce(t.symbol, q.symbol),
           coalesce(t.valid_from, '-infinity'::date),
           coalesce(t.valid_to, 'infinity'::date)
      FROM (SELECT DISTINCT u.symbol FROM unnest(symbols) AS u(symbol)) q
      LEFT JOIN LATERAL (
            SELECT h.security_id FROM ticker_history h
             WHERE h.symbol = q.symbol
               AND h.valid_from <= coalesce(as_of, (now() AT TIME ZONE 'America/New_York')::date)
             ORDER BY h.valid_from DESC LIMIT 1) holder ON true
      LEFT JOIN ticker_history t
        ON t.security_id = holder.security_id
       AND t.valid_from <= coalesce(as_of, (now() AT TIME ZONE 'America/New_York')::date)
     WHERE holder.security_id IS NOT NULL
        OR NOT EXISTS (SELECT 1 FROM ticker_history n WHERE n.symbol = q.symbol);
END;
COMMENT ON FUNCTION ticker_pieces(text[], date) IS
    'Internal to the adjusted-price functions: per symbol, the (ticker, valid_from, valid_to) pieces of the security it names as of as_of (NULL: today); a ticker never in ticker_history is its own single piece.';

-- As the other market-data tables (0006): dba owns them, everyone reads, the loader upserts
-- (through the extension's weston_ticker_* functions, which run with its rights).
ALTER TABLE security_identity OWNER TO dba;
ALTER TABLE ticker_history OWNER TO dba;
ALTER FUNCTION ticker_pieces(text[], date) OWNER TO dba;
REVOKE ALL ON TABLE security_identity, ticker_history FROM PUBLIC;
GRANT SELECT ON TABLE security_identity, ticker_history TO etl_writer, app_rw, app_ro;
GRANT INSERT, UPDATE ON TABLE security_identity, ticker_history TO etl_writer;
REVOKE ALL ON FUNCTION ticker_pieces(text[], date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticker_pieces(text[], date) TO dba, etl_writer, app_rw, app_ro;
