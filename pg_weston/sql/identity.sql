-- A security's life: the reads over ticker_history and security_identity
-- (migrations/0016), and the writes the loader makes when it learns a listing, a ticker
-- change or a delisting. Every date is a New York trading date; "today" is New York's.
-- The writers are idempotent (the same facts again change nothing) and run with the
-- caller's rights; the tables' constraints have the last word. Their arguments share names
-- with columns (#variable_conflict use_variable): columns are always written qualified.

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

-- A read's day as the Rust functions' dates (pg_weston/core/src/dates.rs): infinity is no
-- day. Refuses one outside 0001-01-01..9999-12-31, naming the argument; NULL passes.
CREATE FUNCTION weston_check_day(argument text, day date)
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
COMMENT ON FUNCTION weston_check_day(text, date) IS
'Internal to weston_resolve_symbol and weston_universe: nothing, or an error naming argument and day when day is outside 0001-01-01 to 9999-12-31 (infinity, -infinity; SQLSTATE 22008). NULL passes.';

CREATE FUNCTION weston_resolve_symbol(symbol text, on_date date, known_on timestamptz)
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
    IF NOT EXISTS (SELECT 1 FROM weston_ticker_history_as(known_on) h WHERE h.symbol = weston_resolve_symbol.symbol) THEN
        RETURN (SELECT s.symbol FROM weston_securities_as(known_on) s
                 WHERE s.symbol = weston_resolve_symbol.symbol
                   AND (s.listed_date IS NULL OR s.listed_date <= on_date)
                   AND (s.delisted_date IS NULL OR s.delisted_date >= on_date));
    END IF;
    -- Whoever held the ticker that day traded under it.
    IF EXISTS (SELECT 1 FROM weston_ticker_history_as(known_on) h
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
              FROM weston_ticker_history_as(known_on) h WHERE h.symbol = weston_resolve_symbol.symbol
             GROUP BY h.security_id) c
      JOIN weston_ticker_history_as(known_on) t ON t.security_id = c.security_id
     WHERE t.valid_from <= on_date AND (t.valid_to IS NULL OR t.valid_to >= on_date);
    IF coalesce(cardinality(answers), 0) > 1 THEN
        RAISE EXCEPTION 'weston: % is ambiguous on %: securities that held it traded that day as %',
                        symbol, on_date, candidates
              USING HINT = 'Name the security by the ticker it had on that date.';
    END IF;
    RETURN answers[1];
END
$fn$;
COMMENT ON FUNCTION weston_resolve_symbol(text, date, timestamptz) IS
'The ticker under which the security named by symbol traded on on_date: symbol itself when a security held it that day; otherwise the ticker that day of the one security that ever held symbol and traded that day (FB on 2023-01-03: META); NULL when none did; an error naming the candidates when several did. A ticker never recorded in ticker_history: itself between its securities row''s listed_date and delisted_date (NULL bounds: open). Uses what was recorded at known_on (NULL: everything recorded today): the answer this call gave then. An on_date outside 0001-01-01 to 9999-12-31 (infinity, -infinity) is refused naming it (SQLSTATE 22008).';

CREATE FUNCTION weston_universe(as_of date, known_on timestamptz)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM weston_check_day('as_of', as_of);
    RETURN QUERY
    WITH d AS (SELECT coalesce(as_of, (coalesce(known_on, now()) AT TIME ZONE 'America/New_York')::date) AS day)
    SELECT t.symbol,
           (SELECT min(f.valid_from) FROM weston_ticker_history_as(known_on) f WHERE f.security_id = t.security_id),
           CASE WHEN t.valid_to = d.day
                 AND NOT EXISTS (SELECT 1 FROM weston_ticker_history_as(known_on) l
                                  WHERE l.security_id = t.security_id AND l.valid_from > t.valid_from)
                THEN t.valid_to END
      FROM weston_ticker_history_as(known_on) t, d
     WHERE t.valid_from <= d.day AND (t.valid_to IS NULL OR t.valid_to >= d.day)
    UNION ALL
    SELECT s.symbol, s.listed_date, CASE WHEN s.delisted_date = d.day THEN s.delisted_date END
      FROM weston_securities_as(known_on) s, d
     WHERE (s.listed_date IS NULL OR s.listed_date <= d.day)
       AND (s.delisted_date IS NULL OR s.delisted_date >= d.day)
       AND NOT EXISTS (SELECT 1 FROM weston_ticker_history_as(known_on) n WHERE n.symbol = s.symbol)
     ORDER BY 1;
END
$fn$;
COMMENT ON FUNCTION weston_universe(date, timestamptz) IS
'The securities listed on as_of (NULL: today, New York, or known_on''s New York date), under the ticker each had that day, including those delisted since (survivorship-free), ordered by symbol. listed_date: the first day of the security under any ticker; delisted_date: as known on as_of, so set only when as_of is its last day. A ticker never recorded in ticker_history is listed while its securities row''s listed_date (NULL: always) and delisted_date (NULL: still listed) say so. known_on: the answer this call gave at that moment (ticker_history and securities as known then; NULL: as recorded now); write weston_universe(NULL, known_on) for that day''s universe as known then. An as_of outside 0001-01-01 to 9999-12-31 (infinity, -infinity) is refused naming it (SQLSTATE 22008).';

-- The forms without known_on (since 0.4.0): what is recorded now. Kept as they were named,
-- so that calls without known_on, and migration 0017's grants, find them; known_on has no
-- default in the forms above, so that no call is ambiguous between the two.
CREATE FUNCTION weston_symbol_history(symbol text, as_of date DEFAULT NULL)
RETURNS TABLE(symbol text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
    SELECT h.symbol, h.valid_from, h.valid_to FROM weston_symbol_history($1, $2, NULL::timestamptz) h
$fn$;
COMMENT ON FUNCTION weston_symbol_history(text, date) IS
'weston_symbol_history(symbol, as_of, NULL): the tickers of the security that symbol names as of as_of (NULL: today, New York), as recorded now, oldest first.';

CREATE FUNCTION weston_resolve_symbol(symbol text, on_date date)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
    SELECT weston_resolve_symbol($1, $2, NULL::timestamptz)
$fn$;
COMMENT ON FUNCTION weston_resolve_symbol(text, date) IS
'weston_resolve_symbol(symbol, on_date, NULL): the ticker under which the security named by symbol traded on on_date, from everything recorded today.';

CREATE FUNCTION weston_universe(as_of date DEFAULT NULL)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
    SELECT u.symbol, u.listed_date, u.delisted_date FROM weston_universe($1, NULL::timestamptz) u
$fn$;
COMMENT ON FUNCTION weston_universe(date) IS
'weston_universe(as_of, NULL): the securities listed on as_of (NULL: today, New York), as recorded now, ordered by symbol.';

CREATE FUNCTION weston_ticker_listed(
    symbol text, valid_from date, provider text, run_id bigint,
    composite_figi text DEFAULT NULL, share_class_figi text DEFAULT NULL, cik text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    found_id bigint;
    holder   record;
BEGIN
    IF symbol IS NULL OR valid_from IS NULL OR provider IS NULL OR run_id IS NULL THEN
        RAISE EXCEPTION 'weston: symbol, valid_from, provider and run_id must not be NULL';
    END IF;
    SELECT h.security_id INTO found_id FROM ticker_history h
     WHERE h.symbol = weston_ticker_listed.symbol AND h.valid_from = weston_ticker_listed.valid_from;
    IF FOUND THEN
        RETURN found_id; -- recorded before
    END IF;
    SELECT i.security_id INTO found_id FROM security_identity i
     WHERE i.composite_figi = weston_ticker_listed.composite_figi;
    IF FOUND THEN
        RAISE EXCEPTION 'weston: composite FIGI % already identifies security %: a new ticker of it is a ticker change (weston_ticker_changed), not a listing',
                        composite_figi, found_id;
    END IF;
    SELECT h.security_id, h.valid_from, h.valid_to INTO holder FROM ticker_history h
     WHERE h.symbol = weston_ticker_listed.symbol
       AND (h.valid_to IS NULL OR h.valid_to >= weston_ticker_listed.valid_from)
     ORDER BY h.valid_from DESC LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'weston: % is held by security % from % to %: record its delisting or ticker change before a new security lists under it on %',
                        symbol, holder.security_id, holder.valid_from, coalesce(holder.valid_to::text, 'now'), valid_from
              USING ERRCODE = 'exclusion_violation';
    END IF;

    -- The ticker's row describes its latest holder.
    INSERT INTO securities AS s (symbol, listed_date, composite_figi, share_class_figi, cik, provider, run_id)
    VALUES (symbol, valid_from, composite_figi, share_class_figi, cik, provider, run_id)
    ON CONFLICT ON CONSTRAINT securities_pkey DO UPDATE
       SET listed_date = EXCLUDED.listed_date, delisted_date = NULL,
           composite_figi = EXCLUDED.composite_figi, share_class_figi = EXCLUDED.share_class_figi,
           cik = EXCLUDED.cik, provider = EXCLUDED.provider, run_id = EXCLUDED.run_id, updated_at = now()
     WHERE s.listed_date IS NULL OR s.listed_date <= EXCLUDED.listed_date;
    INSERT INTO security_identity (composite_figi, share_class_figi, cik, provider, run_id)
    VALUES (composite_figi, share_class_figi, cik, provider, run_id)
    RETURNING security_id INTO found_id;
    INSERT INTO ticker_history (security_id, symbol, valid_from, provider, run_id)
    VALUES (found_id, symbol, valid_from, provider, run_id);
    RETURN found_id;
END
$fn$;
COMMENT ON FUNCTION weston_ticker_listed(text, date, text, bigint, text, text, text) IS
'Records a new security listed under symbol from valid_from (its first day), with the identifiers its provider gives, and returns its security_id; the same listing again returns the same id. Refused while another security holds symbol on or after valid_from (record that one''s delisting or ticker change first), and when composite_figi already identifies a security (its new ticker is a ticker change). The securities row of symbol is created, or updated to describe the new holder.';

-- The writers below accept events in whatever order they are learned. A provider's profile
-- describes a ticker's latest holder, its listings the earlier ones: the securities row of
-- a ticker may describe a holder ticker_history does not have yet (listed after the event
-- being recorded). An event that ends a ticker's latest recorded holding makes the row
-- describe that holding (its first and last day) until the later holder is recorded, so the
-- row never says listed after delisted and the ticker stays asked about.
CREATE FUNCTION weston_ticker_changed(
    old_symbol text, new_symbol text, effective date, provider text, run_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    held  record;
    other record;
    ident record;
    prior record;
    prior_id bigint;
    conflict boolean;
BEGIN
    IF old_symbol IS NULL OR new_symbol IS NULL OR effective IS NULL OR provider IS NULL OR run_id IS NULL THEN
        RAISE EXCEPTION 'weston: old_symbol, new_symbol, effective, provider and run_id must not be NULL';
    END IF;
    IF old_symbol = new_symbol THEN
        RAISE EXCEPTION 'weston: a ticker change from % to itself', old_symbol;
    END IF;
    SELECT o.security_id INTO held FROM ticker_history o
      JOIN ticker_history n ON n.security_id = o.security_id
     WHERE o.symbol = old_symbol AND o.valid_to = effective - 1
       AND n.symbol = new_symbol AND n.valid_from = effective;
    IF FOUND THEN
        RETURN held.security_id; -- recorded before
    END IF;
    -- The security that held old_symbol the day before, with no later ticker: its holding
    -- is open, or was closed on or after that day by a delisting that was this change.
    SELECT h.security_id, h.valid_from, h.valid_to INTO held FROM ticker_history h
     WHERE h.symbol = old_symbol AND h.valid_from < effective
       AND (h.valid_to IS NULL OR h.valid_to >= effective - 1)
       AND NOT EXISTS (SELECT 1 FROM ticker_history l
                        WHERE l.security_id = h.security_id AND l.valid_from > h.valid_from)
     ORDER BY h.valid_from DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'weston: no security holds % before %: record its listing (weston_ticker_listed) first',
                        old_symbol, effective;
    END IF;
    -- A change onto a ticker another live security holds is a conflict, never a takeover:
    -- another security's holding of new_symbol on or after effective, or (a ticker not in
    -- ticker_history) a securities row not delisted before effective whose bars trade on
    -- the same days as old_symbol's before the change.
    SELECT h.security_id, h.valid_from::text AS held_from, coalesce(h.valid_to::text, 'now') AS held_to
      INTO other FROM ticker_history h
     WHERE h.symbol = new_symbol AND h.security_id <> held.security_id
       AND (h.valid_to IS NULL OR h.valid_to >= effective)
     ORDER BY h.valid_from LIMIT 1;
    conflict := FOUND;
    IF NOT conflict AND NOT EXISTS (SELECT 1 FROM ticker_history n WHERE n.symbol = new_symbol) THEN
        SELECT NULL::bigint AS security_id, coalesce(s.listed_date::text, 'its first bar') AS held_from,
               coalesce(s.delisted_date::text, 'now') AS held_to
          INTO other FROM securities s
         WHERE s.symbol = new_symbol
           AND (s.delisted_date IS NULL OR s.delisted_date >= effective)
           AND EXISTS (SELECT 1 FROM prices_daily p JOIN prices_daily o ON o.date = p.date
                        WHERE p.symbol = new_symbol AND o.symbol = old_symbol AND p.date < effective);
        conflict := FOUND;
    END IF;
    IF conflict THEN
        RAISE EXCEPTION 'weston: % is held by another live security (%, from % to %): the change of % to % from % is a conflict for a DBA (weston_decide_ticker_conflict)',
                        new_symbol, coalesce('security ' || other.security_id, 'its own securities row'),
                        other.held_from, other.held_to, old_symbol, new_symbol, effective
              USING ERRCODE = 'exclusion_violation';
    END IF;
    -- A ticker not in ticker_history whose securities row ended before the change: that
    -- holder becomes a security of its own first, so its bars stay its own.
    IF NOT EXISTS (SELECT 1 FROM ticker_history n WHERE n.symbol = new_symbol) THEN
        SELECT s.listed_date, s.delisted_date,
               (SELECT min(p.date) FROM prices_daily p WHERE p.symbol = s.symbol AND p.date < effective) AS first_bar
          INTO prior FROM securities s WHERE s.symbol = new_symbol;
        IF FOUND AND prior.first_bar IS NOT NULL AND prior.delisted_date < effective THEN
            INSERT INTO security_identity (provider, run_id) VALUES (provider, run_id)
            RETURNING security_id INTO prior_id;
            INSERT INTO ticker_history (security_id, symbol, valid_from, valid_to, provider, run_id,
                                        ended_provider, ended_run_id)
            VALUES (prior_id, new_symbol, least(coalesce(prior.listed_date, prior.first_bar), prior.first_bar),
                    least(coalesce(prior.delisted_date, effective - 1), effective - 1),
                    provider, run_id, provider, run_id);
        END IF;
    END IF;
    SELECT * INTO ident FROM security_identity i WHERE i.security_id = held.security_id;

    UPDATE ticker_history h
       SET valid_to = effective - 1, ended_provider = provider, ended_run_id = run_id
     WHERE h.symbol = old_symbol AND h.valid_from = held.valid_from;
    -- The old ticker leaves the nightly universe (unless a later holder of it is recorded);
    -- the new one joins it.
    UPDATE securities s
       SET delisted_date = effective - 1,
           listed_date = CASE WHEN s.listed_date > effective - 1 THEN held.valid_from ELSE s.listed_date END,
           updated_at = now()
     WHERE s.symbol = old_symbol
       AND NOT EXISTS (SELECT 1 FROM ticker_history l
                        WHERE l.symbol = old_symbol AND l.valid_from > held.valid_from);
    INSERT INTO securities AS s (symbol, listed_date, composite_figi, share_class_figi, cik, provider, run_id)
    VALUES (new_symbol, effective, ident.composite_figi, ident.share_class_figi, ident.cik, provider, run_id)
    ON CONFLICT ON CONSTRAINT securities_pkey DO UPDATE
       SET listed_date = EXCLUDED.listed_date, delisted_date = NULL,
           composite_figi = EXCLUDED.composite_figi, share_class_figi = EXCLUDED.share_class_figi,
           cik = EXCLUDED.cik, provider = EXCLUDED.provider, run_id = EXCLUDED.run_id, updated_at = now()
     WHERE s.listed_date IS NULL OR s.listed_date <= EXCLUDED.listed_date;
    INSERT INTO ticker_history (security_id, symbol, valid_from, provider, run_id)
    VALUES (held.security_id, new_symbol, effective, provider, run_id);
    RETURN held.security_id;
END
$fn$;
COMMENT ON FUNCTION weston_ticker_changed(text, text, date, text, bigint) IS
'Records that the security holding old_symbol trades as new_symbol from effective (its first day under the new ticker; old_symbol''s last is the day before) and returns its security_id; the same change again changes nothing. A holding of old_symbol closed on or after the day before (a delisting that was this change) is taken as its end. Refused when no security holds old_symbol before effective, and (SQLSTATE 23P01, a conflict for weston_decide_ticker_conflict) when another live security holds new_symbol: a holding of it in ticker_history on or after effective, or a ticker not in ticker_history whose securities row is not delisted before effective and whose bars trade on days old_symbol''s do before the change. A ticker not in ticker_history whose row ended before is first recorded as a security of its own. The old ticker''s securities row gets delisted_date (and, if it described a later holder, the first day of the holding that ended), the new one''s is created.';

CREATE FUNCTION weston_ticker_delisted(symbol text, last_day date, provider text, run_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    held record;
BEGIN
    IF symbol IS NULL OR last_day IS NULL OR provider IS NULL OR run_id IS NULL THEN
        RAISE EXCEPTION 'weston: symbol, last_day, provider and run_id must not be NULL';
    END IF;
    -- The latest holding of symbol that started by last_day.
    SELECT h.security_id, h.valid_from, h.valid_to INTO held FROM ticker_history h
     WHERE h.symbol = weston_ticker_delisted.symbol AND h.valid_from <= last_day
     ORDER BY h.valid_from DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'weston: no security holds % open on %: nothing to delist', symbol, last_day;
    END IF;
    IF held.valid_to IS NOT NULL THEN
        RETURN held.security_id; -- ended before (this delisting, or a change): its end stands
    END IF;
    UPDATE ticker_history h
       SET valid_to = last_day, ended_provider = provider, ended_run_id = run_id
     WHERE h.symbol = weston_ticker_delisted.symbol AND h.valid_from = held.valid_from;
    UPDATE securities s
       SET delisted_date = last_day,
           listed_date = CASE WHEN s.listed_date > last_day THEN held.valid_from ELSE s.listed_date END,
           updated_at = now()
     WHERE s.symbol = weston_ticker_delisted.symbol
       AND NOT EXISTS (SELECT 1 FROM ticker_history l
                        WHERE l.symbol = weston_ticker_delisted.symbol AND l.valid_from > held.valid_from);
    RETURN held.security_id;
END
$fn$;
COMMENT ON FUNCTION weston_ticker_delisted(text, date, text, bigint) IS
'Records that the security holding symbol was delisted after last_day (its last session) and returns its security_id; its history stays. The latest holding of symbol that started by last_day is closed; one closed before (the same delisting again, or a change) keeps its end and nothing changes. Sets the securities row''s delisted_date (and, if it described a later holder not recorded yet, listed_date to the holding''s first day) unless a later holder of symbol is recorded, so the ticker leaves the nightly universe.';
