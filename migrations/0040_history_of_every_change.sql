-- Every change of the market data is kept with the moment it became known, so that any
-- read can be replayed as the database knew it (the reads' known_on, pg_weston 0.9.0).
--
-- Tracked: prices_daily, splits, dividends, ticker_history, security_identity and
-- securities (the universe and the symbol resolution read it for tickers never in
-- ticker_history). Each row's updated_at is the moment its current version became known:
-- the writing transaction's start (transaction_timestamp(), what now() gives the loader's
-- upserts and the corrections). A version that is replaced or deleted moves to
-- <table>_history with known_to, the moment it stopped being current. As known at T: the
-- current rows with updated_at <= T, and the kept versions with updated_at <= T < known_to.
--
-- Only real changes are kept: an update that changes no column but updated_at keeps the
-- row's updated_at and adds nothing; a version made and replaced in one transaction was
-- never visible to anyone and is not kept. TRUNCATE keeps every row it removes (a DBA's
-- whole-table repair is a change like any other); a month that retention drops takes its
-- bars' kept versions with it (weston_data.rotation, documented in docs/ANALYSTS.md).
--
-- The history starts here: what was replaced before this migration was not kept, and a
-- read as known before history_start.started_at is refused. A row already stored keeps its
-- updated_at (prices_daily, splits, dividends, securities: when it was last written);
-- ticker_history and security_identity had none and take this migration's moment.
--
-- The trigger functions are owned by weston_owner (0030), which nobody can become, and run
-- as it (SECURITY DEFINER, search_path pinned, every name qualified): the kept versions are
-- written by no role but that owner, so no writer, not even the loader, can forge or erase
-- one. Readers read them as they read the tables they come from (the same SELECT grants).
DO $owner$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'migration 0040 must run as a superuser: it attaches triggers to tables weston_owner owns';
    END IF;
END
$owner$;

ALTER TABLE weston_data.ticker_history ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE weston_data.security_identity ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
-- Their views show it (a column reaches a view only when the view is made again).
CREATE OR REPLACE VIEW weston.ticker_history WITH (security_invoker = true) AS
SELECT * FROM weston_data.ticker_history;
CREATE OR REPLACE VIEW weston.security_identity WITH (security_invoker = true) AS
SELECT * FROM weston_data.security_identity;

CREATE TABLE weston_data.history_start (
    started_at timestamptz NOT NULL,
    one_row    boolean NOT NULL DEFAULT true PRIMARY KEY CONSTRAINT history_start_one_row CHECK (one_row)
);
INSERT INTO weston_data.history_start (started_at) VALUES (pg_catalog.transaction_timestamp());
COMMENT ON TABLE weston_data.history_start IS
    'When the database began keeping every change (migration 0040): reads as known earlier are refused.';
ALTER TABLE weston_data.history_start OWNER TO weston_owner;
GRANT SELECT ON weston_data.history_start TO PUBLIC;

DO $history$
DECLARE
    tracked text;
    cols text;      -- every column, in order
    olds text;      -- OLD.<column>, in order
    data_old text;  -- ROW(OLD.<column but updated_at>)
    data_new text;
    key text;       -- the primary key's columns
    acl record;
BEGIN
    FOREACH tracked IN ARRAY ARRAY['prices_daily', 'splits', 'dividends', 'ticker_history',
                                   'security_identity', 'securities'] LOOP
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
               pg_catalog.string_agg('OLD.' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
               'ROW(' || pg_catalog.string_agg('OLD.' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
                         FILTER (WHERE a.attname <> 'updated_at') || ')',
               'ROW(' || pg_catalog.string_agg('NEW.' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
                         FILTER (WHERE a.attname <> 'updated_at') || ')'
          INTO cols, olds, data_old, data_new
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = pg_catalog.format('weston_data.%I', tracked)::pg_catalog.regclass
           AND a.attnum > 0 AND NOT a.attisdropped;
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.n)
          INTO key
          FROM pg_catalog.pg_constraint c
         CROSS JOIN LATERAL pg_catalog.unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
         WHERE c.conrelid = pg_catalog.format('weston_data.%I', tracked)::pg_catalog.regclass
           AND c.contype = 'p';

        -- The kept versions: the table's columns (types and NOT NULL, nothing else: no
        -- key, a row's key repeats across its versions) and when each stopped being current.
        EXECUTE pg_catalog.format(
            'CREATE TABLE weston_data.%1$I (LIKE weston_data.%2$I, known_to timestamptz NOT NULL)',
            tracked || '_history', tracked);
        EXECUTE pg_catalog.format('CREATE INDEX %I ON weston_data.%I (%s, known_to)',
                                  tracked || '_history_key_idx', tracked || '_history', key);
        EXECUTE pg_catalog.format(
            'COMMENT ON TABLE weston_data.%I IS %L', tracked || '_history',
            pg_catalog.format('The replaced and deleted versions of %s rows: each was current (known) from updated_at until known_to (migration 0040).', tracked));
        EXECUTE pg_catalog.format('ALTER TABLE weston_data.%I OWNER TO weston_owner', tracked || '_history');
        FOR acl IN
            SELECT a.grantee FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
             WHERE c.oid = pg_catalog.format('weston_data.%I', tracked)::pg_catalog.regclass
               AND a.grantee <> c.relowner AND a.privilege_type = 'SELECT'
        LOOP
            EXECUTE pg_catalog.format('GRANT SELECT ON weston_data.%I TO %s', tracked || '_history',
                CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE acl.grantee::pg_catalog.regrole::text END);
        END LOOP;

        -- A replaced or deleted version is kept, unless this transaction made it.
        EXECUTE pg_catalog.format($f$
            CREATE FUNCTION weston_data.%1$I() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
            BEGIN
                INSERT INTO weston_data.%2$I (%3$s, known_to) VALUES (%4$s, pg_catalog.transaction_timestamp());
                RETURN NULL;
            END $body$$f$, tracked || '_keep_version', tracked || '_history', cols, olds);
        -- TRUNCATE keeps what it removes.
        EXECUTE pg_catalog.format($f$
            CREATE FUNCTION weston_data.%1$I() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
            BEGIN
                INSERT INTO weston_data.%2$I (%3$s, known_to)
                SELECT %3$s, pg_catalog.transaction_timestamp() FROM weston_data.%4$I
                 WHERE updated_at OPERATOR(pg_catalog.<>) pg_catalog.transaction_timestamp();
                RETURN NULL;
            END $body$$f$, tracked || '_keep_truncated', tracked || '_history', cols, tracked);
        -- A write's version is known from its transaction's start, whatever it wrote in
        -- updated_at; an update that changes nothing else keeps the row's.
        EXECUTE pg_catalog.format($f$
            CREATE FUNCTION weston_data.%1$I() RETURNS trigger
            LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $body$
            BEGIN
                IF TG_OP = 'INSERT' OR %2$s IS DISTINCT FROM %3$s THEN
                    NEW.updated_at := pg_catalog.transaction_timestamp();
                ELSE
                    NEW.updated_at := OLD.updated_at;
                END IF;
                RETURN NEW;
            END $body$$f$, tracked || '_stamp', data_old, data_new);
        EXECUTE pg_catalog.format('ALTER FUNCTION weston_data.%I() OWNER TO weston_owner', tracked || '_keep_version');
        EXECUTE pg_catalog.format('ALTER FUNCTION weston_data.%I() OWNER TO weston_owner', tracked || '_keep_truncated');
        EXECUTE pg_catalog.format('ALTER FUNCTION weston_data.%I() OWNER TO weston_owner', tracked || '_stamp');
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION weston_data.%I() FROM PUBLIC', tracked || '_keep_version');
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION weston_data.%I() FROM PUBLIC', tracked || '_keep_truncated');

        -- The WHEN clauses keep the common paths free of any function call: the loader's
        -- COPY and upserts write updated_at = now(), and its upserts update only changed rows.
        EXECUTE pg_catalog.format($t$
            CREATE TRIGGER weston_stamp_insert BEFORE INSERT ON weston_data.%1$I FOR EACH ROW
            WHEN (NEW.updated_at IS DISTINCT FROM pg_catalog.transaction_timestamp())
            EXECUTE FUNCTION weston_data.%2$I()$t$, tracked, tracked || '_stamp');
        EXECUTE pg_catalog.format($t$
            CREATE TRIGGER weston_stamp_update BEFORE UPDATE ON weston_data.%1$I FOR EACH ROW
            WHEN (NEW.updated_at IS DISTINCT FROM
                  CASE WHEN %3$s IS DISTINCT FROM %4$s THEN pg_catalog.transaction_timestamp() ELSE OLD.updated_at END)
            EXECUTE FUNCTION weston_data.%2$I()$t$, tracked, tracked || '_stamp', data_old, data_new);
        EXECUTE pg_catalog.format($t$
            CREATE TRIGGER weston_keep_update AFTER UPDATE ON weston_data.%1$I FOR EACH ROW
            WHEN (%3$s IS DISTINCT FROM %4$s
                  AND OLD.updated_at IS DISTINCT FROM pg_catalog.transaction_timestamp())
            EXECUTE FUNCTION weston_data.%2$I()$t$, tracked, tracked || '_keep_version', data_old, data_new);
        EXECUTE pg_catalog.format($t$
            CREATE TRIGGER weston_keep_delete AFTER DELETE ON weston_data.%1$I FOR EACH ROW
            WHEN (OLD.updated_at IS DISTINCT FROM pg_catalog.transaction_timestamp())
            EXECUTE FUNCTION weston_data.%2$I()$t$, tracked, tracked || '_keep_version');
        EXECUTE pg_catalog.format($t$
            CREATE TRIGGER weston_keep_truncate BEFORE TRUNCATE ON weston_data.%1$I FOR EACH STATEMENT
            EXECUTE FUNCTION weston_data.%2$I()$t$, tracked, tracked || '_keep_truncated');
    END LOOP;
END
$history$;

-- The reads as known (pg_weston 0.9.0; weston-loader applies this only once they exist):
-- everyone who reads market data, as 0006, 0017 and 0032 grant the reads they know.
DO $grants$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        'weston_adjusted_prices(text[], date, date, date, boolean, timestamptz)',
        'weston_adjusted_prices(text, date, date, date, boolean, timestamptz)',
        'weston_adjustment_factors(text, date, boolean, timestamptz)',
        'weston_adjustment_segments(text[], date, date, boolean, timestamptz)',
        'weston_ticker_pieces(text[], date, timestamptz)',
        'weston_resolve_symbol(text, date, timestamptz)',
        'weston_universe(date, timestamptz)',
        'weston_check_known_on(timestamptz)',
        'weston_ticker_history_known(timestamptz)',
        'weston_ticker_history_as(timestamptz)',
        'weston_securities_known(timestamptz)',
        'weston_securities_as(timestamptz)',
        'weston_prices_daily_known(text[], date, date, date, timestamptz)',
        'weston_prices_daily_as(text[], date, date, date, timestamptz)'
    ]::pg_catalog.regprocedure[] LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO dba, etl_writer, app_rw, app_ro', fn);
    END LOOP;
END
$grants$;
