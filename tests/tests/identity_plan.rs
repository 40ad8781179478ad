//! The run that learns a ticker change loads the new ticker from its first day under that
//! name, in that same run, whatever the window: a replay through a past rename with no
//! `--from`, and the nightly run on the night of the rename. Which listed changes are
//! recorded: one listed with two dates gives the same history in either row order; one
//! dated before the old ticker's first stored bar is not recorded. FMP's documented
//! listings and bars are served by a local HTTP server; the loader runs as the etl_writer
//! login, the reads as an analyst's app_ro login.

use chrono::{Duration, NaiveDate, Utc};
use fake_providers::{Reply, Seen, TestServer};
use weston_loader::calendar;
use weston_tests::{output_text, run_loader, TestDb};

/// One ticker's daily closes (as FMP's non-split-adjusted endpoint gives them).
type Bars = Vec<(String, NaiveDate, &'static str)>;

/// FMP listing `old`→`new` effective `effective` (every change listed in `changes`,
/// in that order) and serving `bars`, each filtered to the asked `from`..`to`.
fn fmp_market(seen: &Seen, changes: &[(String, String, NaiveDate)], bars: &Bars) -> Reply {
    match seen.path.as_str() {
        "/stable/symbol-change" => {
            let rows: Vec<String> = changes
                .iter()
                .map(|(old, new, date)| {
                    format!(r#"{{"date":"{date}","companyName":"X","oldSymbol":"{old}","newSymbol":"{new}"}}"#)
                })
                .collect();
            Reply::json(format!("[{}]", rows.join(",")))
        }
        "/stable/historical-price-eod/non-split-adjusted" => {
            let symbol = seen.param("symbol").unwrap_or_default();
            let from = seen.param("from").unwrap_or("0000");
            let to = seen.param("to").unwrap_or("9999");
            let body: Vec<String> = bars
                .iter()
                .filter(|(s, d, _)| s == symbol && d.to_string().as_str() >= from && d.to_string().as_str() <= to)
                .map(|(s, d, c)| format!(
                    r#"{{"symbol":"{s}","date":"{d}","adjOpen":{c},"adjHigh":{c},"adjLow":{c},"adjClose":{c},"volume":1000}}"#
                ))
                .collect();
            Reply::json(format!("[{}]", body.join(",")))
        }
        _ => Reply::json("[]"),
    }
}

async fn serve(changes: Vec<(String, String, NaiveDate)>, bars: Bars) -> TestServer {
    TestServer::start(move |seen| fmp_market(seen, &changes, &bars)).await
}

fn run(db: &TestDb, fmp: &TestServer, args: &[&str]) -> std::process::Output {
    let env = [
        ("FMP_API_KEY", "k"),
        ("WESTON_FMP_BASE_URL", fmp.base_url.as_str()),
        ("WESTON_FMP_RATE_LIMIT", "50/s"),
        ("WESTON_HTTP_MAX_RETRIES", "0"),
        ("WESTON_HTTP_TIMEOUT_SECS", "5"),
    ];
    run_loader(db, args, &env)
}

/// `run --provider fmp --symbols symbol --from from --to to`, which must succeed.
fn run_symbol(db: &TestDb, fmp: &TestServer, symbol: &str, (from, to): (&str, &str)) {
    let args = [
        "run",
        "--provider",
        "fmp",
        "--symbols",
        symbol,
        "--from",
        from,
        "--to",
        to,
    ];
    let out = run(db, fmp, &args);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

/// `symbol`'s stored bars as (date, close, the run that wrote it).
async fn stored(db: &TestDb, symbol: &str) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT date::text, close::text, run_id FROM prices_daily WHERE symbol = $1 ORDER BY date",
    )
    .bind(symbol)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// The adjusted closes of June 2022 of the security `symbol` names, read as an analyst.
async fn june_closes(db: &TestDb, symbol: &str) -> Vec<String> {
    let analyst = db.analyst_pool();
    let closes = sqlx::query_scalar(
        "SELECT close::text FROM weston_adjusted_prices($1, '2022-06-01', '2022-06-30') ORDER BY date",
    )
    .bind(symbol)
    .fetch_all(&analyst)
    .await
    .unwrap();
    analyst.close().await;
    closes
}

async fn last_run(db: &TestDb) -> (i64, String, serde_json::Value) {
    sqlx::query_as("SELECT run_id, status, stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

fn d(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_through_a_past_rename_loads_the_new_ticker_from_its_first_day() {
    let db = TestDb::migrated("plan_replay").await;
    let bars: Bars = vec![
        ("FB".into(), d("2022-06-06"), "194.25"),
        ("FB".into(), d("2022-06-07"), "195.65"),
        ("FB".into(), d("2022-06-08"), "196.64"),
        ("META".into(), d("2022-06-09"), "184"),
        ("META".into(), d("2022-06-10"), "175.57"),
    ];
    let changes = vec![("FB".into(), "META".into(), d("2022-06-09"))];
    let fmp = serve(changes, bars).await;
    run_symbol(&db, &fmp, "FB", ("2022-06-06", "2022-06-08"));
    // The replay goes on through the rename with the universe's default windows: FB's
    // starts a week before its last bar; META has no bars, and 180 days back from today
    // is long after 2022-06-10.
    let out = run(
        &db,
        &fmp,
        &["run", "--provider", "fmp", "--to", "2022-06-10"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (run_id, status, stats) = last_run(&db).await;
    assert_eq!(status, "succeeded", "{stats}");
    assert_eq!(
        stats["identity"]["renamed"],
        serde_json::json!(["FB→META from 2022-06-09 (fmp)"]),
        "{stats}"
    );
    assert_eq!(
        stored(&db, "META").await,
        vec![
            ("2022-06-09".into(), "184".into(), run_id),
            ("2022-06-10".into(), "175.57".into(), run_id),
        ],
        "the run that learned the rename loads META from its first day: {stats}"
    );
    // Nothing was asked of META before its first day under that name.
    let early = fmp
        .requests()
        .iter()
        .filter(|r| r.param("symbol") == Some("META"))
        .filter(|r| r.param("from").is_some_and(|f| f < "2022-06-09"))
        .count();
    assert_eq!(early, 0);
    let closes = june_closes(&db, "META").await;
    assert_eq!(closes, ["194.25", "195.65", "196.64", "184", "175.57"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_run_on_the_night_of_a_rename_loads_the_new_ticker() {
    let db = TestDb::migrated("plan_nightly").await;
    // Tonight's last completed session is the new ticker's first day.
    let session = calendar::last_completed_session(Utc::now());
    let before = calendar::previous_trading_day(session);
    let start = before - Duration::days(14);
    let mut bars: Bars = calendar::trading_days(start, before)
        .into_iter()
        .map(|day| ("OLDT".to_owned(), day, "10.5"))
        .collect();
    bars.push(("NEWT".into(), session, "11.25"));
    let fmp = serve(vec![("OLDT".into(), "NEWT".into(), session)], bars).await;
    let (from, to) = (start.to_string(), before.to_string());
    run_symbol(&db, &fmp, "OLDT", (&from, &to));
    // The nightly run: no window given, the universe is OLDT.
    let out = run(&db, &fmp, &["run", "--provider", "fmp"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (run_id, status, stats) = last_run(&db).await;
    assert_eq!(status, "succeeded", "{stats}");
    assert_eq!(
        stats["identity"]["renamed"],
        serde_json::json!([format!("OLDT→NEWT from {session} (fmp)")]),
        "{stats}"
    );
    assert_eq!(
        stored(&db, "NEWT").await,
        vec![(session.to_string(), "11.25".into(), run_id)],
        "tonight's run loads tonight's new ticker: {stats}"
    );
}

/// The tickers of the security `symbol` names at the end of 2022, with their ranges.
async fn history(db: &TestDb, symbol: &str) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history($1, '2022-12-30')",
    )
    .bind(symbol)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_listed_with_two_dates_gives_one_history_whatever_the_rows_order() {
    let bars: Bars = vec![
        ("FB".into(), d("2022-06-06"), "194.25"),
        ("FB".into(), d("2022-06-07"), "195.65"),
        ("FB".into(), d("2022-06-08"), "196.64"),
        ("META".into(), d("2022-06-09"), "184"),
        ("META".into(), d("2022-06-10"), "175.57"),
    ];
    let (early, late) = (
        ("FB".to_owned(), "META".to_owned(), d("2022-06-07")),
        ("FB".to_owned(), "META".to_owned(), d("2022-06-09")),
    );
    let mut states = Vec::new();
    for (tag, changes) in [
        ("plan_twice_a", vec![early.clone(), late.clone()]),
        ("plan_twice_b", vec![late.clone(), early.clone()]),
    ] {
        let db = TestDb::migrated(tag).await;
        let fmp = serve(changes, bars.clone()).await;
        run_symbol(&db, &fmp, "FB", ("2022-06-06", "2022-06-10"));
        let (_, status, stats) = last_run(&db).await;
        assert_eq!(status, "succeeded", "{stats}");
        assert_eq!(
            stats["identity"]["conflicts"],
            serde_json::json!([]),
            "{stats}"
        );
        assert_eq!(
            stats["identity"]["rejected"],
            serde_json::json!([
                "fmp FB→META dated 2022-06-07 not recorded: the same change is also reported \
                 for 2022-06-09, kept as the latest reported"
            ]),
            "{stats}"
        );
        let closes = june_closes(&db, "META").await;
        states.push((history(&db, "META").await, closes));
    }
    assert_eq!(states[0], states[1], "the rows' order decides nothing");
    assert_eq!(
        states[0].0,
        vec![
            ("FB".into(), "2022-06-06".into(), Some("2022-06-08".into())),
            ("META".into(), "2022-06-09".into(), None),
        ]
    );
    assert_eq!(states[0].1, ["194.25", "195.65", "196.64", "184", "175.57"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_dated_before_the_old_tickers_first_bar_is_not_recorded() {
    let db = TestDb::migrated("plan_before_first").await;
    let bars: Bars = ["2022-06-06", "2022-06-07", "2022-06-08", "2022-06-09"]
        .into_iter()
        .map(|day| ("ABC".to_owned(), d(day), "20.5"))
        .collect();
    // An earlier holder of ABC was renamed on 2022-06-01, days before our ABC's first bar.
    let fmp = serve(vec![("ABC".into(), "ABCD".into(), d("2022-06-01"))], bars).await;
    run_symbol(&db, &fmp, "ABC", ("2022-06-06", "2022-06-08"));
    // A wider window lists the change: it would leave every stored ABC bar under no name.
    run_symbol(&db, &fmp, "ABC", ("2022-05-31", "2022-06-09"));
    let (_, status, stats) = last_run(&db).await;
    assert_eq!(status, "succeeded", "{stats}");
    assert_eq!(
        stats["identity"]["renamed"],
        serde_json::json!([]),
        "{stats}"
    );
    let rejected = stats["identity"]["rejected"].to_string();
    assert!(
        rejected.contains(
            "ABC→ABCD dated 2022-06-01 not recorded: ABC's first stored bar is 2022-06-06"
        ),
        "{stats}"
    );
    let closes = june_closes(&db, "ABC").await;
    assert_eq!(closes, ["20.5", "20.5", "20.5", "20.5"]);
    let analyst = db.analyst_pool();
    let resolved: Option<String> =
        sqlx::query_scalar("SELECT weston_resolve_symbol('ABC', '2022-06-07')")
            .fetch_one(&analyst)
            .await
            .unwrap();
    assert_eq!(resolved.as_deref(), Some("ABC"));
    analyst.close().await;
    let abcd: i64 = sqlx::query_scalar("SELECT count(*) FROM securities WHERE symbol = 'ABCD'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(abcd, 0, "nothing of the change is written");
}
