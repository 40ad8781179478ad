//! The close kept with each dividend (migration 0047, `weston_data.dividend_closes`): after
//! every kind of write (the loader's nightly as etl_writer, a DBA's corrections, a bar
//! deleted, moved and written back, a dividend added before any bar, moved and deleted) it
//! is the last bar of the dividend's ticker before its ex-date; the total-return read takes
//! it (a planted wrong one shows) and gives what the lookups give (a read with `known_on`,
//! which never takes it), across a rename and a reused ticker; and a close dated in a month
//! that retention may have retired is looked up instead of taken.

use sqlx::PgPool;
use weston_tests::{login_in_group, query_text as text, TestDb};

/// The mock market's window (fixed, so it holds the same events on any day).
const FROM: &str = "2026-03-02";
const TO: &str = "2026-08-31";

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The dividends whose kept close is not the last bar of their ticker before the ex-date
/// (or that have no kept row, or a kept row without a dividend).
const WRONG_KEPT: &str = "
SELECT coalesce(string_agg(coalesce(d.symbol, k.symbol) || ' ' || coalesce(d.ex_date, k.ex_date)
                           || ': kept ' || coalesce(k.close_date::text, '-') || ' ' || coalesce(k.close::text, '-')
                           || ', bars ' || coalesce(b.date::text, '-') || ' ' || coalesce(b.close::text, '-'), '; '), 'none')
  FROM weston_data.dividends d
  FULL JOIN weston_data.dividend_closes k ON k.symbol = d.symbol AND k.ex_date = d.ex_date
  LEFT JOIN LATERAL (SELECT p.date, p.close FROM weston_data.prices_daily p
                      WHERE p.symbol = d.symbol AND p.date < d.ex_date ORDER BY p.date DESC LIMIT 1) b ON true
 WHERE d.symbol IS NULL OR k.symbol IS NULL
    OR ROW(k.close_date, k.close::text) IS DISTINCT FROM ROW(b.date, b.close::text)";

/// Every stored symbol's total-return factors over all its dividends, and the window's
/// adjusted bars of all of them (a sub-select argument), as today's read gives them and
/// as a read as known now gives them (`known` substituted for `{k}`).
fn reads(known: &str) -> Vec<String> {
    let k = |s: &str| s.replace("{k}", known);
    vec![
        k("SELECT coalesce(string_agg(s.symbol || ' ' || f::text, '; ' ORDER BY s.symbol, f.effective_before), 'none')
             FROM securities s, weston_adjustment_factors(s.symbol, NULL, true{k}) f"),
        k("SELECT coalesce(string_agg(s.symbol || ' ' || f::text, '; ' ORDER BY s.symbol, f.effective_before), 'none')
             FROM securities s, weston_adjustment_factors(s.symbol, '2026-06-30', true{k}) f"),
        format!(
            "SELECT md5(string_agg(r::text, ';')) || ' ' || count(*)
               FROM weston_adjusted_prices(array(SELECT symbol FROM securities), '{FROM}', '{TO}', NULL, true{}) r",
            known
        ),
    ]
}

/// Today's reads and the reads as known now, in one transaction (one snapshot), as the
/// analyst's login.
async fn both_reads(analyst: &PgPool) -> (Vec<String>, Vec<String>) {
    let mut tx = analyst.begin().await.unwrap();
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut answers = (Vec::new(), Vec::new());
    for (sql, into) in [
        (reads(""), &mut answers.0),
        (reads(", known_on => now()"), &mut answers.1),
    ] {
        for q in sql {
            let answer: String = sqlx::query_scalar(&q)
                .fetch_one(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{q}: {e}"));
            into.push(answer);
        }
    }
    tx.commit().await.unwrap();
    answers
}

async fn assert_kept_and_read(db: &TestDb, analyst: &PgPool, after: &str) -> Vec<String> {
    assert_eq!(text(&db.pool, WRONG_KEPT).await, "none", "after {after}");
    let (today, as_known) = both_reads(analyst).await;
    assert_eq!(
        today, as_known,
        "after {after}: the kept closes and the lookups disagree"
    );
    today
}

#[tokio::test]
async fn the_kept_close_is_the_bar_before_each_dividend_after_every_kind_of_write() {
    let db = TestDb::migrated("dividend_closes_writes").await;
    db.ensure_logins().await;
    let outcome = weston_tests::mock_run_in_process(&db, (FROM, TO), 6).await;
    assert!(outcome.stats.unserved.is_empty(), "{:?}", outcome.stats);
    let dba = login_in_group(&db, "dba", "dba").await;
    let loader = db.loader_pool();
    let analyst = db.analyst_pool();
    let run_id = text(&db.pool, "SELECT max(run_id)::text FROM etl_run").await;
    assert_ne!(
        text(
            &db.pool,
            "SELECT count(*)::text FROM weston_data.dividend_closes WHERE close_date IS NOT NULL"
        )
        .await,
        "0",
        "the mock market pays dividends after bars"
    );
    let mut seen = vec![assert_kept_and_read(&db, &analyst, "the nightly").await];

    // A dividend, its close's bar and the bar after it.
    let picked = text(
        &db.pool,
        "SELECT k.symbol || ' ' || k.ex_date || ' ' || k.close_date FROM weston_data.dividend_closes k
          WHERE k.close_date IS NOT NULL ORDER BY k.symbol, k.ex_date LIMIT 1",
    )
    .await;
    let parts: Vec<&str> = picked.split(' ').collect();
    let (symbol, ex_date, close_date) = (parts[0], parts[1], parts[2]);

    // MOCK0004 becomes MOCK4NEW; MOCK0005's ticker goes to a new security (a reused ticker).
    exec(
        &loader,
        &format!("SELECT weston_ticker_listed('MOCK0004', '{FROM}', 'mock', {run_id})"),
    )
    .await;
    // A DBA corrects through pg_weston's functions; deleting or moving a bar, or moving a
    // dividend, is a superuser's repair (no deployed role may), the named exception here.
    let owner = &db.pool;
    let sunday_before =
        |date: &str| format!("'{date}'::date - extract(isodow FROM '{date}'::date)::int");
    let changes: Vec<(&PgPool, String)> = vec![
        (&dba, format!("SELECT weston_correct_bar('{symbol}', '{close_date}', 10, 13, 9, 12, 1600, 'the close before a dividend, corrected')")),
        (owner, format!("DELETE FROM prices_daily WHERE symbol = '{symbol}' AND date = '{close_date}'")),
        (&dba, format!("SELECT weston_correct_bar('{symbol}', '{close_date}', 10, 13, 9, 11.5, 1600, 'written back')")),
        // Onto the Sunday before, then (crossing a month, most likely) five weeks earlier.
        (owner, format!("UPDATE prices_daily SET date = {} WHERE symbol = '{symbol}' AND date = '{close_date}'", sunday_before(close_date))),
        (owner, format!("UPDATE prices_daily SET date = date - 35 - extract(isodow FROM date)::int WHERE symbol = '{symbol}' AND date = (SELECT max(date) FROM prices_daily WHERE symbol = '{symbol}' AND date < '{ex_date}')")),
        (&dba, format!("SELECT weston_record_dividend('{symbol}', '2026-01-05', 0.4, 'USD', 'paid before any bar')")),
        (&dba, format!("SELECT weston_record_dividend('{symbol}', '{TO}'::date + 90, 0.4, 'USD', 'declared, paid after the last bar')")),
        (owner, format!("UPDATE dividends SET ex_date = ex_date + 3 WHERE symbol = '{symbol}' AND ex_date = '{ex_date}'")),
        (&loader, format!("SELECT weston_ticker_changed('MOCK0004', 'MOCK4NEW', '2026-07-01', 'mock', {run_id})")),
        (&dba, String::from("SELECT weston_record_dividend('MOCK4NEW', '2026-07-01', 0.3, 'USD', 'the first under the new ticker')")),
        (&dba, format!("SELECT weston_delete_dividend('{symbol}', '2026-01-05', 'never paid')")),
    ];
    for (who, change) in &changes {
        exec(who, change).await;
        let today = assert_kept_and_read(&db, &analyst, change).await;
        assert_ne!(
            seen.last(),
            Some(&today),
            "{change}: the reads see the change"
        );
        seen.push(today);
    }
    // The nightly again: the provider restates what the DBA did not correct.
    let outcome = weston_tests::mock_run_in_process(&db, (FROM, TO), 6).await;
    assert!(outcome.stats.unserved.is_empty(), "{:?}", outcome.stats);
    let renightly = assert_kept_and_read(&db, &analyst, "the second nightly").await;

    // The read takes the kept close: a wrong one (planted by the superuser, the table's
    // owner's only peer) changes its answer and not the lookups'.
    exec(
        &db.pool,
        "UPDATE weston_data.dividend_closes SET close = close * 2
          WHERE (symbol, ex_date) = (SELECT symbol, ex_date FROM weston_data.dividend_closes
                                      WHERE close_date IS NOT NULL ORDER BY symbol, ex_date LIMIT 1)",
    )
    .await;
    let (today, as_known) = both_reads(&analyst).await;
    assert_ne!(
        today, as_known,
        "a planted close shows in the read: it is taken, not looked up"
    );
    assert_eq!(as_known, renightly);
}

#[tokio::test]
async fn no_writer_touches_the_kept_closes() {
    let db = TestDb::migrated("dividend_closes_writers").await;
    db.ensure_logins().await;
    let dba = login_in_group(&db, "dba", "dba").await;
    for (who, pool) in [
        ("etl_writer", db.loader_pool()),
        ("dba", dba),
        ("app_rw", db.backend_pool()),
    ] {
        for sql in [
            "INSERT INTO weston_data.dividend_closes VALUES ('X', '2026-01-05', NULL, NULL)",
            "DELETE FROM weston_data.dividend_closes",
            "SELECT weston_data.dividend_closes_add(ARRAY['X'], ARRAY['2026-01-05'::date])",
            "SELECT weston_data.dividend_closes_refresh(ARRAY['X'], ARRAY['2026-01-05'::date], ARRAY['2026-01-05'::date])",
        ] {
            let err = sqlx::query(sql).execute(&pool).await.expect_err(sql);
            assert!(err.to_string().contains("permission denied"), "{who}: {sql}: {err}");
        }
    }
}

#[tokio::test]
async fn a_close_in_a_month_retention_may_have_retired_is_looked_up() {
    let db = TestDb::migrated("dividend_closes_retention").await;
    db.ensure_logins().await;
    let analyst = db.analyst_pool();
    // Bars on every weekday of the last five months; a dividend on the first weekday of the
    // month retain_months = 2 keeps last, whose close is the last bar of the month before.
    exec(
        &db.pool,
        "INSERT INTO etl_run (job_name, status, finished_at, rows_loaded) VALUES ('seed', 'succeeded', now(), 0);
         INSERT INTO securities (symbol, name, exchange) VALUES ('RET', 'Retained', 'XNAS');
         SELECT weston_ensure_partitions((current_date - interval '5 months')::date, current_date);
         INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
         SELECT 'RET', d::date, 10, 11, 9, 10 + extract(day FROM d) / 100, 1000, 'mock', (SELECT max(run_id) FROM etl_run)
           FROM generate_series((current_date - interval '5 months')::date, current_date, '1 day') d
          WHERE extract(isodow FROM d) < 6;
         INSERT INTO dividends (symbol, ex_date, amount, provider, run_id)
         SELECT 'RET', min(d)::date, 0.5, 'mock', (SELECT max(run_id) FROM etl_run)
           FROM generate_series(date_trunc('month', current_date - interval '2 months'),
                                date_trunc('month', current_date - interval '2 months') + interval '6 days', '1 day') d
          WHERE extract(isodow FROM d) < 6;",
    )
    .await;
    let read = "SELECT coalesce(string_agg(f::text, '; '), 'none') FROM weston_adjustment_factors('RET', NULL, true) f";
    let before = text(&analyst, read).await;
    assert_ne!(before, "none", "the dividend has a close");
    exec(
        &db.pool,
        "UPDATE weston_partition_config SET retain_months = 2, retention = 'drop'
          WHERE parent = 'weston_data.prices_daily'::regclass;
         SELECT weston_rotate_partitions();",
    )
    .await;
    let kept = text(
        &db.pool,
        "SELECT (k.close_date < (SELECT min(date) FROM prices_daily))::text FROM weston_data.dividend_closes k",
    )
    .await;
    assert_eq!(
        kept, "true",
        "the kept close is dated in a retired month (rows dropped with it fire no trigger)"
    );
    let after = text(&analyst, read).await;
    let as_known = text(&analyst, &read.replace("NULL, true)", "NULL, true, now())")).await;
    assert_eq!(
        after, as_known,
        "the read looks the close up, as a read as known does"
    );
    assert_ne!(after, before, "the retired close is not taken");
}
