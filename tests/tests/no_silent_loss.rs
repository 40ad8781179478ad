//! The real `weston-loader run` on a real cluster, FMP's calendars failing (404, plan
//! refusal, timeout, garbage): no split is lost (FMP's per-symbol endpoint or Polygon's
//! listing supplies it), and when nobody can answer for a symbol the run says so: status
//! `partial`, exit 3, the symbol and kind named in `etl_run.stats` and by `status`.

use std::process::Output;

use fake_providers::{Fault, Reply, Seen, TestServer};
use weston_tests::{loader_command, output_text, run_loader, TestDb};

const FMP_KEY: &str = "fmp-k3y";
const POLYGON_KEY: &str = "poly-k3y";

// Longer than WESTON_HTTP_TIMEOUT_SECS below, for the timeout.
const FAULTS: [Fault; 4] = [
    Fault::NotFound,
    Fault::Refused(402),
    Fault::TimedOut,
    Fault::Garbage(r#"{"unexpected": true}"#),
];

/// FMP as documented (AAPL split 4-for-1 on 2020-08-31), its calendars failing with
/// `fault`, and its per-symbol splits of MSFT too when `msft_fails`.
fn fmp(fault: Fault, msft_fails: bool) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    move |seen: &Seen| match seen.path.as_str() {
        "/stable/splits-calendar" | "/stable/dividends-calendar" => fault.reply(),
        "/stable/splits" if msft_fails && seen.param("symbol") == Some("MSFT") => fault.reply(),
        _ => fake_providers::fmp::fmp_api(FMP_KEY, seen),
    }
}

fn run(db: &TestDb, fmp: &TestServer, polygon: Option<&TestServer>) -> Output {
    let mut env = vec![
        ("WESTON_FMP_RATE_LIMIT", "50/s"),
        ("WESTON_POLYGON_RATE_LIMIT", "50/s"),
        ("WESTON_HTTP_MAX_RETRIES", "1"),
        ("WESTON_HTTP_TIMEOUT_SECS", "1"),
        ("FMP_API_KEY", FMP_KEY),
        ("WESTON_FMP_BASE_URL", &fmp.base_url),
    ];
    if let Some(polygon) = polygon {
        env.push(("POLYGON_API_KEY", POLYGON_KEY));
        env.push(("WESTON_POLYGON_BASE_URL", &polygon.base_url));
    }
    let args = [
        "run",
        "--symbols",
        "AAPL,MSFT",
        "--from",
        "2020-08-27",
        "--to",
        "2020-08-31",
    ];
    run_loader(db, &args, &env)
}

async fn splits(db: &TestDb) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT symbol, date::text, numerator::text || ':' || denominator::text FROM splits ORDER BY symbol, date",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn last_run(db: &TestDb) -> (String, Option<String>, serde_json::Value) {
    sqlx::query_as("SELECT status, error, stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_calendar_loses_no_split_with_fmp_alone() {
    for fault in FAULTS {
        let db = TestDb::migrated(&format!("calendar_fmp_{fault:?}").to_lowercase()).await;
        let server = TestServer::start(fmp(fault, false)).await;
        let out = run(&db, &server, None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{fault:?}: {}",
            output_text(&out)
        );
        assert_eq!(
            splits(&db).await,
            [("AAPL".to_owned(), "2020-08-31".to_owned(), "4:1".to_owned())],
            "{fault:?}: FMP's per-symbol endpoint supplied the split"
        );
        assert_eq!(last_run(&db).await.0, "succeeded", "{fault:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_calendar_loses_no_split_when_polygon_lists_them() {
    for fault in FAULTS {
        let db = TestDb::migrated(&format!("calendar_poly_{fault:?}").to_lowercase()).await;
        let fmp_server = TestServer::start(fmp(fault, false)).await;
        let polygon = TestServer::start(|seen: &Seen| {
            fake_providers::polygon::polygon_api(POLYGON_KEY, seen)
        })
        .await;
        let out = run(&db, &fmp_server, Some(&polygon));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{fault:?}: {}",
            output_text(&out)
        );
        let stored: Vec<(String, String)> =
            sqlx::query_as("SELECT symbol || ' ' || date::text, provider FROM splits")
                .fetch_all(&db.pool)
                .await
                .unwrap();
        assert_eq!(
            stored,
            [("AAPL 2020-08-31".to_owned(), "polygon".to_owned())],
            "{fault:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbol_nobody_can_answer_for_makes_the_run_partial_and_is_named() {
    for fault in FAULTS {
        let db = TestDb::migrated(&format!("calendar_partial_{fault:?}").to_lowercase()).await;
        let fmp_server = TestServer::start(fmp(fault, true)).await;
        let polygon = TestServer::start(|_: &Seen| Reply::status(503, "down")).await;
        let out = run(&db, &fmp_server, Some(&polygon));
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(3), "{fault:?}: {text}");
        assert!(text.contains("partial") && text.contains("MSFT"), "{text}");
        let (status, error, stats) = last_run(&db).await;
        assert_eq!(status, "partial", "{fault:?}");
        assert!(error.unwrap_or_default().contains("MSFT (splits)"));
        let unserved = stats["unserved"].as_array().expect("stats.unserved");
        assert_eq!(unserved.len(), 1, "{stats}");
        assert_eq!(unserved[0]["symbol"], "MSFT");
        assert_eq!(unserved[0]["kinds"], serde_json::json!(["splits"]));
        // AAPL is loaded with its split; MSFT is left out whole, to be asked again.
        assert_eq!(
            splits(&db).await,
            [("AAPL".to_owned(), "2020-08-31".to_owned(), "4:1".to_owned())]
        );
        let msft_rows: i64 =
            sqlx::query_scalar("SELECT count(*) FROM prices_daily WHERE symbol = 'MSFT'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(msft_rows, 0);
        let status = loader_command(&db, &["status"]).output().unwrap();
        let shown = output_text(&status);
        assert!(
            shown.contains("partial") && shown.contains("not served: MSFT (splits)"),
            "{shown}"
        );
    }
}
