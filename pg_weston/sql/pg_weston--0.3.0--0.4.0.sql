-- pg_weston 0.3.0 -> 0.4.0 (each change under a header naming its issue).
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- a security's life (ticker changes, delistings, reused tickers)
-- The reads and writes over migrations/0016's tables: the same text as sql/identity.sql.

CREATE FUNCTION weston_symbol_history(symbol text, as_of date DEFAULT NULL)
RETURNS TABLE(symbol text, valid_from date, valid_to date)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
    WITH d AS (SELECT coalesce($2, (now() AT TIME ZONE 'America/New_York')::date) AS day),
         holder AS (
            SELECT h.security_id FROM ticker_history h, d
             WHERE h.symbol = $1 AND h.valid_from <= d.day
             ORDER BY h.valid_from DESC LIMIT 1)
    SELECT t.symbol, t.valid_from, CASE WHEN t.valid_to < d.day THEN t.valid_to END
      FROM ticker_history t JOIN holder USING (security_id), d
     WHERE t.valid_from <= d.day
    UNION ALL
    SELECT s.symbol, s.listed_date, CASE WHEN s.delisted_date < d.day THEN s.delisted_date END
      FROM securities s, d
     WHERE s.symbol = $1
       AND (s.listed_date IS NULL OR s.listed_date <= d.day)
       AND NOT EXISTS (SELECT 1 FROM ticker_history n WHERE n.symbol = s.symbol)
     ORDER BY 2 NULLS FIRST
$fn$;
COMMENT ON FUNCTION weston_symbol_history(text, date) IS
'The tickers of the security that symbol names as of as_of (NULL: today, New York), oldest first, with their date ranges as known on as_of: valid_to is the last day under the ticker, NULL while current (a ticker that ended after as_of is current as of as_of). symbol names the security that most recently held it on or before as_of; a ticker first held after as_of names nothing (no rows). A ticker never recorded in ticker_history is its own security: its securities row''s listed_date and delisted_date.';

CREATE FUNCTION weston_resolve_symbol(symbol text, on_date date)
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
COMMENT ON FUNCTION weston_resolve_symbol(text, date) IS
'The ticker under which the security named by symbol traded on on_date: symbol itself when a security held it that day; otherwise the ticker that day of the one security that ever held symbol and traded that day (FB on 2023-01-03: META); NULL when none did; an error naming the candidates when several did. A ticker never recorded in ticker_history: itself between its securities row''s listed_date and delisted_date (NULL bounds: open). Uses everything recorded today.';

CREATE FUNCTION weston_universe(as_of date DEFAULT NULL)
RETURNS TABLE(symbol text, listed_date date, delisted_date date)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
    WITH d AS (SELECT coalesce($1, (now() AT TIME ZONE 'America/New_York')::date) AS day)
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
     ORDER BY 1
$fn$;
COMMENT ON FUNCTION weston_universe(date) IS
'The securities listed on as_of (NULL: today, New York), under the ticker each had that day, including those delisted since (survivorship-free), ordered by symbol. listed_date: the first day of the security under any ticker; delisted_date: as known on as_of, so set only when as_of is its last day. A ticker never recorded in ticker_history is listed while its securities row''s listed_date (NULL: always) and delisted_date (NULL: still listed) say so.';

CREATE FUNCTION weston_ticker_listed(
    symbol text, valid_from date, provider text, run_id bigint,
    composite_figi text DEFAULT NULL, share_class_figi text DEFAULT NULL, cik text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
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

CREATE FUNCTION weston_ticker_changed(
    old_symbol text, new_symbol text, effective date, provider text, run_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    held record;
    ident record;
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
    SELECT h.security_id, h.valid_from INTO held FROM ticker_history h
     WHERE h.symbol = old_symbol AND h.valid_to IS NULL;
    IF NOT FOUND OR held.valid_from >= effective THEN
        RAISE EXCEPTION 'weston: no security holds % before %: record its listing (weston_ticker_listed) first',
                        old_symbol, effective;
    END IF;
    SELECT * INTO ident FROM security_identity i WHERE i.security_id = held.security_id;

    UPDATE ticker_history h
       SET valid_to = effective - 1, ended_provider = provider, ended_run_id = run_id
     WHERE h.symbol = old_symbol AND h.valid_from = held.valid_from;
    -- The old ticker leaves the nightly universe; the new one joins it.
    UPDATE securities s SET delisted_date = effective - 1, updated_at = now()
     WHERE s.symbol = old_symbol;
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
'Records that the security holding old_symbol trades as new_symbol from effective (its first day under the new ticker; old_symbol''s last is the day before) and returns its security_id; the same change again changes nothing. Refused when no security holds old_symbol open before effective, and (by ticker_history''s constraint) when another security holds new_symbol on or after effective. The old ticker''s securities row gets delisted_date, the new one''s is created.';

CREATE FUNCTION weston_ticker_delisted(symbol text, last_day date, provider text, run_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    found_id bigint;
BEGIN
    IF symbol IS NULL OR last_day IS NULL OR provider IS NULL OR run_id IS NULL THEN
        RAISE EXCEPTION 'weston: symbol, last_day, provider and run_id must not be NULL';
    END IF;
    SELECT h.security_id INTO found_id FROM ticker_history h
     WHERE h.symbol = weston_ticker_delisted.symbol AND h.valid_to = last_day
       AND NOT EXISTS (SELECT 1 FROM ticker_history l
                        WHERE l.security_id = h.security_id AND l.valid_from > h.valid_from);
    IF FOUND THEN
        RETURN found_id; -- recorded before
    END IF;
    UPDATE ticker_history h
       SET valid_to = last_day, ended_provider = provider, ended_run_id = run_id
     WHERE h.symbol = weston_ticker_delisted.symbol AND h.valid_to IS NULL AND h.valid_from <= last_day
    RETURNING h.security_id INTO found_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'weston: no security holds % open on %: nothing to delist', symbol, last_day;
    END IF;
    UPDATE securities s SET delisted_date = last_day, updated_at = now()
     WHERE s.symbol = weston_ticker_delisted.symbol;
    RETURN found_id;
END
$fn$;
COMMENT ON FUNCTION weston_ticker_delisted(text, date, text, bigint) IS
'Records that the security holding symbol was delisted after last_day (its last session) and returns its security_id; its history stays. The same delisting again changes nothing. Sets the securities row''s delisted_date, so the ticker leaves the nightly universe.';

-- The adjusted prices follow a security across its tickers (the array form reads the bars
-- through ticker_pieces; the one-symbol form and the factors call what changed). CREATE OR
-- REPLACE keeps their privileges; the comments are the new ones of sql/adjusted_prices.sql.
-- The two weston_adjusted_prices are plain SQL that PostgreSQL inlines into the caller's
-- query: no SET clause (it would prevent inlining, and the rows would be materialised),
-- so instead every name in them is schema-qualified, operators included, and they mean
-- the same under any search_path. ticker_pieces (migrations/0016) gives the tickers and
-- date ranges of the security each symbol names as of as_of (a ticker that never changed:
-- itself, over all dates); the bars of each piece are read by index, the segments joined
-- by symbol, and each bar finds its factor by binary search.
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
      FROM (SELECT q.symbol, p.date, p.open, p.high, p.low, p.close, p.volume,
                   coalesce(s.price_factors[pg_catalog.width_bucket(p.date, s.bounds) OPERATOR(pg_catalog.+) 1],
                            1::pg_catalog.numeric) AS pf,
                   coalesce(s.volume_factors[pg_catalog.width_bucket(p.date, s.bounds) OPERATOR(pg_catalog.+) 1],
                            1::pg_catalog.numeric) AS vf
              FROM @extschema@.ticker_pieces(symbols, as_of) q
              JOIN @extschema@.prices_daily p
                ON p.symbol OPERATOR(pg_catalog.=) q.traded
               AND p.date OPERATOR(pg_catalog.>=) q.valid_from AND p.date OPERATOR(pg_catalog.<=) q.valid_to
              LEFT JOIN @extschema@.weston_adjustment_segments(symbols, from_date, as_of, total_return) s
                ON s.symbol OPERATOR(pg_catalog.=) q.symbol
             WHERE @extschema@.weston_check_adjusted_arguments(symbols, from_date, to_date, total_return)
               AND p.date OPERATOR(pg_catalog.>=) from_date AND p.date OPERATOR(pg_catalog.<=) to_date
             ORDER BY q.symbol, p.date
            OFFSET 0) b -- not flattened: each factor is looked up once per bar, not per column
     ORDER BY b.symbol, b.date
$fn$;
COMMENT ON FUNCTION weston_adjusted_prices(text[], date, date, date, boolean) IS
'Adjusted daily bars of every symbol in symbols between from_date and to_date (inclusive), ordered by symbol, date, computed in one pass; same semantics as weston_adjusted_prices(text, ...). Unknown symbols give no rows. Write the array as ARRAY[...] or ''{...}''::text[].';

COMMENT ON FUNCTION weston_adjusted_prices(text, date, date, date, boolean) IS
'Daily bars of the security that ticker names as of as_of (NULL: today, New York) between from_date and to_date (inclusive), ordered by date, under the name asked for, adjusted as of as_of (NULL: every stored event); bars, splits and dividends under the security''s earlier tickers are included (see weston_symbol_history). A ticker first held after as_of gives no rows; one never recorded in ticker_history is read as it is stored. An event''s date is its ex-date: a bar on d is adjusted by events with d < ex_date <= as_of. Split n-for-d: prices times d/n, volume times n/d. total_return also multiplies prices by 1 - amount/close_before per dividend (close_before: raw close of the last bar before the ex-date, in the ex-date''s share basis). price_factor and volume_factor are the factors applied (see weston_adjustment_factors). Exact numeric: raw times factor, a non-terminating factor rounded to 20 decimal places. Unknown symbol: no rows. Errors on a NULL argument other than as_of, and on from_date > to_date.';

COMMENT ON FUNCTION weston_adjustment_factors(text, date, boolean) IS
'The adjustment factors of the security that symbol names as of as_of (NULL: today; events under its earlier tickers included, see weston_symbol_history), one row per event date (ex-date) on or before as_of (NULL: every stored event), ascending: bars dated before effective_before, and on or after the previous row''s date, are multiplied by these cumulative factors (prices by price_factor, volume by volume_factor); bars on or after the last row''s date by 1. A split n-for-d contributes d/n to price_factor and n/d to volume_factor; with total_return a dividend contributes 1 - amount/close_before to price_factor (close_before: raw close of the last bar before the ex-date, in the ex-date''s share basis; a dividend with no earlier bar contributes 1). Exact; a non-terminating factor is rounded to 20 decimal places. In the spirit of a LEAN factor file.';

REVOKE EXECUTE ON FUNCTION weston_ticker_listed(text, date, text, bigint, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_ticker_changed(text, text, date, text, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_ticker_delisted(text, date, text, bigint) FROM PUBLIC;

-- data you can trust
-- A run that finished but could not have some data from any provider ends `partial`
-- (the status etl_run's CHECK already allows), through the extension like every ending.
CREATE  FUNCTION "weston_etl_finish_partial"(
	"run_id" bigint, /* i64 */
	"summary" TEXT /* core::option::Option<&str> */
) RETURNS void
VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'weston_etl_finish_partial_wrapper';

COMMENT ON FUNCTION weston_etl_finish_partial(bigint, text) IS 'Marks a running etl_run partial: finished, but some data could not be had from any provider (the summary says which; its stats list them).';
REVOKE EXECUTE ON FUNCTION weston_etl_finish_partial(bigint, text) FROM PUBLIC;

-- schema
-- Since 0.4.0 pg_weston lives in schema weston (the control file's `schema`: a fresh install
-- lands there whatever the session's search_path), out of the application's default schema,
-- where its schema tooling (Alembic) would see it. An installation of an earlier version lives
-- where it was created (public, usually). This section moves every member of the extension
-- from there to weston, makes weston the extension's schema (pg_extension.extnamespace and the
-- extension's dependency on its schema, as ALTER EXTENSION SET SCHEMA does for a relocatable
-- extension, which pg_weston is not), and rewrites what named the old schema: each function's
-- pinned search_path, and the bodies and argument defaults qualified with it (@extschema@ in
-- the scripts). Read from the catalog, not a list, so members added above are moved too:
-- this section must stay the LAST of this file. The market-data tables are not the
-- extension's: migration 0009 (weston-loader migrate, right after this update) moves them.
DO $move$
DECLARE
    ext oid := (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_weston');
    old_nsp oid := (SELECT e.extnamespace FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_weston');
    old_name text;
    new_nsp oid;
    member record;
    definition text;
    rewritten text;
BEGIN
    IF (SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = old_nsp) = 'weston' THEN
        RETURN;
    END IF;
    old_name := pg_catalog.quote_ident((SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = old_nsp));
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'weston') THEN
        CREATE SCHEMA weston;
        -- Not a member, as with a fresh install (CREATE EXTENSION creates it before the
        -- extension exists): DROP EXTENSION leaves the schema and what else is in it.
        ALTER EXTENSION pg_weston DROP SCHEMA weston;
    END IF;
    new_nsp := 'weston'::pg_catalog.regnamespace;

    -- Tables first: their indexes, constraints, row types and owned sequences move with them.
    FOR member IN
        SELECT c.oid::pg_catalog.regclass AS rel, c.relkind
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = ext AND d.deptype = 'e'
         ORDER BY c.relkind <> 'S' DESC, c.relname
    LOOP
        CONTINUE WHEN (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = member.rel) <> old_nsp;
        IF member.relkind IN ('r', 'p') THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s SET SCHEMA weston', member.rel);
        ELSIF member.relkind = 'S' THEN
            EXECUTE pg_catalog.format('ALTER SEQUENCE %s SET SCHEMA weston', member.rel);
        ELSIF member.relkind = 'v' THEN
            EXECUTE pg_catalog.format('ALTER VIEW %s SET SCHEMA weston', member.rel);
        ELSE
            RAISE EXCEPTION 'pg_weston: cannot move member % (relkind %) to schema weston', member.rel, member.relkind;
        END IF;
    END LOOP;
    FOR member IN
        SELECT p.oid::pg_catalog.regprocedure AS fn
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = ext AND d.deptype = 'e' AND p.pronamespace = old_nsp
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SET SCHEMA weston', member.fn);
    END LOOP;
    -- Any other kind of member (a type, an operator) would have to be moved here too.
    FOR member IN
        SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what
          FROM pg_catalog.pg_depend d
         WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = ext AND d.deptype = 'e'
           AND d.classid NOT IN ('pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass,
                                 'pg_catalog.pg_namespace'::pg_catalog.regclass)
    LOOP
        RAISE EXCEPTION 'pg_weston: cannot move member % to schema weston', member.what;
    END LOOP;

    UPDATE pg_catalog.pg_extension SET extnamespace = new_nsp WHERE oid = ext;
    UPDATE pg_catalog.pg_depend SET refobjid = new_nsp
     WHERE classid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND objid = ext
       AND refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND refobjid = old_nsp;
    IF NOT FOUND THEN
        INSERT INTO pg_catalog.pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
        VALUES ('pg_catalog.pg_extension'::pg_catalog.regclass, ext, 0,
                'pg_catalog.pg_namespace'::pg_catalog.regclass, new_nsp, 0, 'n');
    END IF;

    -- What named the old schema: "old." in bodies and defaults, and the old schema in a
    -- pinned search_path. pg_get_functiondef gives the whole definition; re-created with
    -- CREATE OR REPLACE, a member keeps its membership, owner, privileges and comment.
    FOR member IN
        SELECT p.oid
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = ext AND d.deptype = 'e'
    LOOP
        definition := pg_catalog.pg_get_functiondef(member.oid);
        rewritten := pg_catalog.regexp_replace(
            definition, '\m' || pg_catalog.regexp_replace(old_name, '([^A-Za-z0-9_])', '\\\1', 'g') || '\.', 'weston.', 'g');
        rewritten := pg_catalog.regexp_replace(
            rewritten, '(\n SET search_path TO [^\n]*)''' || pg_catalog.replace(old_name, '''', '''''') || '''',
            '\1''weston''');
        IF rewritten <> definition THEN
            EXECUTE rewritten;
        END IF;
    END LOOP;
END
$move$;
