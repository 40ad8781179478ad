//! Partition lifecycle on the real cluster: weston_rotate_partitions, its plan, retention,
//! locks, concurrency, time zones, search_path, health, and pg_cron running it.

use std::time::{Duration, Instant};

use sqlx::types::JsonValue;
use sqlx::{Executor, PgPool, Row};
use weston_tests::TestDb;

/// `<prefix>_pYYYY_MM` of the month `offset` months from the current New York month.
async fn month_name(pool: &PgPool, prefix: &str, offset: i32) -> String {
    sqlx::query_scalar(
        "SELECT $1 || '_p' || to_char(date_trunc('month', (now() AT TIME ZONE 'America/New_York')::date::timestamp)
                + make_interval(months => $2), 'YYYY_MM')",
    )
    .bind(prefix)
    .bind(offset)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn rotate(pool: &PgPool) -> JsonValue {
    sqlx::query_scalar("SELECT weston_rotate_partitions()")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn exists(pool: &PgPool, relation: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(relation)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn is_partition_of(pool: &PgPool, child: &str, parent: &str) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1) AND inhparent = to_regclass($2))",
    )
    .bind(child)
    .bind(parent)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A database with the extension and a small table shaped like prices_daily.
async fn bars_db(tag: &str, premake: i32) -> TestDb {
    let db = TestDb::empty(tag).await;
    sqlx::raw_sql(&format!(
        "CREATE EXTENSION pg_weston;
         CREATE TABLE bars (symbol text NOT NULL, d date NOT NULL, v int, PRIMARY KEY (symbol, d)) PARTITION BY RANGE (d);
         CREATE INDEX bars_v_idx ON bars (v);
         CREATE TABLE bars_default PARTITION OF bars DEFAULT;
         INSERT INTO weston_partition_config (parent, premake_months) VALUES ('bars', {premake});"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    db
}

fn months(list: &JsonValue) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["month"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn rotation_premakes_from_the_calendar_drains_default_and_logs() {
    let db = TestDb::migrated("rotate_basic").await;
    let furthest = month_name(&db.pool, "prices_daily", 3).await;
    sqlx::raw_sql(&format!(
        "DROP TABLE {furthest};
         INSERT INTO securities (symbol) VALUES ('AAPL');
         INSERT INTO etl_run (job_name) VALUES ('test');
         INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
         VALUES ('AAPL', '2019-05-31', 10, 11, 9, 10, 100, 'mock', 1),
                ('AAPL', '2097-01-02', 10, 11, 9, 10, 100, 'mock', 1);"
    ))
    .execute(&db.pool)
    .await
    .unwrap();

    let result = rotate(&db.pool).await;
    assert_eq!(result["status"], "succeeded", "{result}");
    let table = &result["tables"][0];
    assert_eq!(table["parent"], "weston_data.prices_daily");
    let created = months(&table["created"]);
    assert_eq!(created.len(), 2, "{result}");
    assert_eq!(created[0], "2019-05-01");
    assert_eq!(table["created"][0]["rows_moved"], 1);
    assert!(is_partition_of(&db.pool, &furthest, "prices_daily").await);
    // The far-future row waits in DEFAULT and is reported, without 850 empty months.
    assert_eq!(months(&table["stray_default"]), ["2097-01-01"]);
    assert!(!exists(&db.pool, "prices_daily_p2097_01").await);
    let in_may: i64 = sqlx::query_scalar("SELECT count(*) FROM prices_daily_p2019_05")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(in_may, 1);

    let health = sqlx::query("SELECT * FROM weston_partition_health()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(health.get::<i64, _>("default_rows"), 1);
    assert_eq!(health.get::<i32, _>("missing_future_months"), 0);
    assert_eq!(
        health
            .get::<chrono::NaiveDate, _>("oldest_month")
            .to_string(),
        "2019-05-01"
    );
    assert_eq!(
        health
            .get::<Option<String>, _>("last_rotation_status")
            .as_deref(),
        Some("succeeded")
    );

    // The second run has nothing to do; the old 2019 month does not trigger years of catch-up.
    let again = rotate(&db.pool).await;
    assert_eq!(again["status"], "succeeded");
    assert!(months(&again["tables"][0]["created"]).is_empty(), "{again}");
    let logged: Vec<(String, JsonValue)> =
        sqlx::query_as("SELECT status, details FROM weston_maintenance_log ORDER BY log_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0].1, result, "the log keeps what the run returned");

    // Health sees a missing future month.
    sqlx::raw_sql(&format!("DROP TABLE {furthest}"))
        .execute(&db.pool)
        .await
        .unwrap();
    let missing: i32 =
        sqlx::query_scalar("SELECT missing_future_months FROM weston_partition_health()")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(missing, 1);
}

#[tokio::test]
async fn an_empty_table_gets_its_months_from_the_calendar() {
    let db = bars_db("rotate_empty", 2).await;
    let result = rotate(&db.pool).await;
    assert_eq!(result["status"], "succeeded", "{result}");
    for offset in 0..=2 {
        let name = month_name(&db.pool, "bars", offset).await;
        assert!(is_partition_of(&db.pool, &name, "bars").await, "{name}");
    }
    assert!(!exists(&db.pool, &month_name(&db.pool, "bars", 3).await).await);
    // Children carry the parent's primary key and indexes.
    let indexes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass")
            .bind(month_name(&db.pool, "bars", 0).await)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(indexes, 2);
}

#[tokio::test]
async fn one_failing_month_does_not_stop_the_others() {
    let db = bars_db("rotate_isolated", 0).await;
    sqlx::raw_sql(
        "INSERT INTO bars VALUES ('A', '2025-05-05', 1), ('A', '2025-06-06', 2);
         CREATE TABLE bars_p2025_05 (squatter int);",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let result = rotate(&db.pool).await;
    assert_eq!(result["status"], "partial", "{result}");
    let table = &result["tables"][0];
    assert!(months(&table["created"]).contains(&"2025-06-01".to_string()));
    let failed = &table["failed"][0];
    assert_eq!(failed["month"], "2025-05-01");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("exists but is not a partition"),
        "{failed}"
    );
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM bars_default), (SELECT count(*) FROM bars_p2025_06)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(counts, (1, 1), "May's row waits in DEFAULT; June's moved");
    let status: String = sqlx::query_scalar(
        "SELECT status FROM weston_maintenance_log ORDER BY log_id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(status, "partial");
}

#[tokio::test]
async fn retention_detaches_drops_or_archives_only_whole_old_months() {
    let db = TestDb::empty("retention").await;
    sqlx::raw_sql("CREATE EXTENSION pg_weston")
        .execute(&db.pool)
        .await
        .unwrap();
    for mode in ["detach", "drop", "archive"] {
        sqlx::raw_sql(&format!(
            "CREATE TABLE r_{mode} (d date NOT NULL, v int) PARTITION BY RANGE (d);
             CREATE TABLE r_{mode}_default PARTITION OF r_{mode} DEFAULT;
             INSERT INTO weston_partition_config (parent, premake_months, retain_months, retention, archive_schema)
             VALUES ('r_{mode}', 1, 12, '{mode}', {});
             SELECT weston_ensure_partitions(
                 ((now() AT TIME ZONE 'America/New_York')::date - interval '30 months')::date,
                 (now() AT TIME ZONE 'America/New_York')::date, 'r_{mode}');",
            if mode == "archive" { "'old_bars'" } else { "NULL" }
        ))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let result = rotate(&db.pool).await;
    assert_eq!(result["status"], "succeeded", "{result}");
    let cutoff: chrono::NaiveDate = sqlx::query_scalar(
        "SELECT ((now() AT TIME ZONE 'America/New_York')::date - interval '12 months')::date",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    for mode in ["detach", "drop", "archive"] {
        // Months ending on or before the cutoff are gone from the parent; the one containing
        // the cutoff (and every later one) stays.
        let kept_oldest = month_name(&db.pool, &format!("r_{mode}"), -12).await;
        assert!(
            is_partition_of(&db.pool, &kept_oldest, &format!("r_{mode}")).await,
            "{mode}"
        );
        let retired = month_name(&db.pool, &format!("r_{mode}"), -13).await;
        assert!(
            !is_partition_of(&db.pool, &retired, &format!("r_{mode}")).await,
            "{mode}"
        );
        let table = result["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["parent"] == format!("public.r_{mode}"))
            .unwrap();
        let retired_months = months(&table["retired"]);
        assert_eq!(retired_months.len(), 18, "{mode}: {table}");
        for m in &retired_months {
            let first: chrono::NaiveDate = m.parse().unwrap();
            assert!(first < cutoff, "{mode}: {m} is not older than {cutoff}");
        }
        match mode {
            "detach" => assert!(exists(&db.pool, &format!("public.{retired}")).await),
            "drop" => assert!(!exists(&db.pool, &format!("public.{retired}")).await),
            _ => {
                assert!(!exists(&db.pool, &format!("public.{retired}")).await);
                assert!(exists(&db.pool, &format!("old_bars.{retired}")).await);
            }
        }
    }
    // A second run retires nothing more and does not recreate what it retired.
    let again = rotate(&db.pool).await;
    for table in again["tables"].as_array().unwrap() {
        assert!(
            months(&table["retired"]).is_empty() && months(&table["created"]).is_empty(),
            "{again}"
        );
    }
}

#[tokio::test]
async fn retention_never_takes_the_last_partition() {
    let db = bars_db("retention_last", 0).await;
    // Only ancient months, and today's cannot be made (the name is taken).
    let current = month_name(&db.pool, "bars", 0).await;
    sqlx::raw_sql(&format!(
        "SELECT weston_ensure_partitions('2001-01-01', '2001-02-28', 'bars');
         CREATE TABLE {current} (squatter int);
         UPDATE weston_partition_config SET retain_months = 1, retention = 'drop';"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let result = rotate(&db.pool).await;
    assert_eq!(result["status"], "partial", "{result}");
    assert_eq!(months(&result["tables"][0]["retired"]), ["2001-01-01"]);
    assert!(is_partition_of(&db.pool, "bars_p2001_02", "bars").await);
}

#[tokio::test]
async fn a_second_concurrent_rotation_returns_at_once_and_logs_skipped() {
    let db = bars_db("concurrent", 1).await;
    let mut first = db.pool.acquire().await.unwrap();
    first.execute("BEGIN").await.unwrap();
    let working: JsonValue = sqlx::query_scalar("SELECT weston_rotate_partitions()")
        .fetch_one(&mut *first)
        .await
        .unwrap();
    assert_eq!(working["status"], "succeeded");
    let started = Instant::now();
    let second = rotate(&db.pool).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the second run waited"
    );
    assert_eq!(second["status"], "skipped", "{second}");
    first.execute("COMMIT").await.unwrap();
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM weston_maintenance_log ORDER BY log_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(statuses, ["succeeded", "skipped"]);
}

#[tokio::test]
async fn a_reader_holding_its_lock_is_not_blocked_beyond_the_lock_timeout() {
    let db = bars_db("reader_lock", 1).await;
    rotate(&db.pool).await;
    let next = month_name(&db.pool, "bars", 1).await;
    sqlx::raw_sql(&format!(
        "DROP TABLE {next}; INSERT INTO bars VALUES ('A', '2024-02-29', 1);"
    ))
    .execute(&db.pool)
    .await
    .unwrap();

    // A long reader: it holds ACCESS SHARE on bars and every partition, DEFAULT included.
    let mut reader = db.pool.acquire().await.unwrap();
    reader
        .execute("BEGIN; LOCK TABLE bars IN ACCESS SHARE MODE")
        .await
        .unwrap();

    // Meanwhile another reader keeps querying; it must never wait much longer than one lock_timeout.
    let pool = db.pool.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_reader = stop.clone();
    let other_reader = tokio::spawn(async move {
        let mut longest = Duration::ZERO;
        while !stop_reader.load(std::sync::atomic::Ordering::Relaxed) {
            let t = Instant::now();
            sqlx::query("SELECT count(*) FROM bars")
                .execute(&pool)
                .await
                .unwrap();
            longest = longest.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        longest
    });

    let mut rotator = db.pool.acquire().await.unwrap();
    rotator
        .execute("SET weston.lock_timeout = '300ms'; SET weston.lock_attempts = 3")
        .await
        .unwrap();
    let started = Instant::now();
    let result: JsonValue = sqlx::query_scalar("SELECT weston_rotate_partitions()")
        .fetch_one(&mut *rotator)
        .await
        .unwrap();
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let longest_blocked = other_reader.await.unwrap();

    assert_eq!(result["status"], "failed", "{result}");
    let failed = result["tables"][0]["failed"].as_array().unwrap();
    assert_eq!(
        failed.len(),
        2,
        "the leap-day month and the pre-made month: {result}"
    );
    for step in failed {
        assert_eq!(step["sqlstate"], "55P03", "{step}");
        assert_eq!(step["attempts"], 3, "{step}");
    }
    assert!(took < Duration::from_secs(6), "rotation took {took:?}");
    // No half-made partition: the tables built before ATTACH were rolled back.
    assert!(!exists(&db.pool, &next).await);
    assert!(!exists(&db.pool, "bars_p2024_02").await);
    assert!(
        longest_blocked < Duration::from_millis(300 + 700),
        "a reader waited {longest_blocked:?}"
    );
    // The lock_timeout of the caller's session is left as it was.
    let lock_timeout: String = sqlx::query_scalar("SHOW lock_timeout")
        .fetch_one(&mut *rotator)
        .await
        .unwrap();
    assert_eq!(lock_timeout, "0");

    reader.execute("COMMIT").await.unwrap();
    let result = rotate(&db.pool).await;
    assert_eq!(result["status"], "succeeded", "{result}");
    assert!(is_partition_of(&db.pool, &next, "bars").await);
    assert!(is_partition_of(&db.pool, "bars_p2024_02", "bars").await);
}

#[tokio::test]
async fn the_session_time_zone_changes_nothing() {
    let db = bars_db("time_zones", 2).await;
    let mut conn = db.pool.acquire().await.unwrap();
    let today_in_new_york: String =
        sqlx::query_scalar("SELECT ((now() AT TIME ZONE 'America/New_York')::date)::text")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let mut plans = Vec::new();
    for zone in [
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "Asia/Tokyo",
        "UTC",
        "America/New_York",
    ] {
        conn.execute(format!("SET TimeZone = '{zone}'").as_str())
            .await
            .unwrap();
        let result: JsonValue = sqlx::query_scalar("SELECT weston_rotate_partitions()")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(result["today"], today_in_new_york.as_str(), "{zone}");
        // Dec -> Jan and a leap February, planned on fixed dates, must not move with the zone.
        let plan: Vec<(String, chrono::NaiveDate, String)> = sqlx::query_as(
            "SELECT action, month, reason FROM weston_partition_plan('bars', '2027-12-31')
              WHERE month >= '2027-12-01' ORDER BY month",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        plans.push(plan);
    }
    let shown: Vec<String> = plans[0].iter().map(|(_, m, _)| m.to_string()).collect();
    assert_eq!(shown, ["2027-12-01", "2028-01-01", "2028-02-01"]);
    assert!(plans.iter().all(|p| *p == plans[0]));
    let leap: String =
        sqlx::query_scalar("SELECT weston_create_partition('2028-02-29', 'bars')::text")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(leap, "bars_p2028_02");
    let bound: String = sqlx::query_scalar(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE oid = 'bars_p2028_02'::regclass",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(bound, "FOR VALUES FROM ('2028-02-01') TO ('2028-03-01')");
    // Exactly three months exist from the calendar, whichever zone rotated first.
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'bars'::regclass")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(
        count,
        1 + 3 + 1,
        "DEFAULT, the calendar months and Feb 2028"
    );
}

#[tokio::test]
async fn a_hostile_search_path_is_ignored() {
    let db = bars_db("hostile_path", 1).await;
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::raw_sql(
        "CREATE SCHEMA evil;
         CREATE TABLE evil.calls (what text);
         CREATE TABLE evil.weston_partition_config (parent regclass, premake_months int, retain_months int, retention text, archive_schema name);
         INSERT INTO evil.weston_partition_config VALUES ('bars', 50, 1, 'drop', NULL);
         CREATE TABLE evil.weston_maintenance_log (log_id bigint, started_at timestamptz, finished_at timestamptz, status text, details jsonb);
         CREATE TABLE evil.bars (d date) PARTITION BY RANGE (d);
         CREATE FUNCTION evil.weston_create_partition(date, regclass) RETURNS regclass LANGUAGE sql
             AS $$ INSERT INTO evil.calls VALUES ('create') RETURNING 'evil.bars'::regclass $$;
         CREATE FUNCTION evil.weston_partition_plan(regclass, date) RETURNS TABLE(action text, month date, relation text, default_rows bigint, reason text)
             LANGUAGE sql AS $$ INSERT INTO evil.calls VALUES ('plan') RETURNING 'drop', date '2001-01-01', 'public.bars', 0::bigint, 'x' $$;
         CREATE FUNCTION evil.weston_etl_reap(interval DEFAULT '6 hours') RETURNS int LANGUAGE sql
             AS $$ INSERT INTO evil.calls VALUES ('reap') RETURNING 0 $$;
         CREATE FUNCTION evil.pg_is_in_recovery() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
         CREATE FUNCTION public.weston_create_partition(date, oid) RETURNS regclass LANGUAGE sql
             AS $$ INSERT INTO evil.calls VALUES ('public overload') RETURNING 'evil.bars'::regclass $$;
         SET search_path = evil, public;",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    let result: JsonValue = sqlx::query_scalar("SELECT weston.weston_rotate_partitions()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(months(&result["tables"][0]["created"]).len(), 2, "{result}");
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM evil.calls")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(calls, 0, "a decoy was called");
    let logged: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM weston.weston_maintenance_log), (SELECT count(*) FROM evil.weston_maintenance_log)",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(logged, (1, 0));
    let health: i32 = sqlx::query_scalar(
        "SELECT missing_future_months FROM weston.weston_partition_health('public.bars')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(health, 0);
}

#[tokio::test]
async fn new_children_get_the_parents_owner_and_privileges() {
    let db = bars_db("owner_acl", 1).await;
    let owner = format!("{}_owner", db.name);
    let reader = format!("{}_reader", db.name);
    sqlx::raw_sql(&format!(
        "CREATE ROLE {owner}; CREATE ROLE {reader};
         ALTER TABLE bars OWNER TO {owner};
         -- Months are made as the parent's owner, who moves DEFAULT's rows.
         ALTER TABLE bars_default OWNER TO {owner};
         GRANT CREATE ON SCHEMA public TO {owner};
         GRANT SELECT ON bars TO {reader};"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let result = rotate(&db.pool).await;
    assert_eq!(result["status"], "succeeded", "{result}");
    let child = month_name(&db.pool, "bars", 1).await;
    let row: (String, bool, bool) = sqlx::query_as(
        "SELECT pg_get_userbyid(relowner)::text, has_table_privilege($2, c.oid, 'SELECT'), has_table_privilege($2, c.oid, 'INSERT')
           FROM pg_class c WHERE c.oid = $1::regclass",
    )
    .bind(&child)
    .bind(&reader)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(row, (owner.clone(), true, false));
    sqlx::raw_sql(&format!(
        "REASSIGN OWNED BY {owner} TO postgres; DROP OWNED BY {owner}; REVOKE CREATE ON SCHEMA public FROM {owner}; DROP OWNED BY {reader}; DROP ROLE {owner}; DROP ROLE {reader};"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn rotation_reaps_stale_etl_runs() {
    // Extension without the loader's schema: nothing to reap, and rotation still succeeds.
    let bare = bars_db("etl_reap_bare", 0).await;
    let result = rotate(&bare.pool).await;
    assert!(result["etl_reap"]["skipped"].is_string(), "{result}");
    assert_eq!(result["status"], "succeeded", "{result}");

    // With the loader's schema, a run whose heartbeat is older than six hours is abandoned.
    let db = TestDb::migrated("etl_reap").await;
    sqlx::raw_sql(
        "INSERT INTO etl_run (job_name, heartbeat_at) VALUES ('stale', now() - interval '7 hours');
         INSERT INTO etl_run (job_name) VALUES ('alive');",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let result = rotate(&db.pool).await;
    assert_eq!(result["etl_reap"]["abandoned"], 1, "{result}");
    let statuses: Vec<(String, String)> =
        sqlx::query_as("SELECT job_name, status FROM etl_run ORDER BY run_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        statuses,
        [
            ("stale".to_string(), "abandoned".to_string()),
            ("alive".to_string(), "running".to_string())
        ]
    );
}

/// pg_cron lives in the database named by cron.database_name (weston_cron on the test
/// cluster): migrate it, schedule an every-minute run, and wait for pg_cron to do it.
#[tokio::test]
async fn pg_cron_runs_the_rotation_and_the_partitions_appear() {
    let url = std::env::var("WESTON_TEST_CRON_URL")
        .unwrap_or_else(|_| weston_tests::admin_url().replace("/postgres", "/weston_cron"));
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    weston_loader::migrate::migrate(&pool).await.unwrap();
    let nightly: (String, String) = sqlx::query_as(
        "SELECT schedule, command FROM cron.job WHERE jobname = 'weston_rotate_partitions' AND database = current_database()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        nightly,
        (
            "15 6 * * *".into(),
            "SELECT weston.weston_rotate_partitions()".into()
        )
    );

    // This pool has the database's default search_path: the tables are named in weston_data.
    let furthest = month_name(&pool, "weston_data.prices_daily", 3).await;
    sqlx::raw_sql(&format!("DROP TABLE IF EXISTS {furthest}"))
        .execute(&pool)
        .await
        .unwrap();
    let job: i64 = sqlx::query_scalar(
        "SELECT cron.schedule_in_database('weston_rotate_test', '* * * * *', 'SELECT weston.weston_rotate_partitions()', current_database())",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(130);
    let mut outcome = None;
    while Instant::now() < deadline {
        outcome = sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT status, return_message FROM cron.job_run_details WHERE jobid = $1 AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1",
        )
        .bind(job)
        .fetch_optional(&pool)
        .await
        .unwrap();
        if outcome.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    sqlx::query("SELECT cron.unschedule($1)")
        .bind(job)
        .execute(&pool)
        .await
        .unwrap();
    let (status, message) = outcome.expect("pg_cron did not run the job within 130 s");
    assert_eq!(status, "succeeded", "{message:?}");
    assert!(is_partition_of(&pool, &furthest, "weston_data.prices_daily").await);
    let logged: String = sqlx::query_scalar(
        "SELECT status FROM weston_maintenance_log ORDER BY log_id DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(logged, "succeeded");
}

/// A real streaming standby of the test cluster: rotation there is a no-op that says so.
#[tokio::test]
async fn on_a_standby_rotation_is_a_no_op() {
    let db = bars_db("standby", 1).await;
    let port = std::env::var("WESTON_TEST_STANDBY_PGPORT").unwrap_or_else(|_| "25533".into());
    let data = std::env::var("WESTON_TEST_STANDBY_PGDATA")
        .unwrap_or_else(|_| "/tmp/weston-test-cluster/standby".into());
    let bindir = weston_tests::pg_config("bindir");
    let primary: sqlx::postgres::PgConnectOptions = weston_tests::admin_url().parse().unwrap();
    let as_postgres = |args: &[&str]| {
        let out = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(args)
            .output()
            .expect("runuser");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let pg_ctl = format!("{bindir}/pg_ctl");
    let _ = std::process::Command::new("runuser")
        .args([
            "-u",
            "postgres",
            "--",
            &pg_ctl,
            "-D",
            &data,
            "-m",
            "immediate",
            "stop",
        ])
        .output();
    let _ = std::fs::remove_dir_all(&data);
    as_postgres(&[
        &format!("{bindir}/pg_basebackup"),
        "-h",
        "127.0.0.1",
        "-p",
        &primary.get_port().to_string(),
        "-U",
        "postgres",
        "-D",
        &data,
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
    ]);
    let log = format!("{data}/standby.log");
    as_postgres(&[
        &pg_ctl,
        "-D",
        &data,
        "-l",
        &log,
        "-w",
        "-t",
        "60",
        "-o",
        &format!("-p {port} -c cron.database_name=postgres"),
        "start",
    ]);
    let standby_url = format!("postgres://postgres@127.0.0.1:{port}/{}", db.name);
    let outcome = async {
        let standby = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&standby_url)
            .await
            .unwrap();
        let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&standby)
            .await
            .unwrap();
        let result: JsonValue = sqlx::query_scalar("SELECT weston.weston_rotate_partitions()")
            .fetch_one(&standby)
            .await
            .unwrap();
        let health: i64 =
            sqlx::query_scalar("SELECT default_rows FROM weston.weston_partition_health('bars')")
                .fetch_one(&standby)
                .await
                .unwrap();
        standby.close().await;
        (in_recovery, result, health)
    }
    .await;
    as_postgres(&[&pg_ctl, "-D", &data, "-m", "fast", "-w", "stop"]);
    let _ = std::fs::remove_dir_all(&data);
    let (in_recovery, result, health) = outcome;
    assert!(in_recovery);
    assert_eq!(result["status"], "standby", "{result}");
    assert_eq!(health, 0);
    // Nothing was made on the primary by that call either.
    let partitions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'bars'::regclass")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(partitions, 1, "only DEFAULT");
}

/// A run that both creates months and retires one must never kill a
/// reader. Readers are started every 20 ms from before the run until after it; each holds
/// ACCESS SHARE on the parent and then on every partition, DEFAULT included. With months
/// created first (ATTACH keeps DEFAULT locked) and a month retired after (DETACH waits for
/// the parent), a reader holding the parent and waiting for DEFAULT closed a cycle:
/// `deadlock detected`. Prints the readers' waits (max, median) for the closing note.
#[tokio::test]
async fn a_rotation_that_creates_and_retires_never_kills_a_reader() {
    let db = bars_db("rotate_readers", 2).await;
    rotate(&db.pool).await;
    let (next, after_next) = (
        month_name(&db.pool, "bars", 1).await,
        month_name(&db.pool, "bars", 2).await,
    );
    // Two old months to retire; the next two to create again, the second with 280 000 rows
    // waiting in DEFAULT, so the run holds DEFAULT (ATTACH of the first) while it moves them.
    sqlx::raw_sql(&format!(
        "SELECT weston_ensure_partitions(((now() AT TIME ZONE 'America/New_York')::date - interval '8 months')::date,
                                         ((now() AT TIME ZONE 'America/New_York')::date - interval '7 months')::date, 'bars');
         DROP TABLE {next}; DROP TABLE {after_next};
         INSERT INTO bars SELECT 'S' || (i % 10000), (date_trunc('month', (now() AT TIME ZONE 'America/New_York')::date::timestamp)
                                  + interval '2 months')::date + i / 10000, i
           FROM generate_series(0, 279999) i;
         UPDATE weston_partition_config SET retain_months = 3, retention = 'detach';
         ANALYZE bars;"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let plan: Vec<String> =
        sqlx::query_scalar("SELECT action FROM weston_partition_plan('bars', (now() AT TIME ZONE 'America/New_York')::date)")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(
        plan.iter().filter(|a| *a == "create").count() >= 2 && plan.iter().any(|a| a == "detach"),
        "the run creates months (the gap after the old ones too) and retires: {plan:?}"
    );

    let readers_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(40)
        .connect(&db.url)
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spawner = {
        let (pool, stop) = (readers_pool.clone(), stop.clone());
        tokio::spawn(async move {
            let mut readers = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let pool = pool.clone();
                readers.push(tokio::spawn(async move {
                    let mut conn = pool.acquire().await.unwrap();
                    conn.execute("SET lock_timeout = '20s'").await.unwrap();
                    let started = Instant::now();
                    let result =
                        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM bars WHERE v = 1")
                            .fetch_one(&mut *conn)
                            .await;
                    (
                        started.elapsed(),
                        result.map(|_| ()).map_err(|e| e.to_string()),
                    )
                }));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let mut outcomes = Vec::new();
            for reader in readers {
                outcomes.push(reader.await.unwrap());
            }
            outcomes
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let result = rotate(&db.pool).await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let outcomes = spawner.await.unwrap();

    let failed: Vec<&String> = outcomes
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    assert!(failed.is_empty(), "readers died: {failed:?}");
    assert_eq!(result["status"], "succeeded", "{result}");
    let table = &result["tables"][0];
    assert!(months(&table["created"]).len() >= 2, "{result}");
    assert!(!months(&table["retired"]).is_empty(), "{result}");
    assert!(is_partition_of(&db.pool, &after_next, "bars").await);

    let mut waits: Vec<Duration> = outcomes.iter().map(|(w, _)| *w).collect();
    waits.sort();
    eprintln!(
        "rotation (create {} months, 280000 rows moved, retire {}) took {took:?}; {} readers: max {:?}, median {:?}",
        months(&table["created"]).len(),
        months(&table["retired"]).len(),
        waits.len(),
        waits.last().unwrap(),
        waits[waits.len() / 2]
    );
    readers_pool.close().await;
}

/// Rotation and the loader hold different advisory keys, so neither turns the other away.
/// A rotation runs while a session holds the loader's key; a session holding rotation's own key
/// makes it skip, and the skip names that session.
#[tokio::test]
async fn rotation_has_its_own_lock_key_and_names_who_holds_it() {
    let db = bars_db("rotation_key", 1).await;
    let mut loader = db.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(0x7765_7374_6f6e_0001_i64)
        .execute(&mut *loader)
        .await
        .unwrap();
    let result = rotate(&db.pool).await;
    assert_eq!(
        result["status"], "succeeded",
        "not skipped while a load runs: {result}"
    );
    sqlx::query("SELECT pg_advisory_unlock_all()")
        .execute(&mut *loader)
        .await
        .unwrap();

    let mut holder = db.pool.acquire().await.unwrap();
    holder
        .execute("SET application_name = 'rotation-key-holder'; BEGIN")
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(0x7765_7374_6f6e_0002_i64)
        .execute(&mut *holder)
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    let skipped = rotate(&db.pool).await;
    holder.execute("COMMIT").await.unwrap();
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    let reason = skipped["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("pid {pid}")) && reason.contains("rotation-key-holder"),
        "{reason}"
    );
}
