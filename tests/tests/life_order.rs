//! Life events learned in any order: a backfill first (which stores each ticker's
//! metadata as its latest holder describes it: the reused MOCK0703's second company, the
//! moved MOCK0704's new class), then nightly runs through the mock market's events, end in
//! the same state as one run that covers them. And an event the database refuses makes
//! the run `partial`, naming it, and is tried again by later runs until it is recorded.

use weston_tests::{loader_command, output_text, run_loader, TestDb};

const SYMBOLS: &str = "MOCK0001,MOCK0701,MOCK0702,MOCK0703,MOCK0704";
const FROM: &str = "2026-06-01";
const BACKFILL_TO: &str = "2026-07-01";
const TO: &str = "2026-11-25";

fn run(db: &TestDb, args: &[&str]) -> std::process::Output {
    let mut all = vec!["run", "--provider", "mock"];
    all.extend_from_slice(args);
    run_loader(db, &all, &[])
}

/// What the identity, reads and audit of a database say, for comparison: holdings (with
/// their security's identifiers, not its generated id), securities rows, the universe and
/// every ticker's resolution on each day, adjusted closes of every ticker, raw bars per
/// ticker, and the open findings.
async fn state(db: &TestDb) -> Vec<(String, String)> {
    let queries = [
        ("ticker_history",
         "SELECT string_agg(concat_ws(' ', h.symbol, h.valid_from, h.valid_to, i.composite_figi,
                                      i.share_class_figi, i.cik), E'\\n' ORDER BY h.symbol, h.valid_from)
            FROM ticker_history h JOIN security_identity i USING (security_id)"),
        ("security_identity",
         "SELECT string_agg(concat_ws(' ', composite_figi, share_class_figi, cik), E'\\n'
                            ORDER BY composite_figi) FROM security_identity"),
        ("securities",
         "SELECT string_agg(concat_ws(' ', symbol, listed_date, delisted_date, composite_figi,
                                      share_class_figi, cik), E'\\n' ORDER BY symbol) FROM securities"),
        ("universe",
         "SELECT string_agg(d::date || ': ' || (SELECT string_agg(concat_ws(' ', u.symbol, u.listed_date, u.delisted_date), ', ')
                                                  FROM weston_universe(d::date) u), E'\\n' ORDER BY d)
            FROM generate_series(date '2026-06-01', date '2026-11-25', interval '1 day') d"),
        ("resolve",
         "SELECT string_agg(d::date || ' ' || s.symbol || ': ' || coalesce(weston_resolve_symbol(s.symbol, d::date), '-'),
                            E'\\n' ORDER BY s.symbol, d)
            FROM generate_series(date '2026-06-01', date '2026-11-25', interval '1 day') d,
                 (SELECT symbol FROM securities) s"),
        ("adjusted",
         "SELECT string_agg(s.symbol || ' ' || a.date || ' ' || a.close, E'\\n' ORDER BY s.symbol, a.date)
            FROM (SELECT symbol FROM securities) s,
                 weston_adjusted_prices(s.symbol, '2026-06-01', '2026-11-25', '2026-11-25') a"),
        ("bars",
         "SELECT string_agg(symbol || ' ' || n || ' ' || first || '..' || last, E'\\n' ORDER BY symbol)
            FROM (SELECT symbol, count(*) n, min(date) first, max(date) last FROM prices_daily GROUP BY symbol) b"),
        ("findings",
         "SELECT coalesce(string_agg(concat_ws(' ', rule, symbol, date, subject), E'\\n'
                                     ORDER BY rule, symbol, date, subject), '')
            FROM quality_findings WHERE resolved_at IS NULL"),
    ];
    let mut out = Vec::new();
    for (name, sql) in queries {
        let text: Option<String> = sqlx::query_scalar(sql)
            .fetch_one(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name.to_owned(), text.unwrap_or_default()));
    }
    out
}

async fn runs(db: &TestDb) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT status, error FROM etl_run ORDER BY run_id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_then_nightly_runs_end_as_one_run_over_the_events() {
    let once = TestDb::migrated("life_once").await;
    let out = run(&once, &["--symbols", SYMBOLS, "--from", FROM, "--to", TO]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));

    let nightly = TestDb::migrated("life_nightly").await;
    let out = run(
        &nightly,
        &["--symbols", SYMBOLS, "--from", FROM, "--to", BACKFILL_TO],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    // Every weekday after the backfill, the universe's nightly run (holidays included: a
    // `--to` on one loads through the session before).
    let mut day: chrono::NaiveDate = "2026-07-02".parse().unwrap();
    let last: chrono::NaiveDate = TO.parse().unwrap();
    while day <= last {
        if chrono::Datelike::weekday(&day).number_from_monday() <= 5 {
            let to = day.to_string();
            let out = run(&nightly, &["--to", &to]);
            assert_eq!(out.status.code(), Some(0), "{to}: {}", output_text(&out));
        }
        day = day.succ_opt().unwrap();
    }
    let statuses = runs(&nightly).await;
    assert!(
        statuses.iter().all(|(s, _)| s == "succeeded"),
        "{statuses:?}"
    );

    let (a, b) = (state(&once).await, state(&nightly).await);
    for ((name, one), (_, many)) in a.iter().zip(&b) {
        assert!(!one.is_empty() || name == "findings", "{name} is empty");
        assert_eq!(
            one, many,
            "{name}: one run (left) vs backfill then nightly runs (right)"
        );
    }
}

async fn last_run(db: &TestDb) -> (String, serde_json::Value) {
    sqlx::query_as("SELECT status, stats FROM etl_run ORDER BY run_id DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_makes_the_run_partial_and_is_recorded_by_a_later_run() {
    let db = TestDb::migrated("life_refused").await;
    let out = run(
        &db,
        &["--symbols", SYMBOLS, "--from", FROM, "--to", "2026-08-14"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    // Stands for anything that makes the database refuse an event: MOCK0702's holding
    // cannot end while this (planted by the superuser) holds.
    sqlx::query(
        "ALTER TABLE ticker_history ADD CONSTRAINT test_no_end_of_mock0702
             CHECK (symbol <> 'MOCK0702' OR valid_to IS NULL)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let out = run(&db, &["--to", "2026-08-24"]);
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let (status, stats) = last_run(&db).await;
    assert_eq!(status, "partial", "{stats}");
    let refused = stats["identity"]["refused"].to_string();
    assert!(refused.contains("MOCK0702 after 2026-08-21"), "{stats}");
    let error: String =
        sqlx::query_scalar("SELECT error FROM etl_run ORDER BY run_id DESC LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(error.contains("MOCK0702 after 2026-08-21"), "{error}");
    let status_out = loader_command(&db, &["status"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&status_out.stdout).contains("life event refused: MOCK0702"),
        "{}",
        output_text(&status_out)
    );

    // Refused again while the cause stays, by a run whose window no longer has the event.
    let out = run(&db, &["--to", "2026-09-04"]);
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    sqlx::query("ALTER TABLE ticker_history DROP CONSTRAINT test_no_end_of_mock0702")
        .execute(&db.pool)
        .await
        .unwrap();
    let out = run(&db, &["--to", "2026-09-11"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (status, stats) = last_run(&db).await;
    assert_eq!(status, "succeeded", "{stats}");
    assert_eq!(
        stats["identity"]["pending"],
        serde_json::json!([]),
        "{stats}"
    );
    let ended: Option<String> = sqlx::query_scalar(
        "SELECT valid_to::text FROM ticker_history WHERE symbol = 'MOCK0702' ORDER BY valid_from DESC LIMIT 1",
    )
    .fetch_optional(&db.pool)
    .await
    .unwrap()
    .flatten();
    assert_eq!(ended.as_deref(), Some("2026-08-21"));
}

/// A live security the DBA describes by hand: a row and two bars before the change.
async fn plant_live(db: &TestDb, symbol: &str) {
    let dba = db.dba_pool();
    sqlx::query("INSERT INTO securities (symbol, name) VALUES ($1, 'A live company')")
        .bind(symbol)
        .execute(&dba)
        .await
        .unwrap();
    for day in ["2026-09-10", "2026-09-11"] {
        sqlx::query(
            "SELECT weston_correct_bar($1, $2::date, 10, 11, 9, 10.5, 1000, 'listed elsewhere')",
        )
        .bind(symbol)
        .bind(day)
        .execute(&dba)
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_onto_a_live_securitys_ticker_waits_for_a_dbas_decision() {
    let db = TestDb::migrated("life_conflict").await;
    let out = run(
        &db,
        &[
            "--symbols",
            "MOCK0701,MOCK0704",
            "--from",
            "2026-09-01",
            "--to",
            "2026-09-11",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    plant_live(&db, "MOCKR701").await;
    plant_live(&db, "MOCK0704.A").await;
    let symbols = "MOCK0701,MOCK0704,MOCKR701,MOCK0704.A";
    let out = run(&db, &["--symbols", symbols, "--to", "2026-10-23"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (_, stats) = last_run(&db).await;
    let conflicts = stats["identity"]["ticker_conflicts"].to_string();
    assert!(
        conflicts.contains("MOCK0701→MOCKR701 from 2026-09-14"),
        "{stats}"
    );
    assert!(
        conflicts.contains("MOCK0704→MOCK0704.A from 2026-10-19"),
        "{stats}"
    );
    let findings: Vec<(i64, String, String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT finding_id, symbol, date::text, subject, details FROM quality_findings
          WHERE rule = 'ticker_conflict' ORDER BY symbol",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(findings.len(), 2, "{findings:?}");
    let (moved_id, renamed_id) = (findings[0].0, findings[1].0);
    assert_eq!(
        (
            findings[1].1.as_str(),
            findings[1].2.as_str(),
            findings[1].3.as_str()
        ),
        ("MOCKR701", "2026-09-14", "MOCK0701")
    );
    assert_eq!(findings[1].4["provider"], "mock");
    assert_eq!(findings[1].4["old"], "MOCK0701");
    assert_eq!(findings[1].4["new"], "MOCKR701");
    assert_eq!(findings[1].4["effective"], "2026-09-14");
    // Neither history changed: the live tickers are still their own, the old ones open.
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ticker_history WHERE symbol IN ('MOCKR701', 'MOCK0704.A') OR valid_to IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(held, 0);
    let resolved: Option<String> =
        sqlx::query_scalar("SELECT weston_resolve_symbol('MOCKR701', '2026-09-11')")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(resolved.as_deref(), Some("MOCKR701"));

    // Only dba decides; not while the other security still holds the ticker.
    let loader = db.loader_pool();
    let denied = sqlx::query("SELECT weston_decide_ticker_conflict($1, true, 'mine')")
        .bind(renamed_id)
        .execute(&loader)
        .await
        .unwrap_err();
    assert!(denied.to_string().contains("permission denied"), "{denied}");
    let dba = db.dba_pool();
    let refused =
        sqlx::query("SELECT weston_decide_ticker_conflict($1, true, 'the provider is right')")
            .bind(renamed_id)
            .execute(&dba)
            .await
            .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("another security still holds MOCKR701 on 2026-09-14"),
        "{refused}"
    );
    sqlx::query("SELECT weston_decide_ticker_conflict($1, false, 'MOCKR701 is another company')")
        .bind(renamed_id)
        .execute(&dba)
        .await
        .unwrap();
    // The other: the DBA ends the live holder's row first, then accepts.
    sqlx::query("UPDATE securities SET delisted_date = '2026-09-11' WHERE symbol = 'MOCK0704.A'")
        .execute(&dba)
        .await
        .unwrap();
    sqlx::query(
        "SELECT weston_decide_ticker_conflict($1, true, 'the old MOCK0704.A left on 09-11')",
    )
    .bind(moved_id)
    .execute(&dba)
    .await
    .unwrap();
    let decided: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT f.symbol, f.resolution, c.by_role FROM quality_findings f
           JOIN weston_corrections c ON c.action = 'decide_ticker_conflict' AND c.symbol = f.symbol
          WHERE f.rule = 'ticker_conflict' ORDER BY f.symbol",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        decided,
        vec![
            (
                "MOCK0704.A".into(),
                Some("true_event".into()),
                "weston_test_dba".into()
            ),
            (
                "MOCKR701".into(),
                Some("false_positive".into()),
                "weston_test_dba".into()
            ),
        ]
    );
    let history = |symbol: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_as::<_, (String, String, Option<String>)>(
                "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history($1, '2026-10-23')",
            )
            .bind(symbol)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let moved = history("MOCK0704.A").await;
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert_eq!(moved[0].0, "MOCK0704");
    assert_eq!(moved[1], ("MOCK0704.A".into(), "2026-10-19".into(), None));
    // The old MOCK0704.A stays a security of its own, its bars its own.
    assert_eq!(
        history("MOCK0704.A").await.len(),
        2,
        "as of today MOCK0704.A names the moved security"
    );
    let old_holder: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history('MOCK0704.A', '2026-10-01')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        old_holder,
        vec![(
            "MOCK0704.A".into(),
            "2026-09-10".into(),
            Some("2026-09-11".into())
        )]
    );

    // A later run records neither the rejected change nor a new finding.
    let out = run(&db, &["--symbols", symbols, "--to", "2026-10-30"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (open, renamed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM quality_findings WHERE rule = 'ticker_conflict' AND resolved_at IS NULL),
                (SELECT count(*) FROM ticker_history WHERE symbol IN ('MOCK0701', 'MOCKR701') AND valid_to IS NOT NULL)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((open, renamed), (0, 0));
}
