-- What a read of `symbols` as of `as_of` (NULL: today, New York) covers: for each symbol
-- (distinct), the tickers and date ranges of the security it names. A symbol names the
-- security that most recently held it on or before as_of (Zipline's rule; a delisted or
-- renamed ticker still names its last holder); a ticker whose first holder starts after
-- as_of names nothing (no rows); a ticker never in ticker_history names itself, over all
-- dates (valid_from -infinity, valid_to infinity). known_on (since 0.9.0): ticker_history
-- as known then, and "today" is known_on's New York date (sql/known.sql). Rows of the named security starting
-- after as_of are left out; those ending after it keep their end (bars stop there anyway).
--
-- The extension's own, so that no role but the extension's owner can change what the
-- adjusted-price functions run (a copy a dba owned could be replaced by code that runs with
-- the rights of whoever reads adjusted prices). Plain SQL that PostgreSQL inlines into the
-- calling query: no SET clause (it would prevent inlining), so every name is
-- schema-qualified, operators included, and it means the same under any search_path. The
-- body is quoted, not BEGIN ATOMIC: ticker_history is created by migrations/0016 (and put
-- in weston_data by 0034), after the extension, and a quoted body is resolved when it is
-- first run (CREATE EXTENSION and ALTER EXTENSION UPDATE do not check function bodies).
CREATE FUNCTION weston_ticker_pieces(symbols text[], as_of date, known_on timestamptz)
RETURNS TABLE(symbol text, traded text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT q.symbol,
           coalesce(t.symbol, q.symbol),
           coalesce(t.valid_from, '-infinity'::pg_catalog.date),
           coalesce(t.valid_to, 'infinity'::pg_catalog.date)
      FROM (SELECT DISTINCT u.symbol FROM pg_catalog.unnest(symbols) AS u(symbol)) q
      LEFT JOIN LATERAL (
            SELECT h.security_id FROM @extschema@.weston_ticker_history_as(known_on) h
             WHERE h.symbol OPERATOR(pg_catalog.=) q.symbol
               AND h.valid_from OPERATOR(pg_catalog.<=)
                   coalesce(as_of, (coalesce(known_on, pg_catalog.now()) AT TIME ZONE 'America/New_York')::pg_catalog.date)
             ORDER BY h.valid_from DESC LIMIT 1) holder ON true
      LEFT JOIN @extschema@.weston_ticker_history_as(known_on) t
        ON t.security_id OPERATOR(pg_catalog.=) holder.security_id
       AND t.valid_from OPERATOR(pg_catalog.<=)
           coalesce(as_of, (coalesce(known_on, pg_catalog.now()) AT TIME ZONE 'America/New_York')::pg_catalog.date)
     WHERE holder.security_id IS NOT NULL
        OR NOT EXISTS (SELECT 1 FROM @extschema@.weston_ticker_history_as(known_on) n
                        WHERE n.symbol OPERATOR(pg_catalog.=) q.symbol)
$fn$;
COMMENT ON FUNCTION weston_ticker_pieces(text[], date, timestamptz) IS
'Internal to the adjusted-price functions: per symbol, the (ticker, valid_from, valid_to) pieces of the security it names as of as_of (NULL: today, New York, or known_on''s New York date), with ticker_history as known at known_on (NULL: as it is); a ticker never in ticker_history is its own single piece. Reads ticker_history (migration 0016).';

-- The form the adjusted-price reads of 0.7.0 and 0.8.0 (their SQL, and the library's
-- queries without known_on) call, and migration 0032 grants.
CREATE FUNCTION weston_ticker_pieces(symbols text[], as_of date)
RETURNS TABLE(symbol text, traded text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT p.symbol, p.traded, p.valid_from, p.valid_to
      FROM @extschema@.weston_ticker_pieces(symbols, as_of, NULL::pg_catalog.timestamptz) p
$fn$;
COMMENT ON FUNCTION weston_ticker_pieces(text[], date) IS
'Internal to the adjusted-price functions: weston_ticker_pieces(symbols, as_of, NULL), ticker_history as it is.';
