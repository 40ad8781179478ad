-- pg_weston 0.7.0 -> 0.8.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- Dates and NULLs the readers and the partition functions refused to answer silently:
-- weston_universe and weston_resolve_symbol refuse a day outside 0001-01-01..9999-12-31
-- (infinity) as the Rust functions do (22008); weston_ensure_partitions and
-- weston_partition_plan are no longer STRICT, so a NULL argument is refused naming it (22023)
-- instead of answering NULL. CREATE OR REPLACE keeps privileges, comments and membership.
CREATE OR REPLACE FUNCTION @extschema@.weston_resolve_symbol(symbol text, on_date date)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
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
    -- As the Rust functions' dates (pg_weston/core/src/dates.rs): infinity is no day.
    IF NOT on_date BETWEEN '0001-01-01' AND '9999-12-31' THEN
        RAISE EXCEPTION 'weston: on_date % is outside the supported range 0001-01-01 to 9999-12-31',
                        CASE WHEN NOT isfinite(on_date) THEN on_date::text
                             WHEN on_date < '0001-01-01' THEN to_char(on_date, 'YYYY-MM-DD BC')
                             ELSE to_char(on_date, 'YYYY-MM-DD') END
              USING ERRCODE = 'datetime_field_overflow';
    END IF;
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
COMMENT ON FUNCTION @extschema@.weston_resolve_symbol(text, date) IS
'The ticker under which the security named by symbol traded on on_date: symbol itself when a security held it that day; otherwise the ticker that day of the one security that ever held symbol and traded that day (FB on 2023-01-03: META); NULL when none did; an error naming the candidates when several did. A ticker never recorded in ticker_history: itself between its securities row''s listed_date and delisted_date (NULL bounds: open). Uses everything recorded today. An on_date outside 0001-01-01 to 9999-12-31 (infinity, -infinity) is refused naming it (SQLSTATE 22008).';

CREATE OR REPLACE FUNCTION @extschema@.weston_universe(as_of date DEFAULT NULL)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    -- As the Rust functions' dates (pg_weston/core/src/dates.rs): infinity is no day.
    IF NOT as_of BETWEEN '0001-01-01' AND '9999-12-31' THEN
        RAISE EXCEPTION 'weston: as_of % is outside the supported range 0001-01-01 to 9999-12-31',
                        CASE WHEN NOT isfinite(as_of) THEN as_of::text
                             WHEN as_of < '0001-01-01' THEN to_char(as_of, 'YYYY-MM-DD BC')
                             ELSE to_char(as_of, 'YYYY-MM-DD') END
              USING ERRCODE = 'datetime_field_overflow';
    END IF;
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
COMMENT ON FUNCTION @extschema@.weston_universe(date) IS
'The securities listed on as_of (NULL: today, New York), under the ticker each had that day, including those delisted since (survivorship-free), ordered by symbol. listed_date: the first day of the security under any ticker; delisted_date: as known on as_of, so set only when as_of is its last day. A ticker never recorded in ticker_history is listed while its securities row''s listed_date (NULL: always) and delisted_date (NULL: still listed) say so. An as_of outside 0001-01-01 to 9999-12-31 (infinity, -infinity) is refused naming it (SQLSTATE 22008).';

ALTER FUNCTION @extschema@.weston_ensure_partitions(date, date, regclass) CALLED ON NULL INPUT;
ALTER FUNCTION @extschema@.weston_partition_plan(regclass, date) CALLED ON NULL INPUT;

-- Life events in any order, and ticker conflicts: weston_ticker_changed and
-- weston_ticker_delisted accept events learned in any order (a securities row describing a
-- later holder no longer makes them break securities_listing_order), a change onto a live
-- security's ticker is refused as a conflict (SQLSTATE 23P01), and the DBA decides it with
-- weston_decide_ticker_conflict (a new action of the corrections trail).
ALTER TABLE weston_corrections DROP CONSTRAINT weston_corrections_action_known;
ALTER TABLE weston_corrections ADD CONSTRAINT weston_corrections_action_known
    CHECK (action IN ('record_split', 'delete_split', 'record_dividend', 'delete_dividend',
                      'correct_bar', 'resolve_finding', 'decide_ticker_conflict'));
-- The writers below accept events in whatever order they are learned. A provider's profile
-- describes a ticker's latest holder, its listings the earlier ones: the securities row of
-- a ticker may describe a holder ticker_history does not have yet (listed after the event
-- being recorded). An event that ends a ticker's latest recorded holding makes the row
-- describe that holding (its first and last day) until the later holder is recorded, so the
-- row never says listed after delisted and the ticker stays asked about.
CREATE OR REPLACE FUNCTION weston_ticker_changed(
    old_symbol text, new_symbol text, effective date, provider text, run_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
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

CREATE OR REPLACE FUNCTION weston_ticker_delisted(symbol text, last_day date, provider text, run_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
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

-- A DBA's decision on a ticker conflict: a provider reported old -> new while another live
-- security held new (weston_ticker_changed refused it and the loader recorded a
-- `ticker_conflict` finding; neither history changed). Rejecting resolves the finding as
-- false_positive: nothing else changes, and the loader never records that change (it skips
-- a change whose conflict was decided). Accepting records the change as the provider
-- reported it (the finding's provider and last run are its provenance) and resolves the
-- finding as true_event; it is refused while the other security still holds new on the
-- effective date: the DBA first ends that holding (weston_ticker_delisted, a ticker change
-- of it, or, for a ticker not in ticker_history, its securities row's delisted_date), so no
-- accepted change ever takes a live security's ticker. Either way one trail row: the finding
-- before, and after it the finding and (accepted) the security that changed ticker.
CREATE FUNCTION weston_decide_ticker_conflict(finding_id bigint, accept boolean, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    old_row   jsonb;
    new_row   jsonb;
    old_sym   text;
    new_sym   text;
    effective date;
    provider  text;
    changed   bigint;
BEGIN
    PERFORM weston_check_correction(reason);
    IF accept IS NULL THEN
        RAISE EXCEPTION 'weston: accept must be true (record the change) or false (reject it), not NULL';
    END IF;
    SELECT to_jsonb(f) INTO old_row FROM quality_findings f WHERE f.finding_id = finding_id FOR UPDATE;
    IF old_row IS NULL THEN
        RAISE EXCEPTION 'weston: there is no finding %', coalesce(finding_id::text, 'NULL');
    END IF;
    IF old_row->>'rule' <> 'ticker_conflict' THEN
        RAISE EXCEPTION 'weston: finding % is a % finding, not a ticker_conflict: weston_resolve_finding resolves it',
                        finding_id, old_row->>'rule';
    END IF;
    IF old_row->>'resolved_at' IS NOT NULL THEN
        RAISE EXCEPTION 'weston: finding % is already resolved: % by % at %', finding_id,
                        old_row->>'resolution', old_row->>'resolved_by', old_row->>'resolved_at';
    END IF;
    old_sym := old_row->'details'->>'old';
    new_sym := old_row->'details'->>'new';
    effective := (old_row->'details'->>'effective')::date;
    provider := old_row->'details'->>'provider';
    IF accept THEN
        -- The old ticker's history starts (if not yet) as the loader's would: from its
        -- securities row's first day or its first bar, at the latest the day before.
        IF NOT EXISTS (SELECT 1 FROM ticker_history h WHERE h.symbol = old_sym) THEN
            PERFORM weston_ticker_listed(
                        old_sym,
                        least(coalesce(s.listed_date,
                                       (SELECT min(p.date) FROM prices_daily p WHERE p.symbol = old_sym),
                                       effective - 1), effective - 1),
                        provider, (old_row->>'last_run')::bigint,
                        s.composite_figi, s.share_class_figi, s.cik)
               FROM (SELECT old_sym AS symbol) q LEFT JOIN securities s ON s.symbol = q.symbol;
        END IF;
        BEGIN
            changed := weston_ticker_changed(old_sym, new_sym, effective, provider,
                                             (old_row->>'last_run')::bigint);
        EXCEPTION WHEN exclusion_violation THEN
            RAISE EXCEPTION 'weston: finding % is not accepted: another security still holds % on %',
                            finding_id, new_sym, effective
                  USING DETAIL = SQLERRM,
                        HINT = pg_catalog.format('End that holding first (weston_ticker_delisted, or the securities row''s delisted_date before %s), then accept.', effective);
        END;
    END IF;
    UPDATE quality_findings f
       SET resolved_at = now(), resolution = CASE WHEN accept THEN 'true_event' ELSE 'false_positive' END,
           resolved_by = session_user, resolution_note = reason
     WHERE f.finding_id = finding_id
    RETURNING to_jsonb(f) INTO new_row;
    INSERT INTO weston_corrections (action, symbol, date, before, after, reason)
    VALUES ('decide_ticker_conflict', new_sym, effective, old_row,
            jsonb_build_object('finding', new_row, 'accepted', accept, 'security_id', changed), reason);
END
$fn$;
COMMENT ON FUNCTION weston_decide_ticker_conflict(bigint, boolean, text) IS
    'Decides a ticker_conflict finding (a reported change onto a ticker another live security held): accept records the change (refused while the other security still holds the ticker on the effective date: end that holding first) and resolves the finding as true_event; reject resolves it as false_positive and the loader never records that change. A reason is required; one weston_corrections row (action decide_ticker_conflict). dba only.';
REVOKE EXECUTE ON FUNCTION weston_decide_ticker_conflict(bigint, boolean, text) FROM PUBLIC;

-- Corrections wait for the loader's batch in flight and make its next batch wait (the
-- advisory lock 0x7765_7374_6f6e_0003, taken exclusively here and shared by each batch): a
-- deletion can no longer be undone by a load in flight.
CREATE OR REPLACE FUNCTION @extschema@.weston_record_split(symbol text, ex_date date, numerator numeric, denominator numeric, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    old_row jsonb;
    new_row jsonb;
BEGIN
    PERFORM weston_check_correction(reason);
    PERFORM weston_check_correction_symbol(symbol, ex_date);
    PERFORM pg_catalog.pg_advisory_xact_lock(8603409607084081155); -- the loader's batches wait
    IF numerator IS NULL OR denominator IS NULL OR numerator <= 0 OR denominator <= 0 THEN
        RAISE EXCEPTION 'weston: a split''s numerator and denominator must be positive, got %-for-%',
                        coalesce(numerator::text, 'NULL'), coalesce(denominator::text, 'NULL');
    END IF;
    IF numerator = denominator THEN
        RAISE EXCEPTION 'weston: a %-for-% split changes nothing', numerator, denominator;
    END IF;
    SELECT to_jsonb(s) INTO old_row FROM splits s WHERE s.symbol = symbol AND s.date = ex_date FOR UPDATE;
    INSERT INTO splits AS s (symbol, date, numerator, denominator, provider, run_id)
    VALUES (symbol, ex_date, numerator, denominator, 'manual', NULL)
    ON CONFLICT ON CONSTRAINT splits_pkey DO UPDATE
       SET numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,
           provider = 'manual', run_id = NULL, updated_at = now()
    RETURNING to_jsonb(s) INTO new_row;
    INSERT INTO weston_corrections (action, symbol, date, before, after, reason)
    VALUES ('record_split', symbol, ex_date, old_row, new_row, reason);
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.weston_delete_split(symbol text, ex_date date, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    old_row jsonb;
BEGIN
    PERFORM weston_check_correction(reason);
    PERFORM weston_check_correction_symbol(symbol, ex_date);
    PERFORM pg_catalog.pg_advisory_xact_lock(8603409607084081155); -- the loader's batches wait
    DELETE FROM splits s WHERE s.symbol = symbol AND s.date = ex_date RETURNING to_jsonb(s) INTO old_row;
    IF old_row IS NULL THEN
        RAISE EXCEPTION 'weston: % has no split on % to delete', symbol, ex_date;
    END IF;
    INSERT INTO weston_corrections (action, symbol, date, before, after, reason)
    VALUES ('delete_split', symbol, ex_date, old_row, NULL, reason);
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.weston_record_dividend(symbol text, ex_date date, amount numeric, currency text, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    old_row jsonb;
    new_row jsonb;
BEGIN
    PERFORM weston_check_correction(reason);
    PERFORM weston_check_correction_symbol(symbol, ex_date);
    PERFORM pg_catalog.pg_advisory_xact_lock(8603409607084081155); -- the loader's batches wait
    IF amount IS NULL OR amount <= 0 THEN
        RAISE EXCEPTION 'weston: a dividend''s amount must be positive, got %', coalesce(amount::text, 'NULL');
    END IF;
    IF currency IS NULL OR currency !~ '^[A-Z]{3}$' THEN
        RAISE EXCEPTION 'weston: a dividend''s currency is an ISO 4217 code such as USD, got %',
                        coalesce(pg_catalog.quote_literal(currency), 'NULL');
    END IF;
    SELECT to_jsonb(d) INTO old_row FROM dividends d WHERE d.symbol = symbol AND d.ex_date = ex_date FOR UPDATE;
    INSERT INTO dividends AS d (symbol, ex_date, amount, currency, provider, run_id)
    VALUES (symbol, ex_date, amount, currency, 'manual', NULL)
    ON CONFLICT ON CONSTRAINT dividends_pkey DO UPDATE
       SET amount = EXCLUDED.amount, currency = EXCLUDED.currency,
           provider = 'manual', run_id = NULL, updated_at = now()
    RETURNING to_jsonb(d) INTO new_row;
    INSERT INTO weston_corrections (action, symbol, date, before, after, reason)
    VALUES ('record_dividend', symbol, ex_date, old_row, new_row, reason);
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.weston_delete_dividend(symbol text, ex_date date, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    old_row jsonb;
BEGIN
    PERFORM weston_check_correction(reason);
    PERFORM weston_check_correction_symbol(symbol, ex_date);
    PERFORM pg_catalog.pg_advisory_xact_lock(8603409607084081155); -- the loader's batches wait
    DELETE FROM dividends d WHERE d.symbol = symbol AND d.ex_date = ex_date RETURNING to_jsonb(d) INTO old_row;
    IF old_row IS NULL THEN
        RAISE EXCEPTION 'weston: % has no dividend with ex-date % to delete', symbol, ex_date;
    END IF;
    INSERT INTO weston_corrections (action, symbol, date, before, after, reason)
    VALUES ('delete_dividend', symbol, ex_date, old_row, NULL, reason);
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.weston_correct_bar(symbol text, date date, open numeric, high numeric, low numeric,
                                   close numeric, volume numeric, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    bar_date constant date := weston_correct_bar.date;
    o constant numeric := weston_correct_bar.open;
    h constant numeric := weston_correct_bar.high;
    l constant numeric := weston_correct_bar.low;
    c constant numeric := weston_correct_bar.close;
    v constant numeric := weston_correct_bar.volume;
    old_row jsonb;
    new_row jsonb;
BEGIN
    PERFORM weston_check_correction(reason);
    PERFORM weston_check_correction_symbol(symbol, bar_date);
    PERFORM pg_catalog.pg_advisory_xact_lock(8603409607084081155); -- the loader's batches wait
    IF bar_date > (now() AT TIME ZONE 'America/New_York')::date THEN
        RAISE EXCEPTION 'weston: % is after today in New York: no bar to correct yet', bar_date;
    END IF;
    IF o IS NULL OR h IS NULL OR l IS NULL OR c IS NULL OR v IS NULL THEN
        RAISE EXCEPTION 'weston: open, high, low, close and volume must all be given';
    END IF;
    IF o <= 0 OR h <= 0 OR l <= 0 OR c <= 0 THEN
        RAISE EXCEPTION 'weston: prices must be positive, got open % high % low % close %', o, h, l, c;
    END IF;
    IF h < l THEN
        RAISE EXCEPTION 'weston: high % is below low %', h, l;
    END IF;
    IF o NOT BETWEEN l AND h OR c NOT BETWEEN l AND h THEN
        RAISE EXCEPTION 'weston: open % and close % must lie between low % and high %', o, c, l, h;
    END IF;
    IF v < 0 THEN
        RAISE EXCEPTION 'weston: volume must not be negative, got %', v;
    END IF;
    SELECT to_jsonb(p) INTO old_row FROM prices_daily p WHERE p.symbol = symbol AND p.date = bar_date FOR UPDATE;
    INSERT INTO prices_daily AS p (symbol, date, open, high, low, close, volume, vwap, provider, run_id)
    VALUES (symbol, bar_date, o, h, l, c, v, NULL, 'manual', NULL)
    ON CONFLICT ON CONSTRAINT prices_daily_pkey DO UPDATE
       SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
           volume = EXCLUDED.volume, vwap = NULL, provider = 'manual', run_id = NULL, updated_at = now()
    RETURNING to_jsonb(p) INTO new_row;
    INSERT INTO weston_corrections (action, symbol, date, before, after, reason)
    VALUES ('correct_bar', symbol, bar_date, old_row, new_row, reason);
END
$fn$;

-- The tables move to weston_data (sql/extension_tables.sql says why): the schema, the
-- extension's own tables (their identity sequences and indexes follow; OIDs do not change,
-- so pg_extension_config_dump and weston_partition_config's regclass values hold), with a
-- view of each in weston, and every function that names a table searches weston_data
-- first. The tables the migrations made stay where they are until migrations/0034 moves
-- them (it waits for this update): with weston_data first and the extension's schema next,
-- the functions find them either way.
CREATE SCHEMA weston_data;
COMMENT ON SCHEMA weston_data IS
    'pg_weston''s tables (market data, the ETL runs, corrections, partition settings); read them through the views of the same names in weston.';
ALTER TABLE weston_partition_config SET SCHEMA weston_data;
ALTER TABLE weston_maintenance_log SET SCHEMA weston_data;
ALTER TABLE weston_corrections SET SCHEMA weston_data;
-- Their views in weston, as a fresh install makes them (migrations/0034 gives each view
-- its table's grants).
CREATE VIEW weston_partition_config WITH (security_invoker = true) AS
    SELECT * FROM weston_data.weston_partition_config;
COMMENT ON VIEW weston_partition_config IS
    'Which range-partitioned tables weston_rotate_partitions() maintains, and how.';
CREATE VIEW weston_maintenance_log WITH (security_invoker = true) AS
    SELECT * FROM weston_data.weston_maintenance_log;
COMMENT ON VIEW weston_maintenance_log IS 'One row per weston_rotate_partitions() run.';
CREATE VIEW weston_corrections WITH (security_invoker = true) AS
    SELECT * FROM weston_data.weston_corrections;
COMMENT ON VIEW weston_corrections IS
    'The audit trail of the DBA''s corrections (weston_record_split and the others): one row per change, with the row before and after, who (the session''s login), when and why. Append-only for dba.';
DO $search$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) d.objid
         WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e
                                                   WHERE e.extname OPERATOR(pg_catalog.=) 'pg_weston')
           AND d.deptype OPERATOR(pg_catalog.=) 'e'
           AND 'search_path=pg_catalog, @extschema@, pg_temp' OPERATOR(pg_catalog.=) ANY (p.proconfig)
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp', fn);
    END LOOP;
END
$search$;
-- Months are made for, and health is read of, the table in weston_data by default (the view
-- in weston of that name is no partitioned table).
CREATE OR REPLACE FUNCTION weston_create_partition(month date, parent regclass DEFAULT 'weston_data.prices_daily'::text::regclass)
RETURNS regclass STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'weston_create_partition_wrapper';
CREATE OR REPLACE FUNCTION "weston_ensure_partitions"(
	"from_date" date,
	"to_date" date,
	"parent" regclass DEFAULT 'weston_data.prices_daily'::text::regclass
) RETURNS INT
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'weston_ensure_partitions_wrapper';
CREATE OR REPLACE FUNCTION "weston_partition_health"(
	"parent" regclass DEFAULT 'weston_data.prices_daily'::text::regclass
) RETURNS TABLE (
	"default_rows" bigint,
	"missing_future_months" INT,
	"oldest_month" date,
	"newest_month" date,
	"last_rotation_at" timestamp with time zone,
	"last_rotation_status" TEXT
)
STRICT STABLE PARALLEL RESTRICTED
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'weston_partition_health_wrapper';
-- Rotation writes its log, and reads its settings, in weston_data (sql/rotation.sql).
CREATE OR REPLACE FUNCTION weston_rotate_partitions() RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
AS $rotate$
DECLARE
    started      timestamptz := pg_catalog.clock_timestamp();
    -- US trading date: date arithmetic only, so the session TimeZone never matters.
    today        date := (pg_catalog.now() AT TIME ZONE 'America/New_York')::date;
    wait_for     text := coalesce(nullif(pg_catalog.current_setting('weston.lock_timeout', true), ''), '2s');
    max_attempts int  := greatest(1, coalesce(nullif(pg_catalog.current_setting('weston.lock_attempts', true), '')::int, 3));
    caller_lock_timeout text := pg_catalog.current_setting('lock_timeout');
    -- Once a step holds a lock until commit (ATTACH keeps DEFAULT locked), waiting again
    -- would queue readers behind us for longer than one lock_timeout: later steps try once.
    holding_locks boolean := false;
    cfg          record;
    step         record;
    steps        jsonb;
    parent_name  text;
    created      jsonb;
    retired      jsonb;
    stray        jsonb;
    failed       jsonb;
    tables       jsonb := '[]';
    reap         jsonb;
    attempt      int;
    done_count   int := 0;
    failed_count int := 0;
    err_state    text;
    err_message  text;
    abandoned    int;
    run_status   text;
    result       jsonb;
    holder       text;
BEGIN
    IF pg_catalog.pg_is_in_recovery() THEN
        -- A standby cannot write; its primary rotates and the changes replicate.
        RETURN pg_catalog.jsonb_build_object('status', 'standby', 'today', today);
    END IF;
    -- "weston" in ASCII then 0x0002: the key only rotation takes (the loader's is 0x0001),
    -- so a load and a rotation never turn each other away.
    IF NOT pg_catalog.pg_try_advisory_xact_lock(8603409607084081154) THEN
        -- Name the session holding it (pg_locks splits a bigint key into classid and objid).
        SELECT pg_catalog.format('pid %s, application_name %L, role %L, in its transaction since %s',
                                 l.pid, a.application_name, a.usename, a.xact_start)
          INTO holder
          FROM pg_catalog.pg_locks l
          LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid
         WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted
           AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
                                                   WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
           AND l.classid OPERATOR(pg_catalog.=) 2003137396::pg_catalog.oid
           AND l.objid OPERATOR(pg_catalog.=) 1869479938::pg_catalog.oid
           AND l.objsubid OPERATOR(pg_catalog.=) 1::pg_catalog.int2
         LIMIT 1;
        result := pg_catalog.jsonb_build_object(
            'status', 'skipped', 'today', today,
            'reason', 'another weston_rotate_partitions() is running in this database ('
                      || coalesce(holder, 'it has just finished') || ')');
        INSERT INTO weston_data.weston_maintenance_log (started_at, finished_at, status, details)
        VALUES (started, pg_catalog.clock_timestamp(), 'skipped', result);
        RETURN result;
    END IF;

    FOR cfg IN
        SELECT c.parent::oid AS parent_oid, c.retention, c.archive_schema
          FROM weston_data.weston_partition_config c ORDER BY c.parent::oid
    LOOP
        created := '[]'; retired := '[]'; stray := '[]'; failed := '[]';
        parent_name := NULL;
        BEGIN
            SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO STRICT parent_name
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = cfg.parent_oid;
            SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(p)), '[]') INTO steps
              FROM @extschema@.weston_partition_plan(cfg.parent_oid::regclass, today) p;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT;
            failed_count := failed_count + 1;
            tables := tables || pg_catalog.jsonb_build_object(
                'parent', coalesce(parent_name, cfg.parent_oid::text),
                'failed', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'step', 'plan', 'sqlstate', err_state, 'error', err_message)));
            CONTINUE;
        END;

        -- Retirement first: DETACH and DROP take ACCESS EXCLUSIVE on the parent, then on
        -- DEFAULT, the order in which readers lock them (parent, then partitions). Creating a
        -- month first would hold DEFAULT while waiting for the parent: a reader holding the
        -- parent and waiting for DEFAULT would then be a deadlock, and one of us killed.
        FOR step IN
            SELECT * FROM pg_catalog.jsonb_to_recordset(steps)
                AS s(action text, month date, relation text, default_rows bigint, reason text)
             ORDER BY s.action OPERATOR(pg_catalog.=) 'create', s.month
        LOOP
            IF step.action = 'stray' THEN
                stray := stray || pg_catalog.jsonb_build_object(
                    'month', step.month, 'rows', step.default_rows, 'reason', step.reason);
                CONTINUE;
            END IF;
            attempt := 0;
            LOOP
                attempt := attempt + 1;
                err_state := NULL;
                BEGIN
                    PERFORM pg_catalog.set_config('lock_timeout', wait_for, true);
                    IF step.action = 'create' THEN
                        PERFORM @extschema@.weston_create_partition(step.month, cfg.parent_oid::regclass);
                    ELSIF step.action = 'drop' THEN
                        EXECUTE pg_catalog.format('DROP TABLE %s', step.relation);
                    ELSE
                        EXECUTE pg_catalog.format('ALTER TABLE %s DETACH PARTITION %s', parent_name, step.relation);
                        IF step.action = 'archive' THEN
                            EXECUTE pg_catalog.format('CREATE SCHEMA IF NOT EXISTS %I', cfg.archive_schema);
                            EXECUTE pg_catalog.format('ALTER TABLE %s SET SCHEMA %I', step.relation, cfg.archive_schema);
                        END IF;
                    END IF;
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT;
                END;
                EXIT WHEN err_state IS NULL                   -- done
                      OR err_state <> '55P03'                 -- not a lock wait: retrying will not help
                      OR attempt >= max_attempts OR holding_locks;
                -- Between attempts this run holds no lock of the step (its subtransaction
                -- was rolled back), so waiting here blocks nobody.
                PERFORM pg_catalog.pg_sleep(0.05 * attempt);
            END LOOP;
            IF err_state IS NULL THEN
                holding_locks := true;
                done_count := done_count + 1;
                IF step.action = 'create' THEN
                    created := created || pg_catalog.jsonb_build_object(
                        'month', step.month, 'partition', step.relation,
                        'reason', step.reason, 'rows_moved', step.default_rows);
                ELSE
                    retired := retired || pg_catalog.jsonb_build_object(
                        'month', step.month, 'partition', step.relation, 'action', step.action);
                END IF;
            ELSE
                failed_count := failed_count + 1;
                failed := failed || pg_catalog.jsonb_build_object(
                    'step', step.action, 'month', step.month, 'partition', step.relation,
                    'attempts', attempt, 'sqlstate', err_state, 'error', err_message);
            END IF;
        END LOOP;
        tables := tables || pg_catalog.jsonb_build_object(
            'parent', parent_name, 'created', created, 'retired', retired,
            'stray_default', stray, 'failed', failed);
    END LOOP;
    PERFORM pg_catalog.set_config('lock_timeout', caller_lock_timeout, true);

    -- ETL runs whose loader died are abandoned here too. A database with the extension but
    -- without the loader's schema (no etl_run) has nothing to reap.
    IF pg_catalog.to_regclass('@extschema@.etl_run') IS NULL THEN
        reap := pg_catalog.jsonb_build_object('skipped', 'no @extschema@.etl_run table in this database');
    ELSE
        BEGIN
            abandoned := @extschema@.weston_etl_reap();
            reap := pg_catalog.jsonb_build_object('abandoned', abandoned);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT;
            failed_count := failed_count + 1;
            reap := pg_catalog.jsonb_build_object('sqlstate', err_state, 'error', err_message);
        END;
    END IF;

    run_status := CASE WHEN failed_count = 0 THEN 'succeeded'
                       WHEN done_count = 0 THEN 'failed'
                       ELSE 'partial' END;
    result := pg_catalog.jsonb_build_object(
        'status', run_status, 'today', today, 'lock_timeout', wait_for,
        'tables', tables, 'etl_reap', reap,
        'duration_ms', round(extract(epoch FROM pg_catalog.clock_timestamp() - started) * 1000));
    INSERT INTO weston_data.weston_maintenance_log (started_at, finished_at, status, details)
    VALUES (started, pg_catalog.clock_timestamp(), run_status, result);
    RETURN result;
END
$rotate$;

-- The two inlined reads (no SET clause) name the tables in weston_data: ticker_history and
-- prices_daily are there once migrations/0034 has run, the step after this update. (Read
-- through weston's views they would also work until then, but a session that refuses
-- views, as `weston-loader verify` does, could not read adjusted prices at all.)
CREATE OR REPLACE FUNCTION weston_ticker_pieces(symbols text[], as_of date)
RETURNS TABLE(symbol text, traded text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT q.symbol,
           coalesce(t.symbol, q.symbol),
           coalesce(t.valid_from, '-infinity'::pg_catalog.date),
           coalesce(t.valid_to, 'infinity'::pg_catalog.date)
      FROM (SELECT DISTINCT u.symbol FROM pg_catalog.unnest(symbols) AS u(symbol)) q
      LEFT JOIN LATERAL (
            SELECT h.security_id FROM weston_data.ticker_history h
             WHERE h.symbol OPERATOR(pg_catalog.=) q.symbol
               AND h.valid_from OPERATOR(pg_catalog.<=)
                   coalesce(as_of, (pg_catalog.now() AT TIME ZONE 'America/New_York')::pg_catalog.date)
             ORDER BY h.valid_from DESC LIMIT 1) holder ON true
      LEFT JOIN weston_data.ticker_history t
        ON t.security_id OPERATOR(pg_catalog.=) holder.security_id
       AND t.valid_from OPERATOR(pg_catalog.<=)
           coalesce(as_of, (pg_catalog.now() AT TIME ZONE 'America/New_York')::pg_catalog.date)
     WHERE holder.security_id IS NOT NULL
        OR NOT EXISTS (SELECT 1 FROM weston_data.ticker_history n
                        WHERE n.symbol OPERATOR(pg_catalog.=) q.symbol)
$fn$;
CREATE OR REPLACE FUNCTION weston_adjusted_prices(
    symbols text[], from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    -- Most bars take a factor of 1 (no event after them): they are returned as stored,
    -- without five numeric multiplications that would change nothing.
    SELECT b.symbol, b.date,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.open ELSE b.open OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.high ELSE b.high OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.low ELSE b.low OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.close ELSE b.close OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.vf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.volume ELSE b.volume OPERATOR(pg_catalog.*) b.vf END,
           b.pf, b.vf
      FROM (SELECT k.symbol, p.date, p.open, p.high, p.low, p.close, p.volume,
                   coalesce(k.price_factors[pg_catalog.width_bucket(p.date, k.bounds) OPERATOR(pg_catalog.+) 1],
                            1::pg_catalog.numeric) AS pf,
                   coalesce(k.volume_factors[pg_catalog.width_bucket(p.date, k.bounds) OPERATOR(pg_catalog.+) 1],
                            1::pg_catalog.numeric) AS vf
              FROM (SELECT q.symbol, q.traded, q.valid_from, q.valid_to,
                           s.bounds, s.price_factors, s.volume_factors
                      FROM @extschema@.weston_ticker_pieces(symbols, as_of) q
                      LEFT JOIN @extschema@.weston_adjustment_segments(symbols, from_date, as_of, total_return) s
                        ON s.symbol OPERATOR(pg_catalog.=) q.symbol
                    OFFSET 0) k
              JOIN weston_data.prices_daily p
                ON p.symbol OPERATOR(pg_catalog.=) k.traded
               AND p.date OPERATOR(pg_catalog.>=) k.valid_from AND p.date OPERATOR(pg_catalog.<=) k.valid_to
             WHERE @extschema@.weston_check_adjusted_arguments(symbols, from_date, to_date, total_return)
               AND p.date OPERATOR(pg_catalog.>=) from_date AND p.date OPERATOR(pg_catalog.<=) to_date
             ORDER BY k.symbol, p.date
            OFFSET 0) b -- not flattened: each factor is looked up once per bar, not per column
     ORDER BY b.symbol, b.date
$fn$;
