-- pg_weston 0.7.0 -> 0.8.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

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
