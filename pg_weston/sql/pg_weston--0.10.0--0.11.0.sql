-- pg_weston 0.10.0 -> 0.11.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- weston_symbol_history as the database knew it: a form with known_on, as
-- weston_universe and weston_resolve_symbol have had since 0.9.0; the form without it now
-- calls the new one with NULL (the same answer: ticker_history and securities as they are).
CREATE FUNCTION weston_symbol_history(symbol text, as_of date, known_on timestamptz)
RETURNS TABLE(symbol text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
    WITH d AS (SELECT coalesce($2, (coalesce($3, now()) AT TIME ZONE 'America/New_York')::date) AS day),
         holder AS (
            SELECT h.security_id FROM weston_ticker_history_as($3) h, d
             WHERE h.symbol = $1 AND h.valid_from <= d.day
             ORDER BY h.valid_from DESC LIMIT 1)
    SELECT t.symbol, t.valid_from, CASE WHEN t.valid_to < d.day THEN t.valid_to END
      FROM weston_ticker_history_as($3) t JOIN holder USING (security_id), d
     WHERE t.valid_from <= d.day
    UNION ALL
    SELECT s.symbol, s.listed_date, CASE WHEN s.delisted_date < d.day THEN s.delisted_date END
      FROM weston_securities_as($3) s, d
     WHERE s.symbol = $1
       AND (s.listed_date IS NULL OR s.listed_date <= d.day)
       AND NOT EXISTS (SELECT 1 FROM weston_ticker_history_as($3) n WHERE n.symbol = s.symbol)
     ORDER BY 2 NULLS FIRST
$fn$;
COMMENT ON FUNCTION weston_symbol_history(text, date, timestamptz) IS
'The tickers of the security that symbol names as of as_of (NULL: today, New York, or known_on''s New York date), oldest first, with their date ranges as known on as_of: valid_to is the last day under the ticker, NULL while current (a ticker that ended after as_of is current as of as_of). symbol names the security that most recently held it on or before as_of; a ticker first held after as_of names nothing (no rows). A ticker never recorded in ticker_history is its own security: its securities row''s listed_date and delisted_date. known_on: the answer this call gave at that moment (ticker_history and securities as known then; NULL: as recorded now); write weston_symbol_history(symbol, NULL, known_on) for what it meant that day.';

CREATE OR REPLACE FUNCTION weston_symbol_history(symbol text, as_of date DEFAULT NULL)
RETURNS TABLE(symbol text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
    SELECT h.symbol, h.valid_from, h.valid_to FROM weston_symbol_history($1, $2, NULL::timestamptz) h
$fn$;
COMMENT ON FUNCTION weston_symbol_history(text, date) IS
'weston_symbol_history(symbol, as_of, NULL): the tickers of the security that symbol names as of as_of (NULL: today, New York), as recorded now, oldest first.';

-- Reads as known refuse a moment whose answer may still change (a transaction that may write
-- the market data and began by then is still open): the check, and the two sets every read
-- as known reads first.
-- A change is known from its transaction's start, so what known_on knew is final only once
-- every transaction that may write the market data and began by then has ended. Checked
-- where a read takes the tickers and securities as known (every read as known does, a few
-- times a read), not for each run of bars: weston_open_writes (migration 0050) reads
-- pg_stat_activity. Not seen: such a transaction that commits in the instant between the
-- read's snapshot and this check.
CREATE FUNCTION weston_check_known_final(known_on timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
DECLARE
    writer record;
BEGIN
    PERFORM weston_check_known_on(known_on);
    IF known_on IS NULL OR to_regprocedure('weston_data.weston_open_writes(timestamptz)') IS NULL THEN
        RETURN;
    END IF;
    SELECT w.pid, w.role, w.began INTO writer FROM weston_data.weston_open_writes(known_on) w
     ORDER BY w.began LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'weston: known_on % is not final yet: a transaction that may write the market data (role %, pid %) began at % and is still open, and what it writes will be known from then',
                        known_on, writer.role, writer.pid, writer.began
              USING HINT = 'Ask again once it has ended, or for a moment before it began.',
                    ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END
$fn$;
COMMENT ON FUNCTION weston_check_known_final(timestamptz) IS
'Internal to the reads as known: weston_check_known_on, then nothing, or an error when what known_on knew may still change: a transaction that may write the market data began by known_on and is still open (weston_data.weston_open_writes, migration 0050).';

CREATE OR REPLACE FUNCTION weston_ticker_history_known(known_on timestamptz)
RETURNS TABLE(security_id bigint, symbol text, valid_from date, valid_to date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM weston_check_known_final(known_on);
    RETURN QUERY
    SELECT t.security_id, t.symbol, t.valid_from, t.valid_to FROM weston_data.ticker_history t
     WHERE t.updated_at <= known_on
    UNION ALL
    SELECT h.security_id, h.symbol, h.valid_from, h.valid_to FROM weston_data.ticker_history_history h
     WHERE h.updated_at <= known_on AND known_on < h.known_to;
END
$fn$;

CREATE OR REPLACE FUNCTION weston_securities_known(known_on timestamptz)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM weston_check_known_final(known_on);
    RETURN QUERY
    SELECT s.symbol, s.listed_date, s.delisted_date FROM weston_data.securities s
     WHERE s.updated_at <= known_on
    UNION ALL
    SELECT h.symbol, h.listed_date, h.delisted_date FROM weston_data.securities_history h
     WHERE h.updated_at <= known_on AND known_on < h.known_to;
END
$fn$;
