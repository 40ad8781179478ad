//! The loader's write path (validate, COPY into staging, upsert) against a plain COPY of
//! the same bars into the same partitioned table, side by side in one run, for
//! 750 x 180 rows and for 2.5 million rows; then the re-run of the unchanged window,
//! which must write zero tuples. Run by `scripts/bench.sh ingest`; `--smoke`: 20 x 30 and
//! 40 x 60.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sqlx::{Connection, PgConnection};
use weston_loader::calendar;
use weston_loader::model::{Batch, ProviderName, Sourced};
use weston_loader::providers::mock::{mock_symbol, MockProvider};
use weston_loader::{store, validate};
use weston_tests::{bench_database, BenchSize};

const BATCH_SYMBOLS: usize = 50;

/// The bars of one batch of symbols over the last `sessions` sessions up to `to`.
fn batch(symbols: &[String], from: NaiveDate, to: NaiveDate) -> Batch {
    let mock = |row| Sourced {
        provider: ProviderName::Mock,
        row,
    };
    Batch {
        undescribed: symbols.iter().cloned().map(mock).collect(),
        bars: symbols
            .iter()
            .flat_map(|s| MockProvider::sessions(s, from, to))
            .map(|x| Sourced {
                provider: ProviderName::Mock,
                row: x.bar,
            })
            .collect(),
        ..Batch::default()
    }
}

async fn plain_copy(conn: &mut PgConnection, run_id: i64, batch: &Batch) -> u64 {
    let mut data = String::new();
    let mut rows = 0;
    for b in batch.bars.iter().map(|b| &b.row) {
        let vwap = b.vwap.map_or("\\N".to_string(), |v| v.to_string());
        let _ = writeln!(
            data,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\tmock\t{run_id}",
            b.symbol, b.date, b.open, b.high, b.low, b.close, b.volume, vwap
        );
        rows += 1;
    }
    let mut tx = conn.begin().await.unwrap();
    let mut copy = tx
        .copy_in_raw("COPY prices_daily (symbol, date, open, high, low, close, volume, vwap, provider, run_id) FROM STDIN")
        .await
        .unwrap();
    copy.send(data.into_bytes()).await.unwrap();
    copy.finish().await.unwrap();
    tx.commit().await.unwrap();
    rows
}

struct Timing {
    rows: u64,
    elapsed: Duration,
}

impl Timing {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

async fn scenario(symbols: usize, sessions: usize) {
    let to = NaiveDate::from_ymd_opt(2026, 10, 30).unwrap();
    let days = calendar::trading_days(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(), to);
    let from = days[days.len() - sessions];
    let (db, mut conn) = bench_database(&format!("bench_ingest_{symbols}"), (from, to)).await;
    let universe: Vec<String> = (1..=symbols).map(mock_symbol).collect();
    sqlx::query("INSERT INTO securities (symbol) SELECT unnest($1::text[])")
        .bind(&universe)
        .execute(&mut conn)
        .await
        .unwrap();
    let run_id: i64 = sqlx::query_scalar("SELECT weston_etl_begin('bench', $1, $2)")
        .bind(from)
        .bind(to)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    store::prepare_staging(&mut conn).await.unwrap();

    // Same batches, same order, same table; generation is outside the timings.
    let mut copy = Timing {
        rows: 0,
        elapsed: Duration::ZERO,
    };
    for chunk in universe.chunks(BATCH_SYMBOLS) {
        let loads = batch(chunk, from, to);
        let t = Instant::now();
        copy.rows += plain_copy(&mut conn, run_id, &loads).await;
        copy.elapsed += t.elapsed();
    }
    // One statement per call: VACUUM refuses to run inside a multi-statement string.
    for sql in ["TRUNCATE prices_daily", "CHECKPOINT"] {
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }

    let mut loader = Timing {
        rows: 0,
        elapsed: Duration::ZERO,
    };
    for chunk in universe.chunks(BATCH_SYMBOLS) {
        let mut loads = batch(chunk, from, to);
        let t = Instant::now();
        let rejected = validate::validate(&mut loads, to);
        assert!(rejected.is_empty());
        loader.rows += store::write_batch(&mut conn, run_id, &loads)
            .await
            .unwrap()
            .prices_daily;
        loader.elapsed += t.elapsed();
    }
    assert_eq!(loader.rows, copy.rows);
    // One statement per call: VACUUM refuses to run inside a multi-statement string.
    for sql in ["VACUUM ANALYZE prices_daily", "CHECKPOINT"] {
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }

    let xid: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let mut rerun = Timing {
        rows: 0,
        elapsed: Duration::ZERO,
    };
    let mut rerun_written = 0;
    for chunk in universe.chunks(BATCH_SYMBOLS) {
        let mut loads = batch(chunk, from, to);
        let t = Instant::now();
        validate::validate(&mut loads, to);
        rerun.rows += loads.bars.len() as u64;
        rerun_written += store::write_batch(&mut conn, run_id, &loads)
            .await
            .unwrap()
            .total();
        rerun.elapsed += t.elapsed();
    }
    let new_tuples: i64 =
        sqlx::query_scalar("SELECT count(*) FROM prices_daily WHERE xmin::text::bigint > $1")
            .bind(xid)
            .fetch_one(&mut conn)
            .await
            .unwrap();

    println!("{symbols} x {sessions}: {symbols} symbols x {sessions} sessions = {} rows, batches of {BATCH_SYMBOLS} symbols", copy.rows);
    println!(
        "  plain COPY into prices_daily      {:>9.0} rows/s  ({:.2}s)",
        copy.rate(),
        copy.elapsed.as_secs_f64()
    );
    println!(
        "  loader write path (first load)    {:>9.0} rows/s  ({:.2}s)",
        loader.rate(),
        loader.elapsed.as_secs_f64()
    );
    println!(
        "  loader re-run, unchanged window   {:>9.0} rows/s  ({:.2}s), rows written {rerun_written}, new tuples {new_tuples}",
        rerun.rate(),
        rerun.elapsed.as_secs_f64()
    );
    println!(
        "  ratio loader/COPY {:.2} (goal >= 0.50); re-run/COPY {:.2}; unchanged re-run wrote {} tuples (goal 0)",
        loader.rate() / copy.rate(),
        rerun.rate() / copy.rate(),
        new_tuples
    );
    let _ = conn.close().await;
    db.pool.close().await;
}

#[tokio::main]
async fn main() {
    let scenarios = BenchSize::from_args().pick([(750, 180), (2_500, 1_000)], [(20, 30), (40, 60)]);
    for (symbols, sessions) in scenarios {
        scenario(symbols, sessions).await;
    }
}
