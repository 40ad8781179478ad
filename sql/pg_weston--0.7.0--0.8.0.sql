-- pg_weston 0.7.0 -> 0.8.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

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
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
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
