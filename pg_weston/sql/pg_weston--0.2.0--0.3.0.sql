-- pg_weston 0.2.0 -> 0.3.0 (each change under a header naming its task).
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- loader provenance through the extension
-- The loader writes etl_run only through the extension's functions: a skipped run and a
-- run's stats get functions of their own. New functions, so PUBLIC's default EXECUTE is
-- revoked as privileges.sql does on a fresh install (the same initial privileges);
-- migrations/0007 grants them to dba and etl_writer.
CREATE  FUNCTION "weston_etl_skip"(
	"job_name" TEXT, /* & str */
	"reason" TEXT /* Option < & str > */
) RETURNS bigint /* i64 */
VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'weston_etl_skip_wrapper';

CREATE  FUNCTION "weston_etl_set_stats"(
	"run_id" bigint, /* i64 */
	"stats" jsonb /* pgrx :: JsonB */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'weston_etl_set_stats_wrapper';

COMMENT ON FUNCTION weston_etl_skip(text, text) IS 'Records a skipped etl_run (another run held the lock), finished now, with the reason; returns its run_id.';
COMMENT ON FUNCTION weston_etl_set_stats(bigint, jsonb) IS 'Replaces a running etl_run''s stats (what the run did, per provider and table).';
REVOKE EXECUTE ON FUNCTION weston_etl_skip(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION weston_etl_set_stats(bigint, jsonb) FROM PUBLIC;

-- hardening
-- A bound on the months one weston_ensure_partitions() call may create, set by dba in the
-- configuration (the loader cannot change it). Appended, as a fresh install has it last.
ALTER TABLE @extschema@.weston_partition_config
    ADD COLUMN max_partitions_per_call int NOT NULL DEFAULT 120
               CONSTRAINT weston_partition_config_max_partitions_positive CHECK (max_partitions_per_call >= 1);

-- Rotation takes its own advisory key (the loader keeps 0x...0001), names the session that
-- holds it when it skips, and retires months before it creates any (lock order: parent,
-- then DEFAULT, as readers take them). CREATE OR REPLACE keeps privileges and comment.
-- The switch to the table owner's identity (owner.rs) is in the library: nothing to do here.
CREATE OR REPLACE FUNCTION @extschema@.weston_rotate_partitions() RETURNS jsonb
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
        INSERT INTO @extschema@.weston_maintenance_log (started_at, finished_at, status, details)
        VALUES (started, pg_catalog.clock_timestamp(), 'skipped', result);
        RETURN result;
    END IF;

    FOR cfg IN
        SELECT c.parent::oid AS parent_oid, c.retention, c.archive_schema
          FROM @extschema@.weston_partition_config c ORDER BY c.parent::oid
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
    INSERT INTO @extschema@.weston_maintenance_log (started_at, finished_at, status, details)
    VALUES (started, pg_catalog.clock_timestamp(), run_status, result);
    RETURN result;
END
$rotate$;
-- end of hardening
