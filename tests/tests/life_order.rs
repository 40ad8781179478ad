//! Life events learned in any order: a backfill first (which stores each ticker's
//! metadata as its latest holder describes it: the reused MOCK0703's second company, the
//! moved MOCK0704's new class), then nightly runs through the mock market's events, end in
//! the same state as one run that covers them. And an event the database refuses makes
//! the run `partial`, naming it, and is tried again by later runs until it is recorded.

use weston_tests::{loader_command, output_text, TestDb};

const SYMBOLS: &str = "MOCK0001,MOCK0701,MOCK0702,MOCK0703,MOCK0704";
const FROM: &str = "2026-06-01";
const BACKFILL_TO: &str = "2026-07-01";
const TO: &str = "2026-11-25";

fn run(db: &TestDb, args: &[&str]) -> std::process::Output {
    let mut all = vec!["run", "--provider", "mock"];
    all.extend_from_slice(args);
    loader_command(db, &all).output().expect("run weston-loader")
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
        assert_eq!(one, many, "{name}: one run (left) vs backfill then nightly runs (right)");
    }
}
