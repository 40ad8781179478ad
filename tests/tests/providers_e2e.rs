//! The real `weston-loader run` against local HTTP servers speaking FMP's and Polygon's
//! documented formats, on a real cluster: raw values stored with the provider that supplied
//! them, fallback when one provider fails or refuses the key, both failing, idempotent
//! re-runs, per-provider stats in `etl_run.stats` and `status`. Rate limits and retries are
//! scaled down through the loader's environment knobs. The tests run on a multi-threaded
//! runtime: the loader is awaited synchronously while the servers answer on other threads.

use std::process::Output;

use fake_providers::{fixture, Reply, Seen, TestServer};
use rust_decimal::Decimal;
use weston_tests::{output_text, run_loader, TestDb};

const FMP_KEY: &str = "fmp-k3y";
const POLYGON_KEY: &str = "poly-k3y";
const WINDOW: [&str; 6] = [
    "--symbols",
    "AAPL",
    "--from",
    "2020-08-27",
    "--to",
    "2020-08-31",
];

/// FMP `/stable` as documented, for a client holding FMP_KEY.
fn fmp_ok(seen: &Seen) -> Reply {
    fake_providers::fmp::fmp_api(FMP_KEY, seen)
}

fn fmp_down(_: &Seen) -> Reply {
    Reply::status(503, "<html>Service Unavailable</html>")
}

/// Epoch milliseconds of midnight New York (EDT, UTC-4) of an August 2020 day, as Polygon
/// stamps daily aggregates.
fn polygon_t(day: u32) -> i64 {
    let midnight_utc = chrono::NaiveDate::from_ymd_opt(2020, 8, day)
        .unwrap()
        .and_hms_opt(4, 0, 0)
        .unwrap()
        .and_utc();
    midnight_utc.timestamp_millis()
}

/// Polygon aggregates: raw values with `adjusted=false`, split-adjusted ones otherwise.
fn polygon_ok(seen: &Seen) -> Reply {
    if seen.param("apiKey") != Some(POLYGON_KEY) {
        return Reply::status(
            401,
            r#"{"status":"ERROR","request_id":"x","error":"Unknown API Key"}"#,
        );
    }
    let path = seen.path.as_str();
    if path.starts_with("/v2/aggs/ticker/AAPL/range/1/day/") {
        let raw = seen.param("adjusted") == Some("false");
        let bar = |day: u32, o: &str, h: &str, l: &str, c: &str, v: &str| {
            format!(
                r#"{{"v":{v},"o":{o},"c":{c},"h":{h},"l":{l},"t":{},"n":1}}"#,
                polygon_t(day)
            )
        };
        let results = if raw {
            [
                bar(27, "508.57", "509.94", "495.33", "500.04", "38888096"),
                bar(28, "504.05", "505.77", "498.31", "499.23", "46907479"),
                bar(31, "127.58", "131", "126", "129.04", "225702700"),
            ]
        } else {
            [
                bar(27, "127.1425", "127.485", "123.8325", "125.01", "155552384"),
                bar(
                    28,
                    "126.0125",
                    "126.4425",
                    "124.5775",
                    "124.81",
                    "187629916",
                ),
                bar(31, "127.58", "131", "126", "129.04", "225702700"),
            ]
        };
        return Reply::json(format!(
            r#"{{"ticker":"AAPL","queryCount":3,"resultsCount":3,"adjusted":{adjusted},"results":[{}],"status":"OK","request_id":"r","count":3}}"#,
            results.join(","),
            adjusted = !raw
        ));
    }
    match path {
        "/v3/reference/splits" => Reply::json(fixture("polygon_splits_AAPL.json")),
        "/v3/reference/dividends" => Reply::json(fixture("polygon_dividends_AAPL.json")),
        "/v3/reference/tickers/AAPL" => Reply::json(fixture("polygon_ticker_AAPL.json")),
        // No ticker was delisted in the window (detection's listing).
        "/v3/reference/tickers" => Reply::json(r#"{"results":[],"status":"OK","request_id":"r"}"#),
        _ => Reply::status(
            404,
            r#"{"status":"NOT_FOUND","request_id":"r","message":"Not found."}"#,
        ),
    }
}

/// Both providers configured, pointing at the given servers.
fn with_servers<'a>(fmp: &'a TestServer, polygon: &'a TestServer) -> Vec<(&'a str, &'a str)> {
    vec![
        ("FMP_API_KEY", FMP_KEY),
        ("POLYGON_API_KEY", POLYGON_KEY),
        ("WESTON_FMP_BASE_URL", fmp.base_url.as_str()),
        ("WESTON_POLYGON_BASE_URL", polygon.base_url.as_str()),
    ]
}

fn run(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    // Scaled down so the suite stays fast; the limiter and retries still run.
    let fast = [
        ("WESTON_FMP_RATE_LIMIT", "50/s"),
        ("WESTON_POLYGON_RATE_LIMIT", "50/s"),
        ("WESTON_HTTP_MAX_RETRIES", "1"),
        ("WESTON_HTTP_TIMEOUT_SECS", "5"),
    ];
    run_loader(db, args, &[&fast[..], env].concat())
}

fn run_args(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec!["run"];
    args.extend(WINDOW);
    args.extend(extra);
    args
}

async fn bars(db: &TestDb) -> Vec<(String, Decimal, String)> {
    sqlx::query_as(
        "SELECT date::text, close, provider FROM prices_daily WHERE symbol = 'AAPL' ORDER BY date",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// (status, error, stats) of the newest run.
async fn last_run(db: &TestDb) -> (String, Option<String>, serde_json::Value) {
    sqlx::query_as("SELECT status, error, stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

fn provider_stat(stats: &serde_json::Value, provider: &str, field: &str) -> u64 {
    stats["providers"][provider][field]
        .as_u64()
        .unwrap_or_else(|| panic!("stats.providers.{provider}.{field} missing: {stats}"))
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fmp_run_stores_raw_values_and_a_rerun_writes_nothing() {
    let db = TestDb::migrated("e2e_fmp").await;
    let fmp = TestServer::start(fmp_ok).await;
    let polygon = TestServer::start(polygon_ok).await;
    let mut env = with_servers(&fmp, &polygon);
    // The chain's fallback is what this test proves: the nightly reconciliation, which asks
    // the second provider on purpose, is tests/tests/reconcile.rs's.
    env.push(("WESTON_RECONCILE_SAMPLE", "0"));

    let out = run(&db, &run_args(&[]), &env);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        bars(&db).await,
        vec![
            ("2020-08-27".into(), dec("500.04"), "fmp".into()),
            ("2020-08-28".into(), dec("499.23"), "fmp".into()),
            ("2020-08-31".into(), dec("129.04"), "fmp".into()),
        ],
        "raw closes, not the split-adjusted 124.81"
    );
    let (split_provider, numerator): (String, Decimal) = sqlx::query_as(
        "SELECT provider, numerator FROM splits WHERE symbol = 'AAPL' AND date = '2020-08-31'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((split_provider.as_str(), numerator), ("fmp", dec("4")));
    let (name, provider): (Option<String>, String) =
        sqlx::query_as("SELECT name, provider FROM securities WHERE symbol = 'AAPL'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(name.is_some(), "FMP's profile names AAPL");
    assert_eq!(provider, "fmp");

    let (status, _, stats) = last_run(&db).await;
    assert_eq!(status, "succeeded", "{stats}");
    assert!(provider_stat(&stats, "fmp", "http_calls") >= 4, "{stats}");
    assert!(
        provider_stat(&stats, "fmp", "rows_supplied") >= 3,
        "{stats}"
    );
    assert_eq!(
        provider_stat(&stats, "polygon", "http_calls"),
        0,
        "FMP had everything: Polygon is never asked: {stats}"
    );
    assert!(polygon.requests().is_empty());
    assert!(
        fmp.requests()
            .iter()
            .all(|r| r.path != "/stable/historical-price-eod/full"),
        "the adjusted endpoint is never read"
    );

    // The same window again: nothing changes, not even a tuple version.
    let versions = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT date::text, xmin::text FROM prices_daily WHERE symbol = 'AAPL' ORDER BY date",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            rows
        }
    };
    let before = versions(&db).await;
    let out = run(&db, &run_args(&[]), &env);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(versions(&db).await, before, "no new tuple on a re-run");
    let (status, _, stats) = last_run(&db).await;
    assert_eq!(status, "succeeded");
    assert_eq!(stats["written"]["prices_daily"], 0, "{stats}");
    assert_eq!(stats["written"]["splits"], 0, "{stats}");
    assert_eq!(stats["written"]["dividends"], 0, "{stats}");
    assert_eq!(stats["written"]["securities"], 0, "{stats}");
    let rows_loaded: i64 =
        sqlx::query_scalar("SELECT rows_loaded FROM etl_run ORDER BY run_id DESC LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(rows_loaded, 0);

    // `status` shows rows and HTTP calls per provider, human and JSON.
    let out = run(&db, &["status", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first_run = status["recent_runs"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let fmp_use = first_run["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "fmp")
        .cloned()
        .unwrap_or_else(|| panic!("no fmp entry in {first_run}"));
    assert!(fmp_use["http_calls"].as_u64().unwrap() >= 4, "{fmp_use}");
    assert!(fmp_use["rows_supplied"].as_u64().unwrap() >= 3, "{fmp_use}");
    let out = run(&db, &["status"], &[]);
    let human = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        human
            .lines()
            .any(|l| l.contains("fmp") && l.contains("HTTP calls")),
        "{human}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fmp_failing_with_5xx_is_filled_by_polygon() {
    let db = TestDb::migrated("e2e_fmp_down").await;
    let fmp = TestServer::start(fmp_down).await;
    let polygon = TestServer::start(polygon_ok).await;

    let out = run(&db, &run_args(&[]), &with_servers(&fmp, &polygon));
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        bars(&db).await,
        vec![
            ("2020-08-27".into(), dec("500.04"), "polygon".into()),
            ("2020-08-28".into(), dec("499.23"), "polygon".into()),
            ("2020-08-31".into(), dec("129.04"), "polygon".into()),
        ]
    );
    let split_provider: String =
        sqlx::query_scalar("SELECT provider FROM splits WHERE symbol = 'AAPL'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(split_provider, "polygon");
    let (status, _, stats) = last_run(&db).await;
    assert_eq!(status, "succeeded", "{stats}");
    assert!(provider_stat(&stats, "fmp", "http_calls") >= 2, "{stats}");
    assert!(provider_stat(&stats, "fmp", "retries") >= 1, "{stats}");
    assert_eq!(provider_stat(&stats, "fmp", "rows_supplied"), 0, "{stats}");
    assert!(
        provider_stat(&stats, "polygon", "http_calls") >= 1,
        "{stats}"
    );
    assert!(
        provider_stat(&stats, "polygon", "rows_supplied") >= 3,
        "{stats}"
    );
    assert!(fmp.requests().len() as u64 == provider_stat(&stats, "fmp", "http_calls"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_drops_that_provider_and_says_so() {
    let db = TestDb::migrated("e2e_bad_key").await;
    let fmp = TestServer::start(fmp_ok).await;
    let polygon = TestServer::start(polygon_ok).await;
    let mut env = with_servers(&fmp, &polygon);
    env.push(("FMP_API_KEY", "revoked"));

    let out = run(&db, &run_args(&[]), &env);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        log.contains("fmp: not authorised") && log.contains("the next provider takes over"),
        "the log says FMP was dropped: {log}"
    );
    assert!(!log.contains("revoked"), "the key stays out of the log");
    assert!(bars(&db).await.iter().all(|(_, _, p)| p == "polygon"));
    assert_eq!(bars(&db).await.len(), 3);
    let (_, _, stats) = last_run(&db).await;
    assert!(
        stats["providers"]["fmp"]["disabled"].is_string(),
        "the drop reason is recorded: {stats}"
    );

    // The other way round: Polygon first by --provider, its key refused, FMP serves.
    let db = TestDb::migrated("e2e_bad_key_polygon").await;
    let mut env = with_servers(&fmp, &polygon);
    env.push(("POLYGON_API_KEY", "revoked"));
    let out = run(&db, &run_args(&["--provider", "polygon,fmp"]), &env);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(log.contains("polygon: not authorised"), "{log}");
    assert!(bars(&db).await.iter().all(|(_, _, p)| p == "fmp"));
    assert_eq!(bars(&db).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_providers_failing_fails_the_run_and_writes_nothing() {
    let db = TestDb::migrated("e2e_both_down").await;
    let fmp = TestServer::start(fmp_down).await;
    let polygon = TestServer::start(polygon_ok).await;
    let mut env = with_servers(&fmp, &polygon);
    env.push(("POLYGON_API_KEY", "revoked"));

    let out = run(&db, &run_args(&[]), &env);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let (status, error, stats) = last_run(&db).await;
    assert_eq!(status, "failed");
    let error = error.expect("the failure is recorded");
    assert!(
        error.contains("AAPL") && error.contains("fmp") && error.contains("polygon"),
        "the error names the symbol and both providers: {error}"
    );
    assert!(provider_stat(&stats, "fmp", "http_calls") >= 1, "{stats}");
    assert!(
        provider_stat(&stats, "polygon", "http_calls") >= 1,
        "{stats}"
    );
    for table in ["prices_daily", "splits", "dividends", "securities"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table}: nothing of the failed batch is written");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_run_never_overwrites_fmp_rows() {
    let db = TestDb::migrated("e2e_mock_over_fmp").await;
    let fmp = TestServer::start(fmp_ok).await;
    let polygon = TestServer::start(polygon_ok).await;
    let out = run(&db, &run_args(&[]), &with_servers(&fmp, &polygon));
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let before = bars(&db).await;

    let out = run(&db, &run_args(&["--provider", "mock"]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (_, _, stats) = last_run(&db).await;
    assert!(
        provider_stat(&stats, "mock", "rows_supplied") >= 3,
        "the mock did offer bars for the window: {stats}"
    );
    assert_eq!(bars(&db).await, before, "the fmp rows stand");
    assert_eq!(stats["written"]["prices_daily"], 0, "{stats}");
}

/// Stored metadata is asked again in turn (`WESTON_METADATA_REFRESH_DAYS`; 1: every night,
/// 0: never), and a provider that lacks a field never blanks what another one stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_metadata_is_refreshed_in_turn_and_never_blanked() {
    use std::sync::{Arc, Mutex};
    let db = TestDb::migrated("e2e_metadata_refresh").await;
    let profile = Arc::new(Mutex::new(
        r#"[{"symbol": "AAPL", "companyName": "Apple Inc.", "exchange": "NASDAQ", "sector": "Technology", "industry": "Consumer Electronics", "ipoDate": "1980-12-12"}]"#
            .to_string(),
    ));
    let answer = Arc::clone(&profile);
    let fmp = TestServer::start(move |seen: &Seen| {
        if seen.path == "/stable/profile" && seen.param("apikey") == Some(FMP_KEY) {
            return Reply::json(answer.lock().unwrap().clone());
        }
        fmp_ok(seen)
    })
    .await;
    let polygon = TestServer::start(polygon_ok).await;
    let env = with_servers(&fmp, &polygon);
    let profile_calls = || {
        fmp.requests()
            .iter()
            .filter(|r| r.path == "/stable/profile")
            .count()
    };
    let stored = || async {
        let row: (Option<String>, Option<String>, Option<String>) =
            sqlx::query_as("SELECT name, sector, industry FROM securities WHERE symbol = 'AAPL'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        row
    };
    let run_with = |days: &'static str| {
        let mut env = env.clone();
        env.push(("WESTON_METADATA_REFRESH_DAYS", days));
        let out = run(&db, &run_args(&[]), &env);
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    };

    run_with("0");
    assert_eq!(profile_calls(), 1, "a symbol without metadata is described");
    let apple = (
        Some("Apple Inc.".to_string()),
        Some("Technology".to_string()),
        Some("Consumer Electronics".to_string()),
    );
    assert_eq!(stored().await, apple);

    *profile.lock().unwrap() = r#"[{"symbol": "AAPL", "companyName": "Apple Incorporated", "exchange": "NASDAQ", "industry": "Consumer Electronics", "ipoDate": "1980-12-12"}]"#.to_string();
    run_with("0");
    assert_eq!(
        profile_calls(),
        1,
        "0: described symbols are not asked again"
    );
    assert_eq!(stored().await, apple);

    run_with("1");
    assert_eq!(profile_calls(), 2, "1: every symbol is due every night");
    assert_eq!(
        stored().await,
        (
            Some("Apple Incorporated".to_string()),
            Some("Technology".to_string()),
            Some("Consumer Electronics".to_string())
        ),
        "the new name; the sector this answer lacks is kept"
    );
    let (_, _, stats) = last_run(&db).await;
    assert_eq!(stats["written"]["securities"], 1, "{stats}");

    run_with("1");
    assert_eq!(profile_calls(), 3);
    let (_, _, stats) = last_run(&db).await;
    assert_eq!(
        stats["written"]["securities"], 0,
        "the same answer writes nothing: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_and_no_provider_is_a_configuration_error() {
    let db = TestDb::migrated("e2e_no_key").await;
    let out = run(&db, &run_args(&[]), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("FMP_API_KEY") && stderr.contains("POLYGON_API_KEY"),
        "{stderr}"
    );
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM etl_run")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(runs, 0, "no run is begun without a provider");
}

/// Polygon as `polygon_ok`, but the raw close of 2020-08-27 is `close`.
fn polygon_closing_at(close: &'static str) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    move |seen| {
        let mut reply = polygon_ok(seen);
        if seen.path.starts_with("/v2/aggs/") {
            reply.body = reply
                .body
                .replacen("\"c\":500.04", &format!("\"c\":{close}"), 1);
        }
        reply
    }
}

/// A price with more digits than the loader can hold exactly (40
/// decimals) was stored rounded to 28 significant digits, and a later different value then
/// compared equal and was never written. It is refused, with an error naming the number,
/// and nothing rounded is stored; a long value that is exact (trailing zeros) is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_that_cannot_be_stored_exactly_is_refused_not_rounded() {
    const LONG: &str = "500.0400000000000000000000000000000000000001";
    let db = TestDb::migrated("e2e_long_decimal").await;
    let fmp = TestServer::start(fmp_down).await;
    let exact = TestServer::start(polygon_closing_at(
        "500.0400000000000000000000000000000000000000",
    ))
    .await;
    let out = run(
        &db,
        &run_args(&["--provider", "polygon"]),
        &with_servers(&fmp, &exact),
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        bars(&db).await[0].1,
        dec("500.04"),
        "trailing zeros change nothing"
    );

    let long = TestServer::start(polygon_closing_at(LONG)).await;
    let out = run(
        &db,
        &run_args(&["--provider", "polygon"]),
        &with_servers(&fmp, &long),
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let (status, error, _) = last_run(&db).await;
    assert_eq!(status, "failed");
    let error = error.expect("the failure is recorded");
    assert!(
        error.contains(LONG) && error.contains("cannot be stored exactly"),
        "the error names the number: {error}"
    );
    assert_eq!(
        bars(&db).await[0].1,
        dec("500.04"),
        "the stored close is what was sent before, not a rounding of the new one"
    );
}
