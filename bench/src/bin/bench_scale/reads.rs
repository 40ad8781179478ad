//! Adjusted reads summed on the server (every column, so nothing is optimised away), next to
//! the raw read of the same rows and the raw read times constant factors: the floor of any
//! exact adjustment (a multiplication per value), interleaved rounds, medians.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::{median, Figures};

const RAW: &str = "SELECT sum(open), sum(high), sum(low), sum(close), sum(volume), count(*)
  FROM weston_data.prices_daily WHERE symbol = ANY ($1) AND date BETWEEN $2 AND $3";
const MULTIPLIED: &str = "SELECT sum(open * 0.25), sum(high * 0.25), sum(low * 0.25), sum(close * 0.25), sum(volume * 4), count(*)
  FROM weston_data.prices_daily WHERE symbol = ANY ($1) AND date BETWEEN $2 AND $3";
const ADJUSTED: &str = "SELECT sum(open), sum(high), sum(low), sum(close), sum(volume), count(*)
  FROM weston.weston_adjusted_prices($1, $2, $3, NULL, $4)";

async fn timed(
    conn: &mut PgConnection,
    sql: &str,
    symbols: &[String],
    (from, to): (NaiveDate, NaiveDate),
    total_return: bool,
) -> (Duration, i64) {
    let mut q = sqlx::query_as::<
        _,
        (
            Option<sqlx::types::Decimal>,
            Option<sqlx::types::Decimal>,
            Option<sqlx::types::Decimal>,
            Option<sqlx::types::Decimal>,
            Option<sqlx::types::Decimal>,
            i64,
        ),
    >(sql)
    .bind(symbols)
    .bind(from)
    .bind(to);
    if sql.contains("$4") {
        q = q.bind(total_return);
    }
    let start = Instant::now();
    let row = q
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    (start.elapsed(), row.5)
}

pub async fn run(
    conn: &mut PgConnection,
    figures: &mut Figures,
    universe: &[String],
    (from, to): (NaiveDate, NaiveDate),
    rounds: usize,
) {
    // MOCK0001 splits every 60 sessions and pays dividends: the most work per bar.
    let one = vec![universe[0].clone()];
    let last_year = (to - chrono::Months::new(12), to);
    let all = universe.to_vec();
    // The plan cache chooses custom plans here; a generic one (a driver's prepared statement
    // after its fifth run, or plan_cache_mode) sizes the symbols array at 10 whatever it holds.
    let cases = [
        (
            format!("one symbol x {} years", (to - from).num_days() / 365),
            &one,
            (from, to),
            rounds * 4,
            "auto",
        ),
        (
            "all symbols x 1 year".to_string(),
            &all,
            last_year,
            rounds,
            "auto",
        ),
        (
            "all symbols x 1 year, generic plan".to_string(),
            &all,
            last_year,
            rounds,
            "force_generic_plan",
        ),
    ];
    for (what, symbols, window, reps, plan_cache_mode) in cases {
        sqlx::raw_sql(&format!("SET plan_cache_mode = {plan_cache_mode}"))
            .execute(&mut *conn)
            .await
            .unwrap();
        for (total_return, label) in [(false, "split-only"), (true, "total return")] {
            let mut times = [Vec::new(), Vec::new(), Vec::new()];
            let mut rows = [0; 3];
            for round in 0..=reps {
                for (i, sql) in [RAW, MULTIPLIED, ADJUSTED].into_iter().enumerate() {
                    let (took, n) = timed(conn, sql, symbols, window, total_return).await;
                    rows[i] = n;
                    if round > 0 {
                        times[i].push(took);
                    }
                }
            }
            assert!(
                rows[0] == rows[1] && rows[1] == rows[2],
                "{what}: the same rows: {rows:?}"
            );
            if !total_return {
                println!("  {what}: {} symbols, {} rows", symbols.len(), rows[0]);
            }
            let [raw, multiplied, adjusted] = times.map(|mut t| median(&mut t).as_secs_f64() * 1e3);
            figures.ratio(
                &format!("read {what}, {label}: adjusted vs raw"),
                adjusted,
                raw,
                "ms",
                "",
            );
            figures.ratio(
                &format!("read {what}, {label}: adjusted vs raw x factors"),
                adjusted,
                multiplied,
                "ms",
                "<= 1.25",
            );
        }
    }
    sqlx::raw_sql("RESET plan_cache_mode")
        .execute(&mut *conn)
        .await
        .unwrap();
}
