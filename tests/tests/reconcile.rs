//! Reconciliation on a real cluster with real HTTP fakes of FMP and Polygon: the nightly
//! `run` loads from FMP and asks Polygon (grouped daily) for the sample's latest session.
//! Rounding differences (FMP's cents and hundreds against Polygon's four decimals and exact
//! shares) are no finding; a real disagreement is one, naming the field and the provider
//! pair; a failing Polygon is reported in the run's stats and by `status`, never read as
//! agreement.

use fake_providers::{Reply, Seen, TestServer};
use weston_tests::{loader_command, output_text, run_loader, TestDb};

const FMP_KEY: &str = "fmp-k3y";
const POLYGON_KEY: &str = "poly-k3y";
const DAY: &str = "2024-03-11";
/// 2024-03-11 in Polygon's epoch milliseconds (as its recorded grouped answer stamps it).
const DAY_MS: i64 = 1_710_187_200_000;

/// FMP as documented: rounded to the cent, volumes to the hundred.
fn fmp(seen: &Seen) -> Reply {
    let bar = match seen.param("symbol") {
        Some("ACME") => {
            r#"{"symbol": "ACME", "date": "2024-03-11", "adjOpen": 130.5, "adjHigh": 131.26, "adjLow": 129.9, "adjClose": 131.26, "volume": 48734500}"#
        }
        Some("BADX") => {
            r#"{"symbol": "BADX", "date": "2024-03-11", "adjOpen": 49.8, "adjHigh": 50.2, "adjLow": 49.5, "adjClose": 50.0, "volume": 1000000}"#
        }
        _ => return fake_providers::fmp::fmp_api(FMP_KEY, seen),
    };
    if seen.param("apikey") != Some(FMP_KEY) {
        return fake_providers::fmp::fmp_api(FMP_KEY, seen);
    }
    let symbol = seen.param("symbol").unwrap_or_default();
    match seen.path.as_str() {
        "/stable/historical-price-eod/non-split-adjusted" => Reply::json(format!("[{bar}]")),
        "/stable/profile" => {
            Reply::json(fake_providers::fixture("fmp_profile_AAPL.json").replace("AAPL", symbol))
        }
        _ => Reply::json("[]"),
    }
}

/// Polygon's grouped daily for the day: ACME agrees but for rounding, BADX's close is 3 %
/// off; or a 500 for every grouped call when `failing`.
fn polygon(failing: bool) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    move |seen: &Seen| {
        if seen.path == format!("/v2/aggs/grouped/locale/us/market/stocks/{DAY}")
            && seen.param("apiKey") == Some(POLYGON_KEY)
        {
            if failing {
                return Reply::status(
                    500,
                    r#"{"status":"ERROR","request_id":"r","error":"internal"}"#,
                );
            }
            return Reply::json(format!(
                r#"{{"queryCount": 2, "resultsCount": 2, "adjusted": false, "status": "OK", "request_id": "r", "count": 2,
                    "results": [
                      {{"T": "ACME", "v": 48734567, "vw": 131.01, "o": 130.5, "c": 131.2636, "h": 131.2636, "l": 129.9, "t": {DAY_MS}, "n": 1}},
                      {{"T": "BADX", "v": 1004321, "vw": 51.2, "o": 51.0, "c": 51.5, "h": 51.6, "l": 50.9, "t": {DAY_MS}, "n": 1}}
                    ]}}"#
            ));
        }
        fake_providers::polygon::polygon_api(POLYGON_KEY, seen)
    }
}

fn run(db: &TestDb, fmp: &TestServer, polygon: &TestServer) -> std::process::Output {
    run_loader(
        db,
        &["run", "--symbols", "ACME,BADX", "--from", DAY, "--to", DAY],
        &[
            ("FMP_API_KEY", FMP_KEY),
            ("WESTON_FMP_BASE_URL", &fmp.base_url),
            ("POLYGON_API_KEY", POLYGON_KEY),
            ("WESTON_POLYGON_BASE_URL", &polygon.base_url),
            ("WESTON_FMP_RATE_LIMIT", "50/s"),
            ("WESTON_POLYGON_RATE_LIMIT", "50/s"),
            ("WESTON_HTTP_MAX_RETRIES", "0"),
            (weston_loader::cli::RECONCILE_SAMPLE_ENV, "10"),
        ],
    )
}

async fn findings(db: &TestDb) -> Vec<(String, String, String, String)> {
    sqlx::query_as(
        "SELECT rule, symbol, date::text, subject FROM quality_findings ORDER BY symbol, subject",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn reconciliation(db: &TestDb) -> serde_json::Value {
    sqlx::query_scalar("SELECT stats->'reconciliation' FROM etl_run ORDER BY run_id DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounding_agrees_and_a_real_disagreement_is_a_finding() {
    let db = TestDb::migrated("reconcile_agree").await;
    let fmp = TestServer::start(fmp).await;
    let polygon = TestServer::start(polygon(false)).await;
    let out = run(&db, &fmp, &polygon);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        findings(&db).await,
        [(
            "provider_disagreement".to_owned(),
            "BADX".to_owned(),
            DAY.to_owned(),
            "close fmp/polygon".to_owned()
        )],
        "ACME's rounding (131.26 / 131.2636, 48734500 / 48734567) is no finding"
    );
    let stats = reconciliation(&db).await;
    assert_eq!(stats["sampled"], 2, "{stats}");
    assert_eq!(stats["compared"], 2, "{stats}");
    assert_eq!(stats["disagreements"], 1, "{stats}");
    let details: serde_json::Value =
        sqlx::query_scalar("SELECT details FROM quality_findings WHERE symbol = 'BADX'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(details["stored"], "50", "{details}");
    assert_eq!(
        details["max_bps"], "25",
        "the threshold is in the details: {details}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_second_provider_is_reported_never_agreement() {
    let db = TestDb::migrated("reconcile_failing").await;
    let fmp = TestServer::start(fmp).await;
    let polygon = TestServer::start(polygon(true)).await;
    let out = run(&db, &fmp, &polygon);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(findings(&db).await, [], "no finding from a failure");
    let stats = reconciliation(&db).await;
    assert_eq!(stats["compared"], 0, "{stats}");
    assert_eq!(
        stats["unanswered"],
        serde_json::json!(["ACME", "BADX"]),
        "{stats}"
    );
    assert!(
        stats["errors"][0]
            .as_str()
            .unwrap_or_default()
            .contains("polygon"),
        "{stats}"
    );
    let status = loader_command(&db, &["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("2 unanswered (not agreeing)") && text.contains("second provider failed"),
        "{text}"
    );
}
