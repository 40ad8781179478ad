//! The nightly load on the real cluster: provenance functions, the loader binary's runs
//! (idempotence, interruption, concurrency, a dropped connection), and validation.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::Row;
use weston_loader::calendar;
use weston_loader::model::{Batch, DailyBar, Dividend, ProviderName, SecurityInfo, Sourced, Split};
use weston_loader::provenance::RUN_LOCK_KEY;
use weston_loader::{store, validate};
use weston_tests::{loader_command, output_text, partitions_like, TestDb};

fn loader(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = loader_command(db, args);
    cmd.envs(env.iter().copied());
    cmd
}

fn run_loader(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    loader(db, args, env).output().expect("run weston-loader")
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

async fn scalar_i64(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

/// Rows of every loader table whose current version was written after `xid`.
async fn tuples_written_since(db: &TestDb, xid: i64) -> i64 {
    scalar_i64(
        db,
        &format!(
            "SELECT (SELECT count(*) FROM prices_daily WHERE xmin::text::bigint > {xid})
                  + (SELECT count(*) FROM splits WHERE xmin::text::bigint > {xid})
                  + (SELECT count(*) FROM dividends WHERE xmin::text::bigint > {xid})
                  + (SELECT count(*) FROM securities WHERE xmin::text::bigint > {xid})"
        ),
    )
    .await
}

async fn rows_of_run(db: &TestDb, run_id: i64) -> i64 {
    scalar_i64(
        db,
        &format!(
            "SELECT (SELECT count(*) FROM prices_daily WHERE run_id = {run_id})
                  + (SELECT count(*) FROM splits WHERE run_id = {run_id})
                  + (SELECT count(*) FROM dividends WHERE run_id = {run_id})
                  + (SELECT count(*) FROM securities WHERE run_id = {run_id})"
        ),
    )
    .await
}

#[tokio::test]
async fn etl_functions_keep_provenance() {
    let db = TestDb::migrated("etl_fns").await;
    // The loader's functions, as the loader's login calls them.
    let loader = db.loader_pool();
    let run_id: i64 =
        sqlx::query_scalar("SELECT weston_etl_begin('test job', '2024-01-01', '2024-01-31')")
            .fetch_one(&loader)
            .await
            .unwrap();
    // Visible while it runs, from another session.
    let status: String = sqlx::query_scalar("SELECT status FROM etl_run WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(&loader)
        .await
        .unwrap();
    assert_eq!(status, "running");

    // Progress moves with the transaction it is part of.
    let mut tx = loader.begin().await.unwrap();
    sqlx::query("SELECT weston_etl_progress($1, 100)")
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = loader.begin().await.unwrap();
    sqlx::query("SELECT weston_etl_progress($1, 7)")
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = sqlx::query(
        "SELECT rows_loaded, heartbeat_at > started_at AS beat FROM etl_run WHERE run_id = $1",
    )
    .bind(run_id)
    .fetch_one(&loader)
    .await
    .unwrap();
    assert_eq!(row.get::<i64, _>("rows_loaded"), 7);
    assert!(
        row.get::<bool, _>("beat"),
        "progress refreshes the heartbeat"
    );

    // A failure is recorded after its batch rolled back.
    let mut tx = loader.begin().await.unwrap();
    sqlx::query("SELECT weston_etl_progress($1, 50)")
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    sqlx::query("SELECT weston_etl_fail($1, 'batch AAA..ZZZ: disk full')")
        .bind(run_id)
        .execute(&loader)
        .await
        .unwrap();
    let row = sqlx::query("SELECT status, error, rows_loaded, finished_at IS NOT NULL AS ended FROM etl_run WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(&loader)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("status"), "failed");
    assert_eq!(row.get::<String, _>("error"), "batch AAA..ZZZ: disk full");
    assert_eq!(row.get::<i64, _>("rows_loaded"), 7);
    assert!(row.get::<bool, _>("ended"));

    // Wrong state and unknown runs are refused by name.
    let err = sqlx::query("SELECT weston_etl_finish($1)")
        .bind(run_id)
        .execute(&loader)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "cannot finish etl_run {run_id}: it is failed, not running"
        )),
        "{err}"
    );
    let err = sqlx::query("SELECT weston_etl_progress(999999, 1)")
        .execute(&loader)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("etl_run 999999 does not exist"),
        "{err}"
    );
    let err = sqlx::query("SELECT weston_etl_begin('x', '2024-02-01', '2024-01-01')")
        .execute(&loader)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("window_start 2024-02-01 is after window_end 2024-01-01"),
        "{err}"
    );
    let err = sqlx::query("SELECT weston_etl_fail($1, '')")
        .bind(run_id)
        .execute(&loader)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs an error text"), "{err}");

    // Finish; reap only touches running runs whose heartbeat is stale.
    let ok = scalar_i64(&db, "SELECT weston_etl_begin('ok', NULL, NULL)").await;
    sqlx::query("SELECT weston_etl_finish($1)")
        .bind(ok)
        .execute(&loader)
        .await
        .unwrap();
    let stale = scalar_i64(&db, "SELECT weston_etl_begin('stale', NULL, NULL)").await;
    let fresh = scalar_i64(&db, "SELECT weston_etl_begin('fresh', NULL, NULL)").await;
    sqlx::query("UPDATE etl_run SET heartbeat_at = now() - interval '7 hours' WHERE run_id = $1")
        .bind(stale)
        .execute(&loader)
        .await
        .unwrap();
    let reaped: i32 = sqlx::query_scalar("SELECT weston_etl_reap()")
        .fetch_one(&loader)
        .await
        .unwrap();
    assert_eq!(reaped, 1);
    let statuses: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT run_id, status, error FROM etl_run WHERE run_id IN ($1, $2, $3) ORDER BY run_id",
    )
    .bind(ok)
    .bind(stale)
    .bind(fresh)
    .fetch_all(&loader)
    .await
    .unwrap();
    assert_eq!(statuses[0].1, "succeeded");
    assert_eq!(statuses[1].1, "abandoned");
    assert!(
        statuses[1]
            .2
            .as_deref()
            .unwrap()
            .contains("no heartbeat since"),
        "{statuses:?}"
    );
    assert_eq!(statuses[2].1, "running");
    // The search_path of the caller does not matter.
    let mut conn = loader.acquire().await.unwrap();
    sqlx::query("SET search_path TO pg_temp")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("SELECT weston.weston_etl_finish($1)")
        .bind(fresh)
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_full_mock_run_then_the_same_run_again_changes_nothing() {
    let db = TestDb::migrated("full_run").await;
    let env = [("WESTON_MOCK_SYMBOLS", "30"), ("WESTON_BATCH_SYMBOLS", "7")];
    let first = run_loader(&db, &["run", "--provider", "mock"], &env);
    assert_eq!(first.status.code(), Some(0), "{}", output_text(&first));

    let run = sqlx::query(
        "SELECT run_id, status, rows_loaded, window_start, window_end, stats FROM etl_run",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let run_id: i64 = run.get("run_id");
    assert_eq!(run.get::<String, _>("status"), "succeeded");
    let today = calendar::new_york_today(Utc::now());
    let session = calendar::last_completed_session(Utc::now());
    assert_eq!(
        run.get::<NaiveDate, _>("window_start"),
        today - chrono::Duration::days(180)
    );
    assert_eq!(run.get::<NaiveDate, _>("window_end"), session);
    // rows_loaded is exactly what was committed, and every row names its provider and run.
    assert_eq!(
        run.get::<i64, _>("rows_loaded"),
        rows_of_run(&db, run_id).await
    );
    let sessions =
        calendar::trading_days(today - chrono::Duration::days(180), session).len() as i64;
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM securities").await, 30);
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM prices_daily").await,
        30 * sessions
    );
    assert_eq!(
        scalar_i64(
            &db,
            &format!(
                "SELECT count(*) FROM prices_daily WHERE provider = 'mock' AND run_id = {run_id}"
            )
        )
        .await,
        30 * sessions
    );
    assert!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM splits WHERE numerator < denominator"
        )
        .await
            >= 1,
        "a reverse split"
    );
    assert!(scalar_i64(&db, "SELECT count(*) FROM dividends").await >= 3);
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM prices_daily_default").await,
        0
    );
    let stats: serde_json::Value = run.get("stats");
    assert_eq!(stats["written"]["prices_daily"], 30 * sessions);
    let mock = &stats["providers"]["mock"];
    assert_eq!(
        mock["http_calls"], 0,
        "the mock makes no HTTP calls: {mock}"
    );
    assert_eq!(
        mock["rows_supplied"].as_i64().unwrap(),
        stats["written"]["prices_daily"].as_i64().unwrap()
            + stats["written"]["splits"].as_i64().unwrap()
            + stats["written"]["dividends"].as_i64().unwrap()
            + stats["written"]["securities"].as_i64().unwrap(),
        "every row supplied by the mock was written on the first run: {stats}"
    );

    // Same default window again, and the whole window forced with --from/--to.
    let xid = scalar_i64(&db, "SELECT pg_current_xact_id()::text::bigint").await;
    let updated_before =
        scalar_i64(&db, "SELECT count(DISTINCT updated_at) FROM prices_daily").await;
    let max_updated: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT max(updated_at) FROM prices_daily")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let again = run_loader(&db, &["run", "--provider", "mock"], &env);
    assert_eq!(again.status.code(), Some(0), "{}", output_text(&again));
    let from = (today - chrono::Duration::days(180)).to_string();
    let forced = run_loader(
        &db,
        &[
            "run",
            "--provider",
            "mock",
            "--from",
            &from,
            "--to",
            &session.to_string(),
        ],
        &env,
    );
    assert_eq!(forced.status.code(), Some(0), "{}", output_text(&forced));
    assert_eq!(
        tuples_written_since(&db, xid).await,
        0,
        "an unchanged re-run wrote tuples"
    );
    assert_eq!(
        scalar_i64(&db, "SELECT count(DISTINCT updated_at) FROM prices_daily").await,
        updated_before
    );
    let max_after: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT max(updated_at) FROM prices_daily")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(max_after, max_updated);
    let reruns: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, rows_loaded FROM etl_run WHERE run_id > $1 ORDER BY run_id")
            .bind(run_id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        reruns,
        [("succeeded".to_string(), 0), ("succeeded".to_string(), 0)]
    );

    // status: human and JSON.
    let status = run_loader(&db, &["status", "--json"], &[]);
    assert_eq!(status.status.code(), Some(0), "{}", output_text(&status));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["freshness"]["universe"], 30);
    assert_eq!(json["freshness"]["up_to_date"], 30);
    assert_eq!(
        json["recent_runs"][2]["rows_loaded"],
        rows_of_run(&db, run_id).await
    );
    assert_eq!(json["recent_runs"].as_array().unwrap().len(), 3);
    let human = run_loader(&db, &["status"], &[]);
    let out = String::from_utf8_lossy(&human.stdout);
    assert!(out.contains("freshness: 30 of 30 symbols"), "{out}");
    assert!(out.contains("succeeded"), "{out}");
}

#[tokio::test]
async fn backfill_into_months_without_partitions_and_mock_never_overwrites_real_rows() {
    let db = TestDb::migrated("backfill").await;
    // A real provider's rows, written by hand as a loader would.
    sqlx::raw_sql(
        "INSERT INTO etl_run (job_name, status, finished_at) VALUES ('fmp load', 'succeeded', now());
         INSERT INTO securities (symbol, name, provider, run_id) VALUES ('MOCK0002', 'Real Name Inc', 'fmp', 1);
         SELECT weston_ensure_partitions('2019-02-01', '2019-02-28');
         INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
              VALUES ('MOCK0002', '2019-02-04', 1, 2, 0.5, 1.5, 10, 'fmp', 1);",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let out = run_loader(
        &db,
        &[
            "run",
            "--provider",
            "mock",
            "--symbols",
            "mock0001,MOCK0002",
            "--from",
            "2019-01-01",
            "--to",
            "2019-03-31",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let months = partitions_like(&db.pool, "prices_daily", "prices_daily_p2019%").await;
    assert_eq!(
        months,
        [
            "prices_daily_p2019_01",
            "prices_daily_p2019_02",
            "prices_daily_p2019_03"
        ]
    );
    let sessions = calendar::trading_days(d(2019, 1, 1), d(2019, 3, 31)).len() as i64;
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM prices_daily_p2019_01 WHERE symbol = 'MOCK0001'"
        )
        .await,
        21
    );
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM prices_daily WHERE symbol = 'MOCK0001'"
        )
        .await,
        sessions
    );
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM prices_daily WHERE symbol = 'MOCK0002'"
        )
        .await,
        sessions
    );
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM prices_daily_default").await,
        0
    );
    // The real rows stayed.
    let real = sqlx::query("SELECT provider, close, run_id FROM prices_daily WHERE symbol = 'MOCK0002' AND date = '2019-02-04'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(real.get::<String, _>("provider"), "fmp");
    assert_eq!(real.get::<Decimal, _>("close"), Decimal::new(15, 1));
    let name: String = sqlx::query_scalar("SELECT name FROM securities WHERE symbol = 'MOCK0002'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(name, "Real Name Inc");
}

#[tokio::test]
async fn configuration_errors_exit_2_without_a_run() {
    let db = TestDb::migrated("config").await;
    let out = run_loader(&db, &["run"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--provider mock"),
        "{}",
        output_text(&out)
    );
    let out = run_loader(&db, &["run", "--provider", "fmp"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FMP_API_KEY"),
        "{}",
        output_text(&out)
    );
    let out = run_loader(
        &db,
        &[
            "run",
            "--provider",
            "mock",
            "--from",
            "2024-02-01",
            "--to",
            "2024-01-01",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let out = run_loader(
        &db,
        &["run", "--provider", "mock", "--to", "2999-01-01"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let out = run_loader(
        &db,
        &["run", "--provider", "mock"],
        &[(weston_loader::cli::METADATA_REFRESH_ENV, "monthly")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("WESTON_METADATA_REFRESH_DAYS=\"monthly\""),
        "{}",
        output_text(&out)
    );
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM etl_run").await, 0);
}

/// A run big enough to be caught in the middle: 300 symbols x about 4 years, batches of 10.
fn start_long_run(db: &TestDb) -> Child {
    loader(
        db,
        &["run", "--provider", "mock", "--from", "2022-01-01"],
        &[
            ("WESTON_MOCK_SYMBOLS", "300"),
            ("WESTON_BATCH_SYMBOLS", "10"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn weston-loader")
}

/// Waits until the running run has committed at least one batch; returns its run_id.
async fn wait_for_progress(db: &TestDb, child: &mut Child) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the loader ended before it was interrupted: {status}");
        }
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT run_id, rows_loaded FROM etl_run WHERE status = 'running'")
                .fetch_optional(&db.pool)
                .await
                .unwrap();
        if let Some((run_id, rows)) = row {
            if rows > 0 {
                return run_id;
            }
        }
        assert!(Instant::now() < deadline, "no progress within two minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_concurrent_run_is_skipped_and_a_killed_run_leaves_whole_batches_and_is_reaped() {
    let db = TestDb::migrated("killed").await;
    let mut child = start_long_run(&db);
    let run_id = wait_for_progress(&db, &mut child).await;

    // A second loader while the first holds the lock: exit 75 and a `skipped` row.
    let second = run_loader(
        &db,
        &["run", "--provider", "mock", "--symbols", "MOCK0001"],
        &[],
    );
    assert_eq!(second.status.code(), Some(75), "{}", output_text(&second));
    let skipped: (String, Option<String>, bool) = sqlx::query_as(
        "SELECT status, error, finished_at IS NOT NULL FROM etl_run WHERE run_id <> $1 ORDER BY run_id DESC LIMIT 1",
    )
    .bind(run_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(skipped.0, "skipped");
    assert!(
        skipped.1.as_deref().unwrap().contains("holds the run lock"),
        "{skipped:?}"
    );
    assert!(skipped.2);

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // Only whole batches: every symbol the run touched has all its sessions, the symbols
    // come in whole batches of 10 (in universe order), and rows_loaded is what is stored.
    let sessions =
        calendar::trading_days(d(2022, 1, 1), calendar::last_completed_session(Utc::now())).len()
            as i64;
    let per_symbol: Vec<(String, i64)> = sqlx::query_as(
        "SELECT symbol, count(*) FROM prices_daily WHERE run_id = $1 GROUP BY symbol ORDER BY symbol",
    )
    .bind(run_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(!per_symbol.is_empty());
    assert_eq!(
        per_symbol.len() % 10,
        0,
        "whole batches of 10 symbols: {}",
        per_symbol.len()
    );
    assert!(per_symbol.len() < 300, "the run was interrupted");
    for (i, (symbol, n)) in per_symbol.iter().enumerate() {
        assert_eq!(symbol, &format!("MOCK{:04}", i + 1));
        assert_eq!(*n, sessions, "{symbol}");
    }
    let rows_loaded: i64 = sqlx::query_scalar("SELECT rows_loaded FROM etl_run WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows_loaded, rows_of_run(&db, run_id).await);

    // The next run reaps it (waiting for the server to notice the dead client and free the lock).
    let deadline = Instant::now() + Duration::from_secs(30);
    let next = loop {
        let out = run_loader(
            &db,
            &["run", "--provider", "mock", "--symbols", "MOCK0001"],
            &[],
        );
        if out.status.code() != Some(75) || Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(next.status.code(), Some(0), "{}", output_text(&next));
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status, error FROM etl_run WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "abandoned");
    assert!(error.unwrap().contains("no heartbeat since"));
}

#[tokio::test]
async fn a_run_whose_connection_drops_fails_with_exit_1_and_says_why() {
    let db = TestDb::migrated("dropped").await;
    let mut child = start_long_run(&db);
    let run_id = wait_for_progress(&db, &mut child).await;
    let terminated: bool = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND ((classid::bigint << 32) | objid::bigint) = $1",
    )
    .bind(RUN_LOCK_KEY)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(terminated);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let (status, error, rows_loaded): (String, Option<String>, i64) =
        sqlx::query_as("SELECT status, error, rows_loaded FROM etl_run WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    let error = error.unwrap();
    assert!(
        error.contains("writing the batch")
            || error.contains("terminat")
            || error.contains("connection"),
        "{error}"
    );
    assert_eq!(rows_loaded, rows_of_run(&db, run_id).await);
}

fn bar(symbol: &str, date: NaiveDate, o: i64, h: i64, l: i64, c: i64, v: i64) -> DailyBar {
    DailyBar {
        symbol: symbol.into(),
        date,
        open: Decimal::from(o),
        high: Decimal::from(h),
        low: Decimal::from(l),
        close: Decimal::from(c),
        volume: Decimal::from(v),
        vwap: None,
    }
}

#[tokio::test]
async fn each_validation_rule_rejects_its_rows_and_the_rest_of_the_batch_is_written() {
    let db = TestDb::migrated("validation").await;
    // The loader's validation and store, in-process, as the loader's login.
    let loader = db.loader_pool();
    sqlx::query("SELECT weston_ensure_partitions('2024-01-01', '2024-01-31')")
        .execute(&loader)
        .await
        .unwrap();
    let run_id: i64 =
        sqlx::query_scalar("SELECT weston_etl_begin('validation', '2024-01-01', '2024-01-31')")
            .fetch_one(&loader)
            .await
            .unwrap();
    let today = d(2024, 1, 20);
    let good = bar("GOOD", d(2024, 1, 2), 10, 12, 9, 11, 1000);
    fn mock<T>(row: T) -> Sourced<T> {
        Sourced {
            provider: ProviderName::Mock,
            row,
        }
    }
    let described = |symbol: &str| {
        mock(SecurityInfo {
            symbol: symbol.into(),
            name: Some(format!("{symbol} Co\twith tab")),
            ..Default::default()
        })
    };
    let bars = vec![
        good.clone(),
        bar("GOOD", d(2024, 1, 3), 10, 9, 11, 10, 1000), // high below low
        bar("GOOD", d(2024, 1, 4), -1, 12, 9, 11, 1000), // negative price
        bar("GOOD", d(2024, 1, 5), 10, 12, 9, 11, -5),   // negative volume
        bar("GOOD", d(2024, 1, 22), 10, 12, 9, 11, 1000), // future
        bar("GOOD", d(2024, 1, 8), 10, 12, 9, 11, 1000), // duplicate key, both copies
        bar("GOOD", d(2024, 1, 8), 10, 12, 9, 11, 1001),
        bar("GOOD", d(2024, 1, 9), 13, 12, 9, 11, 1000), // open above high
        bar("OTHER", d(2024, 1, 2), 5, 6, 4, 5, 10),
    ];
    let split = |date, n: i64, den: i64| Split {
        symbol: "GOOD".into(),
        date,
        numerator: Decimal::from(n),
        denominator: Decimal::from(den),
    };
    let splits = vec![
        split(d(2024, 1, 10), 4, 1),
        split(d(2024, 1, 11), 0, 1),
        split(d(2024, 1, 12), 1, -8),
    ];
    let div = |date, currency: &str| Dividend {
        symbol: "GOOD".into(),
        ex_date: date,
        amount: Decimal::new(25, 2),
        currency: currency.into(),
    };
    let dividends = vec![
        div(d(2024, 1, 16), "USD"),
        div(d(2024, 1, 17), "usd"),
        div(d(2024, 1, 18), "US"),
    ];
    let mut batch = Batch {
        described: vec![
            described("GOOD"),
            described("OTHER"),
            described("bad symbol"),
        ],
        undescribed: vec![],
        bars: bars.into_iter().map(mock).collect(),
        splits: splits.into_iter().map(mock).collect(),
        dividends: dividends.into_iter().map(mock).collect(),
    };

    let rejections = validate::validate(&mut batch, today);
    let mut rules: Vec<String> = rejections
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.date.map_or("-".into(), |d| d.to_string()),
                r.rule
            )
        })
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "- symbol format",
            "2024-01-03 high below low",
            "2024-01-04 price not positive",
            "2024-01-05 negative volume",
            "2024-01-08 duplicate key in payload",
            "2024-01-08 duplicate key in payload",
            "2024-01-09 open or close outside low..high",
            "2024-01-11 split side not positive",
            "2024-01-12 split side not positive",
            "2024-01-17 currency format",
            "2024-01-18 currency format",
            "2024-01-22 date in the future",
        ]
    );
    let message = rejections
        .iter()
        .find(|r| r.rule == "high below low")
        .unwrap()
        .to_string();
    assert_eq!(message, "GOOD 2024-01-03: high below low (high 9 < low 11)");

    let mut conn = loader.acquire().await.unwrap();
    store::prepare_staging(&mut conn).await.unwrap();
    let written = store::write_batch(&mut conn, run_id, &batch).await.unwrap();
    assert_eq!(
        (
            written.prices_daily,
            written.splits,
            written.dividends,
            written.securities
        ),
        (2, 1, 1, 2)
    );
    let dates: Vec<(String, NaiveDate)> =
        sqlx::query_as("SELECT symbol, date FROM prices_daily ORDER BY 1, 2")
            .fetch_all(&loader)
            .await
            .unwrap();
    assert_eq!(
        dates,
        [
            ("GOOD".to_string(), d(2024, 1, 2)),
            ("OTHER".to_string(), d(2024, 1, 2))
        ]
    );
    let name: String = sqlx::query_scalar("SELECT name FROM securities WHERE symbol = 'GOOD'")
        .fetch_one(&loader)
        .await
        .unwrap();
    assert_eq!(name, "GOOD Co\twith tab");
    assert_eq!(
        scalar_i64(
            &db,
            &format!("SELECT rows_loaded FROM etl_run WHERE run_id = {run_id}")
        )
        .await,
        6
    );
}

#[tokio::test]
async fn stale_runs_are_reaped_nightly_under_pg_cron() {
    let Ok(url) = std::env::var("WESTON_TEST_CRON_URL") else {
        panic!("WESTON_TEST_CRON_URL is not set: scripts/test.sh sets it to the pg_cron database");
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    weston_loader::migrate::migrate(&pool).await.unwrap();
    let (schedule, command): (String, String) =
        sqlx::query_as("SELECT schedule, command FROM cron.job WHERE jobname = 'weston_etl_reap'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(schedule, "10 6 * * *");
    // Schema-qualified since migration 0008: the job owner's search_path decides nothing.
    assert_eq!(command, "SELECT weston.weston_etl_reap()");
}
