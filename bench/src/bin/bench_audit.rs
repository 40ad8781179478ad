//! The data-quality audit against the floor under it: a plain read of the same bars (the
//! audit's own query, decoded into the same types), side by side in one run, over the mock
//! market (its splits and dividends stored too); then a run's audit after a replay of the
//! whole window that changed only its last session, over what the run changed and over the
//! whole window it loaded. Run by `scripts/bench.sh audit`; full size 750 symbols x 5 years
//! (the nightly load of the brief), `--smoke`: 20 x 60 sessions.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection};
use weston_loader::audit::{Auditor, BarRow};
use weston_loader::calendar;
use weston_loader::model::{Batch, Dividend, ProviderName, Sourced, Split};
use weston_loader::providers::mock::{mock_symbol, MockProvider};
use weston_loader::store;
use weston_tests::{bench_database, BenchSize};

const WRITE_SYMBOLS: usize = 50;
const AUDIT_SYMBOLS: usize = 100;

fn sourced<T>(row: T) -> Sourced<T> {
    Sourced {
        provider: ProviderName::Mock,
        row,
    }
}

/// The mock market's bars, splits and dividends of `symbols` over `[from, to]`.
fn batch(symbols: &[String], from: NaiveDate, to: NaiveDate) -> Batch {
    let mut out = Batch {
        undescribed: symbols.iter().cloned().map(sourced).collect(),
        ..Batch::default()
    };
    for symbol in symbols {
        for s in MockProvider::sessions(symbol, from, to) {
            if let Some((numerator, denominator)) = s.split {
                out.splits.push(sourced(Split {
                    symbol: symbol.clone(),
                    date: s.date,
                    numerator: Decimal::from(numerator),
                    denominator: Decimal::from(denominator),
                }));
            }
            if let Some(amount) = s.dividend {
                out.dividends.push(sourced(Dividend {
                    symbol: symbol.clone(),
                    ex_date: s.date,
                    amount,
                    currency: "USD".into(),
                }));
            }
            out.bars.push(sourced(s.bar));
        }
    }
    out
}

async fn begin(conn: &mut PgConnection, job: &str, (from, to): (NaiveDate, NaiveDate)) -> i64 {
    sqlx::query_scalar("SELECT weston_etl_begin($1, $2, $3)")
        .bind(job)
        .bind(from)
        .bind(to)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Loads `symbols` over `window` as run `run_id` writes them.
async fn load(
    conn: &mut PgConnection,
    run_id: i64,
    symbols: &[String],
    window: (NaiveDate, NaiveDate),
) {
    for chunk in symbols.chunks(WRITE_SYMBOLS) {
        store::write_batch(conn, run_id, &batch(chunk, window.0, window.1))
            .await
            .unwrap();
    }
}

type SqlxRow = (
    String,
    NaiveDate,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    Option<Decimal>,
);

/// The floor: the audit's bar query over the same batches, decoded as rows `R` (the audit's
/// `BarRow`, or sqlx's own `Decimal`s), nothing else done with them.
async fn raw_read<R>(
    conn: &mut PgConnection,
    symbols: &[String],
    (from, to): (NaiveDate, NaiveDate),
) -> u64
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut bars = 0;
    for chunk in symbols.chunks(AUDIT_SYMBOLS) {
        let rows: Vec<R> =
            sqlx::query_as(include_str!("../../../weston-loader/sql/audit_bars.sql"))
                .bind(chunk)
                .bind(from)
                .bind(to)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        bars += rows.len() as u64;
    }
    bars
}

fn line(what: &str, bars: u64, elapsed: Duration) -> f64 {
    let rate = bars as f64 / elapsed.as_secs_f64();
    println!(
        "  {what:<44} {bars:>9} bars {:>9.0} bars/s ({:.2}s)",
        rate,
        elapsed.as_secs_f64()
    );
    rate
}

async fn scenario(symbols: usize, sessions: usize) {
    let to = NaiveDate::from_ymd_opt(2026, 10, 30).unwrap();
    let days = calendar::trading_days(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(), to);
    let from = days[days.len() - sessions];
    let before_last = days[days.len() - 2];
    let (db, mut conn) = bench_database(&format!("bench_audit_{symbols}"), (from, to)).await;
    let universe: Vec<String> = (1..=symbols).map(mock_symbol).collect();
    store::prepare_staging(&mut conn).await.unwrap();
    let backfill = begin(&mut conn, "bench backfill", (from, before_last)).await;
    load(&mut conn, backfill, &universe, (from, before_last)).await;
    for sql in ["VACUUM ANALYZE", "CHECKPOINT"] {
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
    println!(
        "{symbols} x {sessions}: {symbols} symbols x {sessions} sessions, audited in batches of {AUDIT_SYMBOLS} symbols"
    );

    // Warm the cache alike for both.
    raw_read::<BarRow>(&mut conn, &universe, (from, to)).await;
    let t = Instant::now();
    let raw = raw_read::<BarRow>(&mut conn, &universe, (from, to)).await;
    let floor = line("raw read of the bars (the floor)", raw, t.elapsed());
    let t = Instant::now();
    let decoded = raw_read::<SqlxRow>(&mut conn, &universe, (from, to)).await;
    line(
        "the same read, sqlx's numeric decoding",
        decoded,
        t.elapsed(),
    );

    let audit_run = begin(&mut conn, "bench audit", (from, to)).await;
    let mut auditor = Auditor::new(&mut conn, audit_run, AUDIT_SYMBOLS)
        .await
        .unwrap();
    let t = Instant::now();
    auditor
        .audit(&mut conn, &universe, (from, to))
        .await
        .unwrap();
    let elapsed = t.elapsed();
    let stats = auditor.finish();
    let full = line("full audit (weston-loader audit)", stats.bars, elapsed);
    println!(
        "  full audit / raw read {:.2}; findings {:?} (goal: >= 200000 bars/s)",
        full / floor,
        stats.findings
    );

    // A night that replays the whole window and changes only its last session (a replay
    // writes nothing for an unchanged bar, so only that session is written here).
    let night = begin(&mut conn, "bench night", (from, to)).await;
    load(&mut conn, night, &universe, (to, to)).await;
    let mut whole = Auditor::new(&mut conn, night, AUDIT_SYMBOLS).await.unwrap();
    let t = Instant::now();
    whole.audit(&mut conn, &universe, (from, to)).await.unwrap();
    let (whole_elapsed, whole) = (t.elapsed(), whole.finish());
    let mut changed = Auditor::new(&mut conn, night, AUDIT_SYMBOLS).await.unwrap();
    let t = Instant::now();
    changed
        .audit_changed(&mut conn, &universe, (from, to))
        .await
        .unwrap();
    let (changed_elapsed, changed) = (t.elapsed(), changed.finish());
    println!("  the night's audit of a replay of the window that changed its last session:");
    line(
        "over the whole window it loaded (before)",
        whole.bars,
        whole_elapsed,
    );
    line(
        "over what it changed, with context (after)",
        changed.bars,
        changed_elapsed,
    );
    println!(
        "  {:.1}x less time; findings {:?} and {:?}",
        whole_elapsed.as_secs_f64() / changed_elapsed.as_secs_f64(),
        whole.findings,
        changed.findings
    );
    let _ = conn.close().await;
    db.pool.close().await;
}

#[tokio::main]
async fn main() {
    let scenarios = BenchSize::from_args().pick([(750, 1_260)], [(20, 60)]);
    for (symbols, sessions) in scenarios {
        scenario(symbols, sessions).await;
    }
}
