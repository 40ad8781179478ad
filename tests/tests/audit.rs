//! The data-quality audit on a real cluster: the mock market with planted errors
//! (`WESTON_MOCK_PLANTED_ERRORS`) loaded by the real `weston-loader run`, which audits what
//! it loaded, then `weston-loader audit` over the range. Each rule finds its planted cases
//! and nothing else; a finding seen again is not duplicated; a resolved finding stays
//! resolved; the thresholds are read from `quality_thresholds`; the clean market (with its
//! recorded splits and dividends) yields no finding.

use std::collections::BTreeSet;

use weston_loader::providers::mock::planted;
use weston_tests::{output_text, run_loader, TestDb};

/// The planted window: March 2021, 2022 and 2023 hold every plant.
const FROM: &str = "2021-01-04";
const TO: &str = "2023-06-30";
/// Clean symbols loaded next to the planted ones (MOCK0001..3 split every few months).
const CLEAN: [&str; 6] = [
    "MOCK0001", "MOCK0002", "MOCK0003", "MOCK0020", "MOCK0021", "MOCK0022",
];
/// A bar on a Saturday, inserted by hand: the loader never asks a provider for one.
const SATURDAY: (&str, &str) = ("MOCK0020", "2022-06-04");

type Key = (String, String, String);

fn planted_symbols() -> Vec<String> {
    let symbols: BTreeSet<String> = planted::plants().into_iter().map(|p| p.symbol).collect();
    symbols.into_iter().collect()
}

fn expected() -> BTreeSet<Key> {
    let mut keys: BTreeSet<Key> = planted::plants()
        .into_iter()
        .map(|p| (p.rule.to_string(), p.symbol, p.finding_date.to_string()))
        .collect();
    keys.insert((
        "non_session_bar".into(),
        SATURDAY.0.into(),
        SATURDAY.1.into(),
    ));
    keys
}

fn loader(db: &TestDb, args: &[&str], planted: bool) -> std::process::Output {
    let planted = if planted { "true" } else { "false" };
    let out = run_loader(db, args, &[(weston_loader::cli::MOCK_PLANTED_ENV, planted)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        output_text(&out)
    );
    out
}

fn run(db: &TestDb, symbols: &[String], (from, to): (&str, &str), planted: bool) {
    let symbols = symbols.join(",");
    loader(
        db,
        &[
            "run",
            "--provider",
            "mock",
            "--symbols",
            &symbols,
            "--from",
            from,
            "--to",
            to,
        ],
        planted,
    );
}

fn audit(db: &TestDb) -> String {
    let out = loader(db, &["audit", "--from", FROM, "--to", TO], false);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn findings(db: &TestDb) -> BTreeSet<Key> {
    let rows: Vec<Key> =
        sqlx::query_as("SELECT rule, symbol, date::text FROM quality_findings WHERE subject = ''")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    rows.into_iter().collect()
}

async fn scalar_i64(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rule_finds_its_planted_errors_once_and_resolutions_stay() {
    let db = TestDb::migrated("audit_planted").await;
    let mut symbols = planted_symbols();
    symbols.extend(CLEAN.iter().map(|s| s.to_string()));
    run(&db, &symbols, (FROM, TO), true);

    // The run audited its window: every planted error but the hand-made one is found.
    let mut by_run = expected();
    by_run.retain(|k| k.0 != "non_session_bar");
    assert_eq!(findings(&db).await, by_run, "the run's own audit");
    let run_id = scalar_i64(&db, "SELECT max(run_id) FROM etl_run").await;

    sqlx::query(
        "INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, vwap, provider, run_id)
         SELECT symbol, $2::date, open, high, low, close, volume, vwap, provider, run_id
           FROM prices_daily WHERE symbol = $1 AND date = $2::date - 1",
    )
    .bind(SATURDAY.0)
    .bind(SATURDAY.1)
    .execute(&db.pool)
    .await
    .unwrap();

    let printed = audit(&db);
    assert!(printed.contains("non_session_bar 1"), "{printed}");
    assert_eq!(
        findings(&db).await,
        expected(),
        "every planted error, nothing else"
    );
    let audit_run = scalar_i64(&db, "SELECT max(run_id) FROM etl_run").await;
    let (job, status): (String, String) =
        sqlx::query_as("SELECT job_name, status FROM etl_run WHERE run_id = $1")
            .bind(audit_run)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (job.as_str(), status.as_str()),
        ("weston-loader audit", "succeeded")
    );
    let (first, last): (i64, i64) = sqlx::query_as(
        "SELECT min(first_run), min(last_run) FROM quality_findings WHERE rule = 'unit_error'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (first, last),
        (run_id, audit_run),
        "first seen by the run, last by the audit"
    );
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM quality_findings WHERE rule = 'stale_bars' ORDER BY date LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(details["sessions"], 4, "{details}");
    assert_eq!(
        details["min_sessions"], 3,
        "the threshold is in the details: {details}"
    );

    // A dba resolves one (weston_resolve_finding is the corrections helper's; a plain
    // UPDATE as the superuser stands in for it here) and spoils its details to see them kept.
    let resolved = sqlx::query(
        "UPDATE quality_findings SET resolution = 'false_positive', resolved_at = now(),
                resolved_by = 'tester', details = '{\"kept\": true}'
          WHERE rule = 'unit_error' AND symbol = 'MOCK0130'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    assert_eq!(resolved.rows_affected(), 1);
    let count = scalar_i64(&db, "SELECT count(*) FROM quality_findings").await;

    audit(&db);
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM quality_findings").await,
        count,
        "seen again, not duplicated"
    );
    let again = scalar_i64(&db, "SELECT max(run_id) FROM etl_run").await;
    let (resolution, details, last): (Option<String>, serde_json::Value, i64) = sqlx::query_as(
        "SELECT resolution, details, last_run FROM quality_findings
          WHERE rule = 'unit_error' AND symbol = 'MOCK0130'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        resolution.as_deref(),
        Some("false_positive"),
        "stays resolved"
    );
    assert_eq!(
        details,
        serde_json::json!({"kept": true}),
        "its details are kept"
    );
    assert_eq!(last, again, "only last_run moved");
    assert_eq!(
        scalar_i64(
            &db,
            &format!("SELECT count(*) FROM quality_findings WHERE last_run <> {again}")
        )
        .await,
        0,
        "every finding was seen again"
    );

    // The thresholds are data: four stale sessions are no longer enough at five.
    sqlx::query(
        "UPDATE quality_thresholds SET params = params || '{\"stale_sessions\": 5}' WHERE rule = 'stale_bars'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let printed = audit(&db);
    assert!(!printed.contains("stale_bars"), "{printed}");
    let latest = scalar_i64(&db, "SELECT max(run_id) FROM etl_run").await;
    assert_eq!(
        scalar_i64(
            &db,
            &format!("SELECT count(*) FROM quality_findings WHERE rule = 'stale_bars' AND last_run = {latest}")
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clean_market_yields_no_finding() {
    let db = TestDb::migrated("audit_clean").await;
    // The planted symbols without their plants, and the splitting ones: all clean.
    let mut symbols = planted_symbols();
    symbols.extend(CLEAN.iter().map(|s| s.to_string()));
    run(&db, &symbols, (FROM, TO), false);
    let printed = audit(&db);
    assert!(printed.contains(": 0 findings"), "{printed}");
    assert_eq!(findings(&db).await, BTreeSet::new());
    assert!(
        scalar_i64(&db, "SELECT count(*) FROM splits").await > 5,
        "splits were recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeded_thresholds_are_the_loaders_defaults() {
    let db = TestDb::migrated("audit_thresholds").await;
    // Read as the loader reads them.
    let loader = db.loader_pool();
    let mut conn = loader.acquire().await.unwrap();
    let read = weston_loader::audit::thresholds(&mut conn).await.unwrap();
    assert_eq!(read, weston_loader::quality::Thresholds::default());
}

/// `(symbols audited, unchanged, bars read)` of run `run_id`'s audit.
async fn audited(db: &TestDb, run_id: i64) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (stats->'audit'->>'symbols')::bigint, (stats->'audit'->>'unchanged')::bigint,
                (stats->'audit'->>'bars')::bigint
           FROM etl_run WHERE run_id = $1",
    )
    .bind(run_id)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// A run audits what it changed, with the context of the rules, not the whole window it
/// loaded: a replay that changes nothing reads no bar; one that writes again the sessions
/// around a planted error finds it again; the findings stay those of the whole window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_audits_what_it_changed_and_finds_the_same() {
    let db = TestDb::migrated("audit_changed").await;
    let mut symbols = planted_symbols();
    symbols.extend(CLEAN.iter().map(|s| s.to_string()));
    run(&db, &symbols, (FROM, TO), true);
    let whole = findings(&db).await;
    let first = scalar_i64(&db, "SELECT max(run_id) FROM etl_run").await;
    let (audited_symbols, unchanged, whole_bars) = audited(&db, first).await;
    assert_eq!((audited_symbols, unchanged), (symbols.len() as i64, 0));

    run(&db, &symbols, (FROM, TO), true);
    let replay = scalar_i64(&db, "SELECT max(run_id) FROM etl_run").await;
    assert_eq!(
        audited(&db, replay).await,
        (0, symbols.len() as i64, 0),
        "a replay that changed nothing reads nothing"
    );
    assert_eq!(findings(&db).await, whole);

    // The sessions around a planted unit error lost (a superuser stands in for whatever lost
    // them), and its finding with them: the next replay writes them again and finds it.
    let plant = planted::plants()
        .into_iter()
        .find(|p| p.rule == "unit_error")
        .unwrap();
    let deleted = sqlx::query(
        "DELETE FROM prices_daily WHERE symbol = $1 AND date BETWEEN $2::date - 3 AND $2::date + 3",
    )
    .bind(&plant.symbol)
    .bind(plant.date)
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(deleted.rows_affected() >= 3);
    sqlx::query(
        "DELETE FROM quality_findings WHERE rule = 'unit_error' AND symbol = $1 AND date = $2",
    )
    .bind(&plant.symbol)
    .bind(plant.finding_date)
    .execute(&db.pool)
    .await
    .unwrap();
    run(&db, &symbols, (FROM, TO), true);
    let repair = scalar_i64(&db, "SELECT max(run_id) FROM etl_run").await;
    let (audited_symbols, unchanged, bars) = audited(&db, repair).await;
    assert_eq!((audited_symbols, unchanged), (1, symbols.len() as i64 - 1));
    assert!(
        bars > 0 && bars * 10 < whole_bars,
        "{bars} bars read of {whole_bars}"
    );
    assert_eq!(
        findings(&db).await,
        whole,
        "the same findings as the whole window's"
    );
    let first_run: i64 = sqlx::query_scalar(
        "SELECT first_run FROM quality_findings WHERE rule = 'unit_error' AND symbol = $1 AND date = $2",
    )
    .bind(&plant.symbol)
    .bind(plant.finding_date)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        first_run, repair,
        "found again by the run that changed its sessions"
    );
}

/// The audit's fast `numeric` decoding gives what sqlx's gives, value and scale, for the
/// numerics PostgreSQL sends: integers, fractions, zeros at any scale, negatives, the
/// largest `Decimal`, and a spread of generated ones.
#[tokio::test]
async fn numerics_decode_as_sqlx_decodes_them() {
    let db = TestDb::migrated("audit_numeric").await;
    let mut texts: Vec<String> = [
        "0",
        "0.00",
        "-0.0",
        "1",
        "-1",
        "0.0001",
        "0.00001",
        "10000",
        "100000000",
        "131.2636",
        "48734500.00",
        "0.000000000000000000000000001",
        "79228162514264337593543950335",
        "-79228162514264337593543950335",
        "7922816251426433759354395033.5",
        "1.0000000000000000000000000001",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mantissa = (x % 10u64.pow((x % 15 + 1) as u32)) as i64;
        let scale = ((x >> 20) % 13) as u32;
        let sign = if (x >> 40).is_multiple_of(5) { -1 } else { 1 };
        texts.push(rust_decimal::Decimal::new(sign * mantissa, scale).to_string());
    }
    let rows: Vec<(
        rust_decimal::Decimal,
        weston_loader::numeric::Numeric,
        String,
    )> = sqlx::query_as(
        "SELECT s::numeric, s::numeric, s::numeric::text FROM unnest($1::text[]) AS t(s)",
    )
    .bind(&texts)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), texts.len());
    for (sqlx_decoded, fast, text) in rows {
        assert_eq!(
            (fast.0, fast.0.to_string()),
            (sqlx_decoded, sqlx_decoded.to_string()),
            "{text}"
        );
    }
}
