//! The loader's hardening: a lock message naming the session that really holds the
//! lock, windows bounded in both directions, bad settings refused before anything is
//! recorded, a refused database reported at once, and one bad corporate action rejected
//! alone while the rest of the universe-wide listing is kept.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fake_providers::{Reply, Seen, TestServer};
use sqlx::{ConnectOptions, Connection};
use weston_loader::provenance::RUN_LOCK_KEY;
use weston_tests::{output_text, run_loader as run, TestDb};

async fn runs(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM etl_run")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_skipped_run_names_the_session_holding_the_lock() {
    let db = TestDb::migrated("lock_holder").await;
    let options: sqlx::postgres::PgConnectOptions = db.url.parse().unwrap();
    let mut holder = options
        .application_name("someone else's job")
        .connect()
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(RUN_LOCK_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    let out = run(
        &db,
        &["run", "--provider", "mock", "--symbols", "MOCK0001"],
        &[],
    );
    assert_eq!(out.status.code(), Some(75), "{}", output_text(&out));
    let error: String = sqlx::query_scalar(
        "SELECT error FROM etl_run WHERE status = 'skipped' ORDER BY run_id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    for part in [
        "holds the run lock".to_string(),
        format!("backend pid {pid}"),
        "application_name \"someone else's job\"".to_string(),
        "connected since".to_string(),
    ] {
        assert!(error.contains(&part), "{part:?} missing from {error:?}");
        assert!(output_text(&out).contains(&part), "{}", output_text(&out));
    }
    holder.close().await.unwrap();

    // The loader's own sessions say who they are.
    let out = run(
        &db,
        &[
            "run",
            "--provider",
            "mock",
            "--symbols",
            "MOCK0001",
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-05",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

/// Arguments, environment, and the text the refusal must contain.
type RefusedCase<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[tokio::test]
async fn windows_and_settings_out_of_bounds_exit_2_and_record_nothing() {
    let db = TestDb::migrated("bounds").await;
    let cases: &[RefusedCase] = &[
        (
            &["--from", "2099-12-01"],
            &[],
            "after the last completed session",
        ),
        (&["--from", "1900-01-01"], &[], "WESTON_EARLIEST_DATE"),
        (
            &["--to", "2999-01-01"],
            &[],
            "after the last completed session",
        ),
        (
            &[],
            &[("WESTON_HTTP_MAX_RETRIES", "1000")],
            "WESTON_HTTP_MAX_RETRIES=\"1000\": must be from 0 to 10",
        ),
        (
            &[],
            &[("WESTON_HTTP_TIMEOUT_SECS", "86400")],
            "must be from 1 to 300",
        ),
        (
            &[],
            &[("WESTON_HTTP_MAX_RETRY_AFTER_SECS", "999999")],
            "must be from 0 to 3600",
        ),
        (
            &[],
            &[("WESTON_POLYGON_BASE_URL", "ftp://127.0.0.1/")],
            "http or https",
        ),
        (
            &[],
            &[("WESTON_FMP_BASE_URL", "file:///etc/passwd")],
            "http or https",
        ),
    ];
    for (args, env, expected) in cases {
        let mut argv = vec!["run", "--provider", "mock"];
        argv.extend(args.iter());
        let out = run(&db, &argv, env);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{argv:?} {env:?}: {}",
            output_text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "{argv:?} {env:?}: expected {expected:?} in {}",
            output_text(&out)
        );
    }
    assert_eq!(runs(&db).await, 0, "a refused request was recorded");
}

#[tokio::test]
async fn a_refused_database_port_is_reported_at_once() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(weston_tests::loader_bin())
        .args(["status"])
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{port}/weston"),
        )
        .env_remove("WESTON_DB_CONNECT_TIMEOUT_SECS")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Not a speed target: a guard far below the pool's 30-second wait.
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            panic!("still waiting for a refused port after 10 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot connect to the database"),
        "{}",
        output_text(&out)
    );
}

const POLYGON_KEY: &str = "poly-k3y";

/// Epoch milliseconds of midnight New York (EDT) of an August 2020 day.
fn polygon_t(day: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(2020, 8, day)
        .unwrap()
        .and_hms_opt(4, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

/// Polygon for AAPL and MSFT; the splits listing holds one event with `split_from` 0.
fn polygon(seen: &Seen) -> Reply {
    if seen.param("apiKey") != Some(POLYGON_KEY) {
        return Reply::status(401, r#"{"status":"ERROR","error":"Unknown API Key"}"#);
    }
    let path = seen.path.as_str();
    for symbol in ["AAPL", "MSFT"] {
        if path.starts_with(&format!("/v2/aggs/ticker/{symbol}/range/1/day/")) {
            let bars: Vec<String> = [27, 28, 31]
                .iter()
                .map(|day| {
                    format!(
                        r#"{{"v":1000,"o":100,"c":101,"h":102,"l":99,"t":{}}}"#,
                        polygon_t(*day)
                    )
                })
                .collect();
            return Reply::json(format!(
                r#"{{"ticker":"{symbol}","adjusted":false,"status":"OK","results":[{}]}}"#,
                bars.join(",")
            ));
        }
        if path == format!("/v3/reference/tickers/{symbol}") {
            return Reply::json(format!(
                r#"{{"status":"OK","results":{{"ticker":"{symbol}","name":"{symbol} Inc."}}}}"#
            ));
        }
    }
    let listing = |rows: &[(&str, &str)]| {
        let rows: Vec<&str> = rows
            .iter()
            .filter(|(ticker, _)| seen.param("ticker").is_none_or(|t| t == *ticker))
            .map(|(_, row)| *row)
            .collect();
        Reply::json(format!(
            r#"{{"status":"OK","results":[{}]}}"#,
            rows.join(",")
        ))
    };
    match path {
        "/v3/reference/splits" => listing(&[
            (
                "AAPL",
                r#"{"execution_date":"2020-08-31","split_from":1,"split_to":4,"ticker":"AAPL"}"#,
            ),
            (
                "MSFT",
                r#"{"execution_date":"2020-08-28","split_from":0,"split_to":2,"ticker":"MSFT"}"#,
            ),
        ]),
        "/v3/reference/dividends" | "/v3/reference/tickers" => listing(&[]),
        _ => Reply::status(404, r#"{"status":"NOT_FOUND","message":"Not found."}"#),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_split_in_the_listing_is_rejected_alone_and_the_listing_kept() {
    let db = TestDb::migrated("bad_split").await;
    let server = TestServer::start(polygon).await;
    let out = run(
        &db,
        &[
            "run",
            "--provider",
            "polygon",
            "--symbols",
            "AAPL,MSFT",
            "--from",
            "2020-08-27",
            "--to",
            "2020-08-31",
        ],
        &[
            ("POLYGON_API_KEY", POLYGON_KEY),
            ("WESTON_POLYGON_BASE_URL", server.base_url.as_str()),
            ("WESTON_POLYGON_RATE_LIMIT", "50/s"),
            ("WESTON_HTTP_MAX_RETRIES", "1"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let splits: Vec<(String, String)> =
        sqlx::query_as("SELECT symbol, date::text FROM splits ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(splits, [("AAPL".to_string(), "2020-08-31".to_string())]);
    let bars: i64 = sqlx::query_scalar("SELECT count(*) FROM prices_daily")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(bars, 6, "both symbols' bars are kept");
    let (status, stats): (String, serde_json::Value) =
        sqlx::query_as("SELECT status, stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "succeeded");
    assert_eq!(stats["rejected"], 1, "{stats}");
    let rejection = stats["rejections"][0].as_str().unwrap();
    assert!(
        rejection.starts_with("MSFT 2020-08-28: split side not positive"),
        "{rejection}"
    );
    let per_symbol: Vec<Seen> = server
        .requests()
        .into_iter()
        .filter(|s| s.path.starts_with("/v3/reference/") && s.param("ticker").is_some())
        .collect();
    assert!(
        per_symbol.is_empty(),
        "the listing was replaced by per-symbol calls: {per_symbol:?}"
    );
}
