-- pg_weston 0.4.0 -> 0.5.0 (each change under a header naming its issue).
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- corrections
-- The DBA's corrections and their audit trail: the same text as sql/corrections.sql, then
-- the REVOKEs that sql/privileges.sql makes of them.

-- Corrections with an audit trail: a DBA records a missing split or dividend,
-- deletes a wrong one, corrects (or adds) a bar, and resolves an audit finding. Each call
-- writes one row of weston_corrections, in the same transaction as the change it records:
-- the row before and after (NULL when there was none / is none any more), who, when, why.
--
-- Who may. The functions run with the caller's rights (not SECURITY DEFINER): a member of
-- dba owns the market-data tables, so it needs nothing more, and whatever code a dba
-- member attached to those tables runs as that member, never as a superuser. For the same
-- reason a superuser is refused (it would run that code with its own rights): it records
-- a correction after `SET ROLE dba`. EXECUTE is dba's only (migrations/0006 and 0023).
--
-- Who did. `by_role` and `at` are the trail's column defaults, session_user and now(), and
-- dba may INSERT every column but those two (migrations/0023): neither a dba nor these
-- functions can write another name or time. session_user, not current_user: it is the
-- login that connected (alice, also after `SET ROLE dba`), where current_user would name
-- the group (dba) after SET ROLE, and a function's owner under SECURITY DEFINER. Nobody but
-- a superuser may UPDATE or DELETE the trail: for dba it is append-only.
--
-- What they write. Rows with provider 'manual' and no run_id (migrations/0022 allows
-- both): the trail is their provenance. The loader never overwrites a manual row, and it
-- never loads again a split or dividend a DBA deleted (the delete_* rows of the trail are
-- its tombstones: weston-loader/sql/skip_deleted_events.sql). Adjusted prices are computed
-- on read from these tables, so a correction counts at once (in its own transaction too).
--
-- The arguments share names with columns (#variable_conflict use_variable): columns are
-- always written qualified, conflicts named by constraint.

CREATE TABLE weston_corrections (
    correction_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    by_role       text NOT NULL DEFAULT session_user,
    action        text NOT NULL
                  CONSTRAINT weston_corrections_action_known
                  CHECK (action IN ('record_split', 'delete_split', 'record_dividend', 'delete_dividend',
                                    'correct_bar', 'resolve_finding')),
    symbol        text NOT NULL,
    date          date NOT NULL,
    before        jsonb,
    after         jsonb,
    reason        text NOT NULL CONSTRAINT weston_corrections_reason_given CHECK (btrim(reason) <> ''),
    CONSTRAINT weston_corrections_changes_a_row CHECK (before IS NOT NULL OR after IS NOT NULL)
);
-- The loader's tombstone look-up, and a row's history.
CREATE INDEX weston_corrections_row ON weston_corrections (symbol, date, action);
COMMENT ON TABLE weston_corrections IS
    'The audit trail of the DBA''s corrections (weston_record_split and the others): one row per change, with the row before and after, who (the session''s login), when and why. Append-only for dba.';
SELECT pg_catalog.pg_extension_config_dump('weston_corrections', '');
SELECT pg_catalog.pg_extension_config_dump('weston_corrections_correction_id_seq', '');

-- What every correction checks first: the caller is not a superuser, and it says why.
CREATE FUNCTION weston_check_correction(reason text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'weston: corrections are not recorded as a superuser (%): SET ROLE dba first', current_user
              USING HINT = 'Code a dba member attached to the market-data tables would otherwise run with a superuser''s rights.';
    END IF;
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'weston: a correction needs a reason (got %)', coalesce(pg_catalog.quote_literal(reason), 'NULL')
              USING HINT = 'Say why, e.g. the source that shows the right value.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION weston_check_correction(text) IS
    'Internal to the correction functions: refuses a superuser caller (SET ROLE dba first) and a NULL or blank reason.';

-- A known security: the tables' foreign keys would refuse the row too, but less plainly.
CREATE FUNCTION weston_check_correction_symbol(symbol text, on_date date)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
BEGIN
    IF symbol IS NULL OR on_date IS NULL THEN
        RAISE EXCEPTION 'weston: the symbol and the date must not be NULL';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM securities s WHERE s.symbol = symbol) THEN
        RAISE EXCEPTION 'weston: unknown symbol %: it is not in securities', symbol;
    END IF;
END
$fn$;
COMMENT ON FUNCTION weston_check_correction_symbol(text, date) IS
    'Internal to the correction functions: refuses a NULL symbol or date and a symbol not in securities.';

CREATE FUNCTION weston_record_split(symbol text, ex_date date, numerator numeric, denominator numeric, reason text)
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
COMMENT ON FUNCTION weston_record_split(text, date, numeric, numeric, text) IS
    'Records (or replaces) the split of symbol on ex_date, numerator-for-denominator (4-for-1: 4, 1), as provider manual, with the reason in weston_corrections. dba only.';

CREATE FUNCTION weston_delete_split(symbol text, ex_date date, reason text)
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
    DELETE FROM splits s WHERE s.symbol = symbol AND s.date = ex_date RETURNING to_jsonb(s) INTO old_row;
    IF old_row IS NULL THEN
        RAISE EXCEPTION 'weston: % has no split on % to delete', symbol, ex_date;
    END IF;
    INSERT INTO weston_corrections (action, symbol, date, before, after, reason)
    VALUES ('delete_split', symbol, ex_date, old_row, NULL, reason);
END
$fn$;
COMMENT ON FUNCTION weston_delete_split(text, date, text) IS
    'Deletes the split of symbol on ex_date, with the reason in weston_corrections; the loader never loads that split again. dba only.';

CREATE FUNCTION weston_record_dividend(symbol text, ex_date date, amount numeric, currency text, reason text)
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
COMMENT ON FUNCTION weston_record_dividend(text, date, numeric, text, text) IS
    'Records (or replaces) the cash dividend per share of symbol with ex-date ex_date, as provider manual, with the reason in weston_corrections. dba only.';

CREATE FUNCTION weston_delete_dividend(symbol text, ex_date date, reason text)
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
    DELETE FROM dividends d WHERE d.symbol = symbol AND d.ex_date = ex_date RETURNING to_jsonb(d) INTO old_row;
    IF old_row IS NULL THEN
        RAISE EXCEPTION 'weston: % has no dividend with ex-date % to delete', symbol, ex_date;
    END IF;
    INSERT INTO weston_corrections (action, symbol, date, before, after, reason)
    VALUES ('delete_dividend', symbol, ex_date, old_row, NULL, reason);
END
$fn$;
COMMENT ON FUNCTION weston_delete_dividend(text, date, text) IS
    'Deletes the dividend of symbol with ex-date ex_date, with the reason in weston_corrections; the loader never loads that dividend again. dba only.';

-- A corrected bar has no VWAP: the provider's belonged to the bar it replaces. A missing
-- session is added the same way (before is NULL). A bar of a day that has not ended in New
-- York yet is refused.
CREATE FUNCTION weston_correct_bar(symbol text, date date, open numeric, high numeric, low numeric,
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
COMMENT ON FUNCTION weston_correct_bar(text, date, numeric, numeric, numeric, numeric, numeric, text) IS
    'Replaces (or adds) the raw bar of symbol on date, as provider manual without VWAP, with the reason in weston_corrections. dba only.';

-- The note is the reason: required like any correction's. The finding is read as jsonb: the
-- table comes from a migration (0018), after this function is created.
CREATE FUNCTION weston_resolve_finding(finding_id bigint, resolution text, note text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    old_row jsonb;
    new_row jsonb;
BEGIN
    PERFORM weston_check_correction(note);
    IF resolution IS NULL OR resolution NOT IN ('true_event', 'corrected', 'false_positive') THEN
        RAISE EXCEPTION 'weston: a resolution is true_event, corrected or false_positive, got %',
                        coalesce(pg_catalog.quote_literal(resolution), 'NULL');
    END IF;
    SELECT to_jsonb(f) INTO old_row FROM quality_findings f WHERE f.finding_id = finding_id FOR UPDATE;
    IF old_row IS NULL THEN
        RAISE EXCEPTION 'weston: there is no finding %', coalesce(finding_id::text, 'NULL');
    END IF;
    IF old_row->>'resolved_at' IS NOT NULL THEN
        RAISE EXCEPTION 'weston: finding % is already resolved: % by % at %', finding_id,
                        old_row->>'resolution', old_row->>'resolved_by', old_row->>'resolved_at';
    END IF;
    UPDATE quality_findings f
       SET resolved_at = now(), resolution = resolution, resolved_by = session_user, resolution_note = note
     WHERE f.finding_id = finding_id
    RETURNING to_jsonb(f) INTO new_row;
    INSERT INTO weston_corrections (action, symbol, date, before, after, reason)
    VALUES ('resolve_finding', old_row->>'symbol', (old_row->>'date')::date, old_row, new_row, note);
END
$fn$;
COMMENT ON FUNCTION weston_resolve_finding(bigint, text, text) IS
    'Resolves an open audit finding as true_event, corrected or false_positive, with a note (required), recorded in the finding and in weston_corrections. dba only.';

-- The DBA's corrections (since 0.5.0): dba only (migrations/0029).
REVOKE EXECUTE ON FUNCTION weston_check_correction(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_check_correction_symbol(text, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_record_split(text, date, numeric, numeric, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_delete_split(text, date, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_record_dividend(text, date, numeric, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_delete_dividend(text, date, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_correct_bar(text, date, numeric, numeric, numeric, numeric, numeric, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_resolve_finding(bigint, text, text) FROM PUBLIC;
