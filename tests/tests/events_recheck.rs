//! The deep re-check of corporate actions, with the real `weston-loader run` (the
//! `etl_writer` login) against a local server speaking FMP's format: a split published late
//! for an earlier date, and a dividend restated, are missed by the nightly window and found
//! by the re-check (counted in `etl_run.stats` and by `status`; the restated one is a
//! finding). And the nightly HTTP cost of the re-check for a 750-symbol universe, printed
//! and bounded; run alone with
//! `cargo test --release -p weston-tests --test events_recheck -- --nocapture`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use fake_providers::{Reply, Seen, TestServer};
use weston_loader::cli::EVENTS_RECHECK_ENV;
use weston_tests::{loader_command, output_text, query_text, TestDb};

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// FMP's non-split-adjusted bars of `symbol` for every session in `[from, to]` of the
/// request, within `[first, last]`.
fn fmp_bars(seen: &Seen, (first, last): (&str, &str)) -> Reply {
    let symbol = seen.param("symbol").unwrap_or_default();
    let from = day(seen.param("from").unwrap_or(first)).max(day(first));
    let to = day(seen.param("to").unwrap_or(last)).min(day(last));
    let rows: Vec<String> = weston_loader::calendar::trading_days(from, to)
        .iter()
        .rev()
        .map(|d| format!(r#"{{"symbol":"{symbol}","date":"{d}","adjOpen":10,"adjHigh":11,"adjLow":9,"adjClose":10.5,"volume":1000}}"#))
        .collect();
    Reply::json(format!("[{}]", rows.join(",")))
}

/// LATE trades from 2024-01-02; FMP first knows one dividend (0.25 on 2024-01-10). Later it
/// publishes a 2-for-1 split on 2024-02-01 and restates that dividend to 0.30.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_published_late_is_found_by_the_deep_recheck_not_by_the_nightly_window() {
    let db = TestDb::migrated("events_recheck_late").await;
    let published = Arc::new(AtomicBool::new(false));
    let fmp = {
        let published = Arc::clone(&published);
        TestServer::start(move |seen: &Seen| {
            let late = published.load(Ordering::SeqCst);
            if seen.param("apikey") != Some("k") || seen.param("symbol") != Some("LATE") {
                return Reply::json("[]");
            }
            match seen.path.as_str() {
                "/stable/historical-price-eod/non-split-adjusted" => {
                    fmp_bars(seen, ("2024-01-02", "2024-03-28"))
                }
                "/stable/splits" if late => Reply::json(
                    r#"[{"symbol":"LATE","date":"2024-02-01","numerator":2,"denominator":1}]"#,
                ),
                "/stable/dividends" => Reply::json(format!(
                    r#"[{{"symbol":"LATE","date":"2024-01-10","dividend":{},"adjDividend":0.1}}]"#,
                    if late { "0.30" } else { "0.25" }
                )),
                _ => Reply::json("[]"),
            }
        })
        .await
    };
    let run = |args: &[&str], recheck_days: &str| {
        let out = loader_command(&db, args)
            .env("FMP_API_KEY", "k")
            .env("WESTON_FMP_BASE_URL", &fmp.base_url)
            .env("WESTON_FMP_RATE_LIMIT", "100/s")
            .env(EVENTS_RECHECK_ENV, recheck_days)
            .output()
            .expect("run weston-loader");
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    };
    let events = "SELECT concat_ws(' | ',
            (SELECT string_agg(format('split %s %s:%s %s', date, numerator, denominator, provider), ', ' ORDER BY date) FROM splits),
            (SELECT string_agg(format('dividend %s %s %s', ex_date, amount, provider), ', ' ORDER BY ex_date) FROM dividends))";
    run(
        &[
            "run",
            "--symbols",
            "LATE",
            "--from",
            "2024-01-02",
            "--to",
            "2024-03-01",
        ],
        "0",
    );
    assert_eq!(
        query_text(&db.pool, events).await,
        "dividend 2024-01-10 0.25 fmp"
    );

    published.store(true, Ordering::SeqCst);
    // Nights without the re-check ask only from a week before the last stored bar.
    let nightly = ["run", "--symbols", "LATE", "--to", "2024-03-28"];
    run(&nightly, "0");
    assert_eq!(
        query_text(&db.pool, events).await,
        "dividend 2024-01-10 0.25 fmp",
        "the nightly window reached back to the late events"
    );
    let asked = fmp.requests().len();
    run(&nightly, "1");
    let recheck_calls: Vec<String> = fmp.requests()[asked..]
        .iter()
        .filter(|s| s.path == "/stable/splits" || s.path == "/stable/dividends")
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(
        query_text(&db.pool, events).await,
        "split 2024-02-01 2:1 fmp | dividend 2024-01-10 0.3 fmp",
        "the deep re-check missed the late split or the restated dividend"
    );
    // The night's window asks once per kind, the re-check once more.
    assert_eq!(recheck_calls.len(), 4, "{recheck_calls:?}");

    let stats: serde_json::Value =
        sqlx::query_scalar("SELECT stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let recheck = &stats["events_recheck"];
    assert_eq!(recheck["symbols"], 1, "{stats}");
    assert_eq!(recheck["splits_added"], 1, "{stats}");
    assert_eq!(recheck["dividends_added"], 0, "{stats}");
    assert_eq!(
        recheck["restated"][0], "LATE dividend 2024-01-10: 0.25 USD (fmp) now 0.3 USD (fmp)",
        "{stats}"
    );
    assert_eq!(
        query_text(
            &db.pool,
            "SELECT format('%s %s %s %s', rule, symbol, date, subject) FROM quality_findings
              WHERE rule = 'event_restated'"
        )
        .await,
        "event_restated LATE 2024-01-10 dividend"
    );
    let out = loader_command(&db, &["status"]).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(
            "events re-checked (every 1 days): 1 symbols' whole history, 1 splits and 0 dividends added, 1 restated, 0 failed"
        ) && shown.contains("event restated: LATE dividend 2024-01-10")
            && shown.contains("event_restated"),
        "{}",
        output_text(&out)
    );

    // The next re-check finds nothing new: nothing is added or restated twice.
    run(&nightly, "1");
    let stats: serde_json::Value =
        sqlx::query_scalar("SELECT stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(stats["events_recheck"]["splits_added"], 0, "{stats}");
    assert_eq!(
        stats["events_recheck"]["restated"],
        serde_json::json!([]),
        "{stats}"
    );
}

const UNIVERSE: usize = 750;
const DAYS: [&str; 2] = ["2022-06-07", "2022-06-08"];

fn universe_symbol(i: usize) -> String {
    format!("S{i:04}")
}

/// FMP (`/stable/…`) and Polygon (`/v2/…`, `/v3/…`) for the 750-symbol universe: bars on
/// DAYS, a description and (FMP) one dividend per symbol, no splits.
fn universe_api(seen: &Seen) -> Reply {
    let symbol = seen.param("symbol").unwrap_or_default();
    let empty = r#"{"results":[],"status":"OK","request_id":"r"}"#;
    if let Some(day) = seen
        .path
        .strip_prefix("/v2/aggs/grouped/locale/us/market/stocks/")
    {
        // 16:00 in New York (EDT) is 20:00 UTC.
        let close = day
            .parse::<NaiveDate>()
            .unwrap()
            .and_hms_opt(20, 0, 0)
            .unwrap();
        let ms = close.and_utc().timestamp_millis();
        let rows: Vec<String> = (1..=UNIVERSE)
            .filter(|_| DAYS.contains(&day))
            .map(|i| {
                let t = universe_symbol(i);
                format!(r#"{{"T":"{t}","v":1000,"o":10,"c":10.5,"h":11,"l":9,"t":{ms}}}"#)
            })
            .collect();
        return Reply::json(format!(
            r#"{{"adjusted":false,"status":"OK","request_id":"r","results":[{}]}}"#,
            rows.join(",")
        ));
    }
    if let Some(ticker) = seen.path.strip_prefix("/v3/reference/tickers/S") {
        return Reply::json(format!(
            r#"{{"results":{{"ticker":"S{ticker}","name":"S{ticker} Corp","active":true}},"status":"OK","request_id":"r"}}"#
        ));
    }
    match seen.path.as_str() {
        "/stable/profile" => Reply::json(format!(
            r#"[{{"symbol":"{symbol}","companyName":"{symbol} Corp","exchange":"NASDAQ","ipoDate":"2000-01-03","isActivelyTrading":true}}]"#
        )),
        "/stable/historical-price-eod/non-split-adjusted" => fmp_bars(seen, (DAYS[0], DAYS[1])),
        "/stable/dividends" => Reply::json(format!(
            r#"[{{"symbol":"{symbol}","date":"2022-06-07","dividend":0.1}}]"#
        )),
        p if p.starts_with("/stable/") => Reply::json("[]"),
        _ => Reply::json(empty),
    }
}

/// `weston-loader args` with `provider` (and only it) served by `server`.
fn universe_run(
    db: &TestDb,
    server: &TestServer,
    provider: &str,
    args: &[&str],
) -> std::process::Command {
    let mut command = loader_command(db, args);
    command
        .args(["--provider", provider])
        .env("FMP_API_KEY", "k")
        .env("POLYGON_API_KEY", "k")
        .env("WESTON_FMP_BASE_URL", &server.base_url)
        .env("WESTON_POLYGON_BASE_URL", &server.base_url)
        .env("WESTON_FMP_RATE_LIMIT", "1000/s")
        .env("WESTON_POLYGON_RATE_LIMIT", "1000/s");
    command
}

/// The HTTP calls of one night's run over the stored universe, with the re-check every
/// `recheck_days` days: how many, per endpoint, and the run's stats.
async fn night_calls(
    db: &TestDb,
    server: &TestServer,
    provider: &str,
    recheck_days: &str,
) -> (
    usize,
    std::collections::BTreeMap<String, usize>,
    serde_json::Value,
) {
    let before = server.requests().len();
    let out = universe_run(db, server, provider, &["run", "--to", DAYS[1]])
        .env("WESTON_METADATA_REFRESH_DAYS", "30")
        .env(EVENTS_RECHECK_ENV, recheck_days)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let stats = sqlx::query_scalar("SELECT stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let mut per_endpoint = std::collections::BTreeMap::new();
    for seen in &server.requests()[before..] {
        let path = if seen.path.starts_with("/v3/reference/tickers/") {
            "/v3/reference/tickers/{ticker}"
        } else if seen.path.starts_with("/v2/aggs/grouped/") {
            "/v2/aggs/grouped/{day}"
        } else {
            &seen.path
        };
        *per_endpoint.entry(path.to_owned()).or_insert(0) += 1;
    }
    (server.requests().len() - before, per_endpoint, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_http_calls_for_750_symbols_with_the_recheck_on_and_off() {
    let universe: Vec<String> = (1..=UNIVERSE).map(universe_symbol).collect();
    let today = weston_loader::calendar::new_york_today(chrono::Utc::now());
    let due = weston_loader::recheck::due(&universe, today, 30).len();
    for provider in ["fmp", "polygon"] {
        let db = TestDb::migrated(&format!("events_recheck_cost_{provider}")).await;
        let server = TestServer::start(universe_api).await;
        let first = [
            "run",
            "--symbols",
            &universe.join(","),
            "--from",
            DAYS[0],
            "--to",
            DAYS[1],
        ];
        let out = universe_run(&db, &server, provider, &first)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));

        let (off, off_calls, _) = night_calls(&db, &server, provider, "0").await;
        let (on, on_calls, stats) = night_calls(&db, &server, provider, "30").await;
        println!(
            "{provider}, {UNIVERSE} symbols, one night: {off} HTTP calls with the deep re-check off, {on} with it on \
             (WESTON_EVENTS_RECHECK_DAYS=30: {due} symbols due tonight, {} calls more)",
            on - off
        );
        println!("  off: {off_calls:?}\n  on:  {on_calls:?}");
        assert_eq!(stats["events_recheck"]["symbols"], due, "{stats}");
        // Two calls (splits, dividends) per symbol due; about 1/30 of the universe a night.
        assert_eq!(on - off, 2 * due, "{provider}: {stats}");
    }
    assert!(due <= 2 * UNIVERSE / 30, "{due} symbols due in one night");
}
