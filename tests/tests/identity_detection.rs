//! Detection of ticker changes, delistings, reused tickers and share-class moves by the
//! real `weston-loader run`, on a real cluster: the mock market's fixed life events
//! (`weston-loader/src/providers/mock/life.rs`), and FMP's listings served by a local HTTP
//! server in FMP's documented format (including one that fails).

use fake_providers::{Reply, Seen, TestServer};
use weston_tests::{loader_command, output_text, run_loader, TestDb};

const EVENT_SYMBOLS: &str = "MOCK0001,MOCK0701,MOCK0702,MOCK0703,MOCK0704";
const FROM: &str = "2026-06-01";
const TO: &str = "2026-11-25";

/// `run --provider <provider> --symbols FB` from 2022-06-06 to `to` (FB→META's week).
fn fb_args<'a>(provider: &'a str, to: &'a str) -> [&'a str; 9] {
    [
        "run",
        "--provider",
        provider,
        "--symbols",
        "FB",
        "--from",
        "2022-06-06",
        "--to",
        to,
    ]
}

/// The FB run against the FMP server `fmp`.
fn run_fb(db: &TestDb, fmp: &TestServer, to: &str) -> std::process::Output {
    let env = [
        ("FMP_API_KEY", "k"),
        ("WESTON_FMP_BASE_URL", fmp.base_url.as_str()),
    ];
    run(db, &fb_args("fmp", to), &env)
}

fn run(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let fast = [
        ("WESTON_FMP_RATE_LIMIT", "50/s"),
        ("WESTON_HTTP_MAX_RETRIES", "0"),
        ("WESTON_HTTP_TIMEOUT_SECS", "5"),
    ];
    run_loader(db, args, &[&fast[..], env].concat())
}

async fn history(db: &TestDb, symbol: &str, as_of: &str) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history($1, $2::date)",
    )
    .bind(symbol)
    .bind(as_of)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// META's adjusted bars of June 2022, read under its new name, include FB's before the rename.
async fn assert_meta_reads_fb_in_june_2022(db: &TestDb) {
    let closes: Vec<(String, String)> = sqlx::query_as(
        "SELECT date::text, close::text FROM weston_adjusted_prices('META', '2022-06-01', '2022-06-30') ORDER BY date",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        closes,
        vec![
            ("2022-06-07".into(), "195.65".into()),
            ("2022-06-08".into(), "196.64".into()),
            ("2022-06-09".into(), "184".into()),
            ("2022-06-10".into(), "175.57".into()),
        ]
    );
}

async fn scalar_i64(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

async fn last_stats(db: &TestDb) -> (String, Option<String>, serde_json::Value) {
    sqlx::query_as("SELECT status, error, stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_markets_life_events_are_detected_and_recorded() {
    let db = TestDb::migrated("ident_mock").await;
    let args = [
        "run",
        "--provider",
        "mock",
        "--symbols",
        EVENT_SYMBOLS,
        "--from",
        FROM,
        "--to",
        TO,
    ];
    let out = run(&db, &args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (status, _, stats) = last_stats(&db).await;
    assert_eq!(status, "succeeded", "{stats}");
    let identity = &stats["identity"];
    assert_eq!(
        identity["renamed"].as_array().unwrap().len(),
        2,
        "{identity}"
    );
    assert_eq!(
        identity["reused"].as_array().unwrap().len(),
        1,
        "{identity}"
    );
    assert_eq!(
        identity["share_class_moves"].as_array().unwrap().len(),
        1,
        "{identity}"
    );
    assert_eq!(identity["conflicts"], serde_json::json!([]), "{identity}");

    // The rename: one security, both tickers, bars under each as traded, one series.
    assert_eq!(
        history(&db, "MOCKR701", "2026-11-25").await,
        vec![
            // From the first day the provider gives for the renamed security (the mock's
            // epoch), as when its ticker is asked about before the listing is read.
            (
                "MOCK0701".into(),
                "2000-01-03".into(),
                Some("2026-09-13".into())
            ),
            ("MOCKR701".into(), "2026-09-14".into(), None),
        ]
    );
    assert_eq!(history(&db, "MOCKR701", "2026-09-13").await, vec![]);
    let (old_bars, new_bars, read): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM prices_daily WHERE symbol = 'MOCK0701'),
                (SELECT count(*) FROM prices_daily WHERE symbol = 'MOCKR701'),
                (SELECT count(*) FROM weston_adjusted_prices('MOCKR701', '2026-06-01', '2026-11-25'))",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(old_bars > 60 && new_bars > 40, "{old_bars} {new_bars}");
    assert_eq!(
        read,
        old_bars + new_bars,
        "the adjusted series spans both tickers"
    );
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM prices_daily WHERE symbol = 'MOCK0701' AND date >= '2026-09-14'"
        )
        .await,
        0
    );

    // The delisting: history kept up to the last session, out of the universe after it.
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM prices_daily WHERE symbol = 'MOCK0702' AND date > '2026-08-21'"
        )
        .await,
        0
    );
    assert!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM prices_daily WHERE symbol = 'MOCK0702'"
        )
        .await
            > 50
    );
    let listed = |day: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT symbol FROM weston_universe($1::date) ORDER BY 1",
            )
            .bind(day)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(
        listed("2026-08-21").await,
        vec!["MOCK0001", "MOCK0701", "MOCK0702", "MOCK0704"],
        "MOCK0703's first company left on 2026-07-17, its successor came on 2026-10-05"
    );
    assert_eq!(
        listed("2026-11-02").await,
        vec!["MOCK0001", "MOCK0703", "MOCK0704", "MOCK0704.A", "MOCKR701"]
    );

    // The reused ticker: two securities, two histories, no bar in between, one finding.
    assert_eq!(
        history(&db, "MOCK0703", "2026-08-01").await,
        vec![("MOCK0703".into(), FROM.into(), Some("2026-07-17".into()))],
        "as of 2026-08-01 it names the first company, delisted after 2026-07-17"
    );
    assert_eq!(
        history(&db, "MOCK0703", "2026-11-25").await,
        vec![("MOCK0703".into(), "2026-10-05".into(), None)]
    );
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(DISTINCT security_id) FROM ticker_history WHERE symbol = 'MOCK0703'"
        )
        .await,
        2
    );
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM prices_daily WHERE symbol = 'MOCK0703' AND date BETWEEN '2026-07-18' AND '2026-10-04'").await,
        0
    );
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM weston_adjusted_prices('MOCK0703', '2026-06-01', '2026-11-25')"
        )
        .await,
        scalar_i64(
            &db,
            "SELECT count(*) FROM prices_daily WHERE symbol = 'MOCK0703' AND date >= '2026-10-05'"
        )
        .await,
        "today's MOCK0703 is the new company only"
    );
    let findings: Vec<(String, String, String)> =
        sqlx::query_as("SELECT rule, symbol, date::text FROM quality_findings ORDER BY finding_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        findings,
        vec![(
            "ticker_reused".into(),
            "MOCK0703".into(),
            "2026-10-05".into()
        )]
    );

    // The share-class move: the old class continues as MOCK0704.A, MOCK0704 is a new class.
    assert_eq!(
        history(&db, "MOCK0704.A", "2026-11-25").await,
        vec![
            ("MOCK0704".into(), FROM.into(), Some("2026-10-18".into())),
            ("MOCK0704.A".into(), "2026-10-19".into(), None),
        ]
    );
    assert_eq!(
        history(&db, "MOCK0704", "2026-11-25").await,
        vec![("MOCK0704".into(), "2026-10-19".into(), None)]
    );
    assert_eq!(history(&db, "MOCK0704", "2026-10-16").await.len(), 1);

    // Every holding, one row each: the rename's two tickers (from the first day the provider
    // gave for the renamed security), the delisting (from the
    // mock's first day, which the provider gave), the reused ticker's two companies, and
    // the share-class move's old class under both tickers and new class.
    let holdings = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_as::<_, (String, String, Option<String>)>(
                "SELECT symbol, valid_from::text, valid_to::text FROM ticker_history
                  ORDER BY symbol, valid_from",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let first_run = holdings(&db).await;
    let row = |s: &str, from: &str, to: Option<&str>| (s.into(), from.into(), to.map(Into::into));
    assert_eq!(
        first_run,
        vec![
            row("MOCK0701", "2000-01-03", Some("2026-09-13")),
            row("MOCK0702", "2000-01-03", Some("2026-08-21")),
            row("MOCK0703", FROM, Some("2026-07-17")),
            row("MOCK0703", "2026-10-05", None),
            row("MOCK0704", FROM, Some("2026-10-18")),
            row("MOCK0704", "2026-10-19", None),
            row("MOCK0704.A", "2026-10-19", None),
            row("MOCKR701", "2026-09-14", None),
        ]
    );

    // status says what was learned.
    let status = loader_command(&db, &["status"]).output().unwrap();
    let text = output_text(&status);
    assert!(
        text.contains("MOCK0701→MOCKR701 from 2026-09-14 (mock)"),
        "{text}"
    );
    assert!(text.contains("reused ticker"), "{text}");

    // Again: nothing new is learned, nothing is duplicated.
    let out = run(&db, &args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (_, _, stats) = last_stats(&db).await;
    for learned in [
        "renamed",
        "delisted",
        "reused",
        "share_class_moves",
        "conflicts",
    ] {
        assert_eq!(
            stats["identity"][learned],
            serde_json::json!([]),
            "{learned}: events stored before are not learned again: {stats}"
        );
    }
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM quality_findings").await,
        1
    );
    assert_eq!(holdings(&db).await, first_run);

    // The nightly universe: the delisted and renamed-away tickers are not asked for again.
    let out = run(&db, &["run", "--provider", "mock", "--to", TO], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (_, _, stats) = last_stats(&db).await;
    assert_eq!(stats["symbols"], 5, "{stats}");
}

/// FMP answering its documented `symbol-change` and `delisted-companies` listings for
/// FB → META on 2022-06-09; `listings_fail` makes both answer 500.
fn fmp_market(seen: &Seen, listings_fail: bool) -> Reply {
    let symbol = seen.param("symbol");
    match seen.path.as_str() {
        "/stable/symbol-change" | "/stable/delisted-companies" if listings_fail => {
            Reply::status(500, r#"{"Error Message": "internal error"}"#)
        }
        "/stable/symbol-change" => Reply::json(
            r#"[{"date":"2022-06-09","companyName":"Meta Platforms, Inc.","oldSymbol":"FB","newSymbol":"META"},
                {"date":"2021-01-04","companyName":"Elsewhere Corp","oldSymbol":"ELS","newSymbol":"ELSW"}]"#,
        ),
        "/stable/delisted-companies" => Reply::json(
            r#"[{"symbol":"LEHMQ","companyName":"Lehman Brothers Holdings","exchange":"NYSE","ipoDate":"1994-05-02","delistedDate":"2008-09-17"}]"#,
        ),
        "/stable/historical-price-eod/non-split-adjusted" => {
            let rows: &[(&str, &str)] = match symbol {
                Some("FB") => &[("2022-06-08", "196.64"), ("2022-06-07", "195.65")],
                Some("META") => &[("2022-06-10", "175.57"), ("2022-06-09", "184.00")],
                _ => &[],
            };
            let from = seen.param("from").unwrap_or("0000");
            let to = seen.param("to").unwrap_or("9999");
            let body: Vec<String> = rows
                .iter()
                .filter(|(d, _)| *d >= from && *d <= to)
                .map(|(d, c)| format!(
                    r#"{{"symbol":"{}","date":"{d}","adjOpen":{c},"adjHigh":{c},"adjLow":{c},"adjClose":{c},"volume":1000}}"#,
                    symbol.unwrap_or_default()
                ))
                .collect();
            Reply::json(format!("[{}]", body.join(",")))
        }
        _ => Reply::json("[]"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fmp_listings_record_fb_to_meta_and_a_failed_listing_is_not_no_changes() {
    let db = TestDb::migrated("ident_fmp").await;
    let fmp = TestServer::start(|seen| fmp_market(seen, false)).await;
    let out = run_fb(&db, &fmp, "2022-06-08");
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let out = run_fb(&db, &fmp, "2022-06-10");
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (_, _, stats) = last_stats(&db).await;
    assert_eq!(
        stats["identity"]["renamed"],
        serde_json::json!(["FB→META from 2022-06-09 (fmp)"]),
        "{stats}"
    );
    assert_meta_reads_fb_in_june_2022(&db).await;
    assert_eq!(
        history(&db, "FB", "2022-06-08").await,
        vec![("FB".into(), "2022-06-06".into(), None)]
    );
    // The nightly cost of detection on FMP: one call per listing per run, whatever the
    // universe's size (no per-symbol call: FMP answers no ticker_identity).
    let listing_calls = |path: &str| fmp.requests().iter().filter(|r| r.path == path).count();
    assert_eq!(listing_calls("/stable/symbol-change"), 2);
    assert_eq!(listing_calls("/stable/delisted-companies"), 2);
    drop(fmp);

    // The listings fail: the run says changes are unknown (partial, exit 3), not "none".
    let db = TestDb::migrated("ident_fmp_down").await;
    let fmp = TestServer::start(|seen| fmp_market(seen, true)).await;
    let out = run_fb(&db, &fmp, "2022-06-08");
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let (status, error, stats) = last_stats(&db).await;
    assert_eq!(status, "partial");
    let error = error.unwrap_or_default();
    assert!(
        error.contains("ticker changes and delistings 2022-06-06..2022-06-08"),
        "{error}"
    );
    assert_eq!(
        stats["identity"]["listing_failed"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{stats}"
    );
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM prices_daily WHERE symbol = 'FB'").await,
        2,
        "the bars are still loaded"
    );
}

/// Epoch milliseconds of midnight New York (EDT) of a June 2022 day, as Polygon stamps
/// daily aggregates.
fn june_2022_ms(day: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(2022, 6, day)
        .unwrap()
        .and_hms_opt(4, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

/// Polygon as documented after FB became META on 2022-06-09: FB is an inactive ticker
/// (last traded 2022-06-08) whose composite FIGI's ticker events name META from that day.
fn polygon_market(seen: &Seen) -> Reply {
    let path = seen.path.as_str();
    let empty = r#"{"results":[],"status":"OK","request_id":"r"}"#;
    let fb_row = r#"{"ticker":"FB","name":"Meta Platforms, Inc. Class A Common Stock","market":"stocks","active":false,"composite_figi":"BBG000MM2P62","share_class_figi":"BBG001SQCQB6","cik":"0001326801","list_date":"2012-05-18","delisted_utc":"2022-06-08T00:00:00Z"}"#;
    if let Some(rest) = path.strip_prefix("/v2/aggs/ticker/") {
        let ticker = rest.split('/').next().unwrap_or_default();
        let bars: &[(u32, &str)] = match ticker {
            "FB" => &[(7, "195.65"), (8, "196.64")],
            "META" => &[(9, "184.00"), (10, "175.57")],
            _ => &[],
        };
        let from: u32 = rest
            .rsplit('/')
            .nth(1)
            .and_then(|d| d[8..].parse().ok())
            .unwrap_or(0);
        let to: u32 = rest
            .rsplit('/')
            .next()
            .and_then(|d| d[8..].parse().ok())
            .unwrap_or(31);
        let rows: Vec<String> = bars
            .iter()
            .filter(|(d, _)| (from..=to).contains(d))
            .map(|(d, c)| {
                format!(
                    r#"{{"v":1000,"o":{c},"c":{c},"h":{c},"l":{c},"t":{}}}"#,
                    june_2022_ms(*d)
                )
            })
            .collect();
        return Reply::json(format!(
            r#"{{"ticker":"{ticker}","adjusted":false,"status":"OK","request_id":"r","results":[{}]}}"#,
            rows.join(",")
        ));
    }
    match path {
        "/v3/reference/splits" | "/v3/reference/dividends" => Reply::json(empty),
        "/v3/reference/tickers" if seen.param("active") == Some("false") => {
            if seen.param("ticker").is_none_or(|t| t == "FB") {
                Reply::json(format!(
                    r#"{{"results":[{fb_row}],"status":"OK","request_id":"r"}}"#
                ))
            } else {
                Reply::json(empty)
            }
        }
        "/v3/reference/tickers/META" => Reply::json(
            r#"{"results":{"ticker":"META","name":"Meta Platforms, Inc. Class A Common Stock","active":true,"composite_figi":"BBG000MM2P62","share_class_figi":"BBG001SQCQB6","cik":"0001326801","list_date":"2012-05-18"},"status":"OK","request_id":"r"}"#,
        ),
        "/vX/reference/tickers/BBG000MM2P62/events" => Reply::json(
            r#"{"results":{"name":"Meta Platforms, Inc. Class A Common Stock","composite_figi":"BBG000MM2P62","cik":"0001326801","events":[{"ticker_change":{"ticker":"META"},"type":"ticker_change","date":"2022-06-09"},{"ticker_change":{"ticker":"FB"},"type":"ticker_change","date":"2012-05-18"}]},"status":"OK","request_id":"r"}"#,
        ),
        _ => Reply::status(
            404,
            r#"{"status":"NOT_FOUND","request_id":"r","message":"Ticker not found."}"#,
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polygon_inactive_tickers_and_figi_events_record_fb_to_meta() {
    let db = TestDb::migrated("ident_polygon").await;
    let polygon = TestServer::start(polygon_market).await;
    let env = [
        ("POLYGON_API_KEY", "k"),
        ("WESTON_POLYGON_BASE_URL", polygon.base_url.as_str()),
        ("WESTON_POLYGON_RATE_LIMIT", "50/s"),
    ];
    let out = run(&db, &fb_args("polygon", "2022-06-08"), &env);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (_, _, stats) = last_stats(&db).await;
    assert_eq!(
        stats["identity"]["renamed"],
        serde_json::json!(["FB→META from 2022-06-09 (polygon)"]),
        "{stats}"
    );
    assert_eq!(
        stats["identity"]["delisted"],
        serde_json::json!([]),
        "{stats}"
    );
    assert_eq!(
        history(&db, "META", "2022-06-10").await,
        vec![
            ("FB".into(), "2012-05-18".into(), Some("2022-06-08".into())),
            ("META".into(), "2022-06-09".into(), None),
        ]
    );
    assert_eq!(
        history(&db, "FB", "2021-06-01").await,
        vec![("FB".into(), "2012-05-18".into(), None)],
        "as of 2021 only FB answers"
    );
    let out = run(&db, &fb_args("polygon", "2022-06-10"), &env);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_meta_reads_fb_in_june_2022(&db).await;
    // The cost: one listing call per run, and per investigated ticker (FB, once a run:
    // it is named) its details, its inactive row and its FIGI's events.
    let seen = polygon.requests();
    let count = |f: &dyn Fn(&Seen) -> bool| seen.iter().filter(|s| f(s)).count();
    assert_eq!(
        count(&|s| s.path == "/v3/reference/tickers" && s.param("ticker").is_none()),
        2
    );
    // Twice a run: detection's question, and metadata's (no provider has named FB).
    assert_eq!(count(&|s| s.path == "/v3/reference/tickers/FB"), 4);
    assert_eq!(count(&|s| s.path.ends_with("/events")), 2);
}

/// FMP's delisting date often lies days after the last trade: OLD last traded on
/// 2022-06-08 and is listed delisted after 2022-06-10. The run that learns it asks for
/// OLD's bars through 2022-06-10; the later nightly runs never ask for them again (the
/// "missing" last bars would otherwise be asked for every night, forever), unless named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delisted_ticker_asked_through_its_last_session_is_not_asked_again() {
    fn market(seen: &Seen) -> Reply {
        match seen.path.as_str() {
            "/stable/delisted-companies" => Reply::json(
                r#"[{"symbol":"OLD","companyName":"Old Corp","exchange":"NYSE","ipoDate":"1994-05-02","delistedDate":"2022-06-10"}]"#,
            ),
            "/stable/historical-price-eod/non-split-adjusted" => {
                let symbol = seen.param("symbol").unwrap_or_default();
                let days: &[&str] = match symbol {
                    "OLD" => &["2022-06-08", "2022-06-07", "2022-06-06"],
                    _ => &[
                        "2022-06-17",
                        "2022-06-16",
                        "2022-06-15",
                        "2022-06-14",
                        "2022-06-13",
                        "2022-06-10",
                        "2022-06-09",
                        "2022-06-08",
                        "2022-06-07",
                        "2022-06-06",
                    ],
                };
                let (from, to) = (
                    seen.param("from").unwrap_or("0000"),
                    seen.param("to").unwrap_or("9999"),
                );
                let body: Vec<String> = days
                    .iter()
                    .filter(|d| **d >= from && **d <= to)
                    .map(|d| format!(
                        r#"{{"symbol":"{symbol}","date":"{d}","adjOpen":10,"adjHigh":11,"adjLow":9,"adjClose":10.5,"volume":1000}}"#
                    ))
                    .collect();
                Reply::json(format!("[{}]", body.join(",")))
            }
            _ => Reply::json("[]"),
        }
    }
    let db = TestDb::migrated("ident_delisted_asked").await;
    let fmp = TestServer::start(market).await;
    let env = [
        ("FMP_API_KEY", "k"),
        ("WESTON_FMP_BASE_URL", fmp.base_url.as_str()),
    ];
    let old_bar_calls = || {
        fmp.requests()
            .iter()
            .filter(|r| {
                r.path == "/stable/historical-price-eod/non-split-adjusted"
                    && r.param("symbol") == Some("OLD")
            })
            .count()
    };
    let first = [
        "run",
        "--provider",
        "fmp",
        "--symbols",
        "OLD,ACT",
        "--from",
        "2022-06-06",
        "--to",
        "2022-06-10",
    ];
    let out = run(&db, &first, &env);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (delisted, asked): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT delisted_date::text, bars_asked_through::text FROM securities WHERE symbol = 'OLD'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (delisted.as_deref(), asked.as_deref()),
        (Some("2022-06-10"), Some("2022-06-10"))
    );
    let asked_before = old_bar_calls();
    for to in ["2022-06-14", "2022-06-17"] {
        let out = run(&db, &["run", "--provider", "fmp", "--to", to], &env);
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    }
    assert_eq!(old_bar_calls(), asked_before, "OLD was asked for again");
    let acts: i64 = sqlx::query_scalar("SELECT count(*) FROM prices_daily WHERE symbol = 'ACT'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(acts, 10, "the nightly runs went on loading ACT");
    // Named, it is asked again.
    let named = [
        "run",
        "--provider",
        "fmp",
        "--symbols",
        "OLD",
        "--from",
        "2022-06-06",
        "--to",
        "2022-06-17",
    ];
    let out = run(&db, &named, &env);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(old_bar_calls(), asked_before + 1);
}

/// FMP on a plan without the listing endpoints: `symbol-change` and `delisted-companies`
/// answer 402 "Restricted Endpoint". Alone, every run is `partial` (changes unknown) until
/// the operator acknowledges the gap with WESTON_IDENTITY_DETECTION=off, after which runs
/// succeed and `status` says renames and delistings are not detected, and why. With a
/// Polygon key, Polygon's listing answers where FMP's is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_without_fmps_listings_is_partial_until_acknowledged_or_polygon_lists() {
    fn fmp(seen: &Seen) -> Reply {
        match seen.path.as_str() {
            "/stable/symbol-change" | "/stable/delisted-companies" => Reply::status(
                402,
                r#"{"Error Message": "Restricted Endpoint: This endpoint is not available under your current subscription please visit our subscription page to upgrade your plan"}"#,
            ),
            _ => fmp_market(seen, false),
        }
    }
    fn polygon(seen: &Seen) -> Reply {
        match seen.path.as_str() {
            "/v3/reference/tickers" => {
                Reply::json(r#"{"results":[],"status":"OK","request_id":"r"}"#)
            }
            _ => Reply::status(
                404,
                r#"{"status":"NOT_FOUND","request_id":"r","message":"Not found."}"#,
            ),
        }
    }
    let fmp_server = TestServer::start(fmp).await;
    let fmp_env = [
        ("FMP_API_KEY", "k"),
        ("WESTON_FMP_BASE_URL", fmp_server.base_url.as_str()),
    ];

    let db = TestDb::migrated("ident_fmp_402").await;
    let out = run(&db, &fb_args("fmp", "2022-06-08"), &fmp_env);
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let (_, _, stats) = last_stats(&db).await;
    assert!(
        stats["identity"]["listing_failed"][0]
            .as_str()
            .is_some_and(|f| f.contains("Restricted Endpoint")),
        "{stats}"
    );

    let mut off = fmp_env.to_vec();
    off.push(("WESTON_IDENTITY_DETECTION", "off"));
    let out = run(&db, &fb_args("fmp", "2022-06-08"), &off);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (_, _, stats) = last_stats(&db).await;
    assert!(
        stats["identity"]["not_detected"]
            .as_str()
            .is_some_and(|w| w.contains("WESTON_IDENTITY_DETECTION is off")),
        "{stats}"
    );
    let status = loader_command(&db, &["status"]).output().unwrap();
    assert!(
        output_text(&status).contains("renames and delistings are not detected"),
        "{}",
        output_text(&status)
    );
    let out = run(
        &db,
        &["run", "--provider", "fmp", "--to", "2022-06-08"],
        &[("WESTON_IDENTITY_DETECTION", "maybe")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(output_text(&out).contains("WESTON_IDENTITY_DETECTION=\"maybe\": must be on or off"));

    let db = TestDb::migrated("ident_fmp_402_polygon").await;
    let polygon_server = TestServer::start(polygon).await;
    let mut both = fmp_env.to_vec();
    both.extend([
        ("POLYGON_API_KEY", "k"),
        ("WESTON_POLYGON_BASE_URL", polygon_server.base_url.as_str()),
        ("WESTON_POLYGON_RATE_LIMIT", "1000/s"),
        ("WESTON_RECONCILE_SAMPLE", "0"),
    ]);
    let out = run(&db, &fb_args("fmp,polygon", "2022-06-08"), &both);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        polygon_server
            .requests()
            .iter()
            .any(|r| r.path == "/v3/reference/tickers"),
        "Polygon's listing was asked"
    );
}
