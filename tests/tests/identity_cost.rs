//! The nightly HTTP cost of detecting ticker changes and delistings for a 750-symbol
//! universe, counted at local servers speaking FMP's and Polygon's formats: the real
//! `weston-loader run` loads two sessions, then runs the next night's job on the universe,
//! during which one symbol (S0001) has stopped receiving bars. Printed, and bounded: the
//! cost must not grow with the universe. Run alone with
//! `cargo test --release -p weston-tests --test identity_cost -- --nocapture`.

use fake_providers::{Reply, Seen, TestServer};
use weston_tests::{loader_command, output_text, TestDb};

const SYMBOLS: usize = 750;
/// Sessions: S0001 trades on the first only; the others on all three.
const DAYS: [&str; 3] = ["2022-06-07", "2022-06-08", "2022-06-09"];

fn symbol(i: usize) -> String {
    format!("S{i:04}")
}

fn trades(symbol: &str, day: &str) -> bool {
    symbol != "S0001" || day == DAYS[0]
}

fn close_ms(day: &str) -> i64 {
    let date: chrono::NaiveDate = day.parse().unwrap();
    // 16:00 New York (EDT) is 20:00 UTC.
    date.and_hms_opt(20, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

fn fmp_api(seen: &Seen) -> Reply {
    if seen.path != "/stable/historical-price-eod/non-split-adjusted" {
        return Reply::json("[]");
    }
    let symbol = seen.param("symbol").unwrap_or_default();
    let (from, to) = (
        seen.param("from").unwrap_or(""),
        seen.param("to").unwrap_or(""),
    );
    let rows: Vec<String> = DAYS
        .iter()
        .rev()
        .filter(|d| **d >= from && **d <= to && trades(symbol, d))
        .map(|d| format!(r#"{{"symbol":"{symbol}","date":"{d}","adjOpen":10,"adjHigh":11,"adjLow":9,"adjClose":10.5,"volume":1000}}"#))
        .collect();
    Reply::json(format!("[{}]", rows.join(",")))
}

fn polygon_api(seen: &Seen) -> Reply {
    let empty = r#"{"results":[],"status":"OK","request_id":"r"}"#;
    if let Some(day) = seen
        .path
        .strip_prefix("/v2/aggs/grouped/locale/us/market/stocks/")
    {
        let rows: Vec<String> = (1..=SYMBOLS)
            .map(symbol)
            .filter(|s| trades(s, day))
            .map(|s| {
                format!(
                    r#"{{"T":"{s}","v":1000,"o":10,"c":10.5,"h":11,"l":9,"t":{}}}"#,
                    close_ms(day)
                )
            })
            .collect();
        return Reply::json(format!(
            r#"{{"adjusted":false,"status":"OK","request_id":"r","results":[{}]}}"#,
            rows.join(",")
        ));
    }
    if let Some(rest) = seen.path.strip_prefix("/v2/aggs/ticker/") {
        let parts: Vec<&str> = rest.split('/').collect();
        let (ticker, from, to) = (parts[0], parts[parts.len() - 2], parts[parts.len() - 1]);
        let rows: Vec<String> = DAYS
            .iter()
            .filter(|d| **d >= from && **d <= to && trades(ticker, d))
            .map(|d| {
                format!(
                    r#"{{"v":1000,"o":10,"c":10.5,"h":11,"l":9,"t":{}}}"#,
                    close_ms(d)
                )
            })
            .collect();
        return Reply::json(format!(
            r#"{{"ticker":"{ticker}","adjusted":false,"status":"OK","request_id":"r","results":[{}]}}"#,
            rows.join(",")
        ));
    }
    match seen.path.as_str() {
        "/v3/reference/splits" | "/v3/reference/dividends" | "/v3/reference/tickers" => {
            Reply::json(empty)
        }
        p if p.starts_with("/v3/reference/tickers/S") && p != "/v3/reference/tickers/S0001" => {
            let ticker = &p["/v3/reference/tickers/".len()..];
            Reply::json(format!(
                r#"{{"results":{{"ticker":"{ticker}","name":"{ticker} Corp","active":true}},"status":"OK","request_id":"r"}}"#
            ))
        }
        _ => Reply::status(
            404,
            r#"{"status":"NOT_FOUND","request_id":"r","message":"Not found."}"#,
        ),
    }
}

/// Requests of the night's run that serve detection (listings and per-ticker questions).
fn detection_calls(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .filter(|s| {
            matches!(
                s.path.as_str(),
                "/stable/symbol-change" | "/stable/delisted-companies" | "/v3/reference/tickers"
            ) || s.path.ends_with("/events")
                || (s.path.starts_with("/v3/reference/tickers/") && s.path.ends_with("S0001"))
        })
        .map(|s| s.path.clone())
        .collect()
}

async fn night_cost(provider: &str) -> (Vec<String>, usize) {
    let db = TestDb::migrated(&format!("ident_cost_{provider}")).await;
    let server = TestServer::start(if provider == "fmp" {
        fmp_api
    } else {
        polygon_api
    })
    .await;
    let env = [
        ("FMP_API_KEY", "k"),
        ("POLYGON_API_KEY", "k"),
        ("WESTON_FMP_BASE_URL", server.base_url.as_str()),
        ("WESTON_POLYGON_BASE_URL", server.base_url.as_str()),
        ("WESTON_FMP_RATE_LIMIT", "1000/s"),
        ("WESTON_POLYGON_RATE_LIMIT", "1000/s"),
        // Metadata is not asked again, so each request counted below is detection's.
        ("WESTON_METADATA_REFRESH_DAYS", "0"),
    ];
    let universe: Vec<String> = (1..=SYMBOLS).map(symbol).collect();
    let universe = universe.join(",");
    let first = [
        "run",
        "--provider",
        provider,
        "--symbols",
        &universe,
        "--from",
        DAYS[0],
        "--to",
        DAYS[1],
    ];
    let out = loader_command(&db, &first).envs(env).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let before = server.requests().len();
    let night = ["run", "--provider", provider, "--to", DAYS[2]];
    let out = loader_command(&db, &night).envs(env).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let seen = server.requests();
    let stats: serde_json::Value =
        sqlx::query_scalar("SELECT stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        stats["identity"]["investigated"], 1,
        "only S0001 stopped: {stats}"
    );
    (detection_calls(&seen[before..]), seen.len() - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_detection_costs_a_few_calls_for_750_symbols() {
    for provider in ["fmp", "polygon"] {
        let (calls, all) = night_cost(provider).await;
        println!(
            "{provider}: nightly detection for {SYMBOLS} symbols (1 stopped): {} calls {calls:?}, of {all} calls in the night's run",
            calls.len()
        );
        // Polygon: the listing, then for S0001 its details and its inactive row (no row:
        // unknown, nothing recorded); one more details call of S0001 is metadata, not
        // detection (no provider has named it, so it is asked every night).
        let expected = if provider == "fmp" { 2 } else { 3 + 1 };
        assert_eq!(calls.len(), expected, "{provider}: {calls:?}");
    }
}
