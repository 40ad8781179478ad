//! What keeping every change costs (migration 0040, reads with `known_on`), side by side in
//! one run on a synthetic universe of 750 symbols x 10 years of weekdays with splits and
//! dividends, 1 % of its bars restated once:
//! - today's read (known_on NULL) against the same read as 0.8.0 wrote it (its SQL, over the
//!   library's four-argument segments), which knows nothing of the history;
//! - a read with known_on (moments recorded after and before the restatement, and now()
//!   as an expression) against today's;
//! - the bytes the history takes per changed row;
//! - the nightly upsert of the loader (weston-loader/sql/upsert_prices_daily.sql), six days
//!   of every symbol re-sent with 1 % restated, with every trigger, without the kept
//!   closes' (migration 0047), and without the history's too.
//!
//! Run by `scripts/bench.sh known`. Prints medians and ratios; asserts nothing about speed.
//! `--smoke`: 20 symbols x 2 years, 2 repetitions.

use std::time::{Duration, Instant};

use sqlx::PgConnection;
use weston_tests::{BenchSize, TestDb};

const READ_FROM: &str = "2015-01-01";
const READ_TO: &str = "2024-12-31";

/// Room for the ten years and the month after them, where the nightly's new week lands.
const PARTITIONS: &str = "UPDATE weston_partition_config SET max_partitions_per_call = 240;
SELECT weston_ensure_partitions('2015-01-01', '2025-01-31');";

/// 1 % of the bars restated by the provider (a later run), each once.
const RESTATE: &str = "
INSERT INTO etl_run (job_name, window_start, window_end) VALUES ('bench-known-restated', '{from}', '2024-12-31');
UPDATE prices_daily SET close = round(close * 1.001, 4), high = round(high * 1.002, 4), run_id = 2
 WHERE hashtext(symbol || date) % 100 = 0;
ANALYZE;";

/// 0.8.0's weston_adjusted_prices, as released, over the library's four-argument segments
/// (the symbol 0.8.0's SQL names): the read before any of the history existed.
fn before_function() -> String {
    let released = include_str!("../../../pg_weston/sql/released/pg_weston--0.8.0.sql");
    let start = released
        .find("CREATE FUNCTION weston_adjusted_prices(\n    symbols text[]")
        .expect("0.8.0 has weston_adjusted_prices(text[], ...)");
    let end = start + released[start..].find("$fn$;").expect("its end") + "$fn$;".len();
    let segments = "CREATE FUNCTION public.bench_segments_before(
    symbols text[], bars_from date, as_of date, total_return boolean)
RETURNS TABLE(symbol text, bounds date[], price_factors numeric[], volume_factors numeric[])
STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, weston, pg_temp
SET plan_cache_mode TO force_generic_plan
LANGUAGE c AS '$libdir/pg_weston', 'weston_adjustment_segments_wrapper';\n";
    segments.to_string()
        + &released[start..end]
            .replace(
                "CREATE FUNCTION weston_adjusted_prices(",
                "CREATE FUNCTION public.bench_adjusted_prices_before(",
            )
            .replace(
                "@extschema@.weston_adjustment_segments(",
                "public.bench_segments_before(",
            )
            .replace("@extschema@", "weston")
}

const BEFORE: &str =
    "SELECT * FROM public.bench_adjusted_prices_before($1::text[], $2, $3, NULL, true)";
const TODAY: &str = "SELECT * FROM weston_adjusted_prices($1::text[], $2, $3, NULL, true)";
/// `known_on` as an analyst passes it: the moment recorded with her results.
const KNOWN_AT: &str =
    "SELECT * FROM weston_adjusted_prices($1::text[], $2, $3, NULL, true, known_on => '{moment}')";
/// An expression: planned without knowing its value.
const KNOWN_NOW: &str =
    "SELECT * FROM weston_adjusted_prices($1::text[], $2, $3, NULL, true, known_on => now())";

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median time of each read (interleaved so drift hits all alike; every row fetched), and
/// its row count.
async fn reads(
    conn: &mut PgConnection,
    symbols: &[String],
    reps: usize,
    variants: &[(&str, &str)],
) -> Vec<(Duration, usize)> {
    let mut times = vec![Vec::new(); variants.len()];
    let mut rows = vec![0; variants.len()];
    for rep in 0..=reps {
        for (i, (name, sql)) in variants.iter().enumerate() {
            let start = Instant::now();
            let got = sqlx::query(sql)
                .bind(symbols)
                .bind(READ_FROM.parse::<chrono::NaiveDate>().unwrap())
                .bind(READ_TO.parse::<chrono::NaiveDate>().unwrap())
                .fetch_all(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if rep > 0 {
                times[i].push(start.elapsed());
            }
            rows[i] = got.len();
        }
    }
    times
        .iter_mut()
        .zip(rows)
        .map(|(t, r)| (median(t), r))
        .collect()
}

/// The history's triggers on prices_daily (migration 0040).
const HISTORY_TRIGGERS: &[&str] = &[
    "weston_stamp_insert",
    "weston_stamp_update",
    "weston_keep_update",
    "weston_keep_delete",
];
/// The kept closes' triggers on prices_daily (migration 0047).
const KEPT_CLOSES_TRIGGERS: &[&str] = &[
    "dividend_closes_insert",
    "dividend_closes_update",
    "dividend_closes_delete",
];

/// The loader's staging table filled with the last `days` weekdays of every symbol as
/// stored, `restated` % of them with another close, then the loader's upsert, timed; rolled
/// back. `disabled`: triggers of prices_daily disabled for it (as before their migration).
async fn nightly(conn: &mut PgConnection, days: i64, disabled: &[&str]) -> (Duration, u64) {
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    for trigger in disabled {
        sqlx::raw_sql(&format!(
            "ALTER TABLE weston_data.prices_daily DISABLE TRIGGER {trigger}"
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::raw_sql(&format!(
        "CREATE TEMP TABLE weston_stage_bars ON COMMIT DROP AS
         SELECT symbol, date + 7 AS date, open, high, low, close, volume, vwap, provider FROM prices_daily
          WHERE date > '2024-12-31'::date - 7
         UNION ALL
         SELECT symbol, date, open, high, low,
                CASE WHEN hashtext(symbol || date || 'night') % 100 = 0 THEN round(close * 1.0005, 4) ELSE close END,
                volume, vwap, provider FROM prices_daily
          WHERE date > '2024-12-31'::date - {days};
         ANALYZE weston_stage_bars;"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    let upsert = include_str!("../../../weston-loader/sql/upsert_prices_daily.sql");
    let start = Instant::now();
    let written = sqlx::query(upsert)
        .bind(2_i64)
        .execute(&mut *tx)
        .await
        .expect("the loader's upsert")
        .rows_affected();
    let elapsed = start.elapsed();
    tx.rollback().await.unwrap();
    (elapsed, written)
}

#[tokio::main]
async fn main() {
    let size = BenchSize::from_args();
    let symbols_count = size.pick(750, 20);
    let from = size.pick("2015-01-01", "2023-01-01");
    let reps = size.pick(5, 2);
    let db = TestDb::migrated("bench_known").await;
    let mut conn = db.pool.acquire().await.unwrap();
    let start = Instant::now();
    sqlx::raw_sql(PARTITIONS).execute(&mut *conn).await.unwrap();
    sqlx::raw_sql(&weston_tests::bench_universe(
        "S",
        symbols_count,
        from,
        "2024-12-31",
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::raw_sql(&before_function())
        .execute(&mut *conn)
        .await
        .unwrap();
    let bars: i64 = sqlx::query_scalar("SELECT count(*) FROM prices_daily")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    println!(
        "{symbols_count} symbols, {bars} bars {from}..2024 (generated in {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    // The moment before the restatement, as an analyst records it.
    let before_restated: String = sqlx::query_scalar("SELECT now()::text")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    sqlx::raw_sql(&RESTATE.replace("{from}", from))
        .execute(&mut *conn)
        .await
        .unwrap();
    let (changed, bytes): (i64, i64) = sqlx::query_as(
        "SELECT count(*), pg_total_relation_size('weston_data.prices_daily_history')
           FROM weston_data.prices_daily_history",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let table_bytes: i64 = sqlx::query_scalar(
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'weston_data.prices_daily'::regclass",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    println!(
        "history: {changed} bars restated ({:.2} % of {bars}); prices_daily_history {bytes} bytes, {:.0} bytes per changed row (prices_daily: {:.0} bytes per row)",
        100.0 * changed as f64 / bars as f64,
        bytes as f64 / changed.max(1) as f64,
        table_bytes as f64 / bars as f64
    );

    let symbols: Vec<String> = sqlx::query_scalar("SELECT symbol FROM securities ORDER BY symbol")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let after_restated: String = sqlx::query_scalar("SELECT now()::text")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let known_after = KNOWN_AT.replace("{moment}", &after_restated);
    let known_before = KNOWN_AT.replace("{moment}", &before_restated);
    let variants = [
        ("0.8.0's read (no history)", BEFORE),
        ("today's read (known_on NULL)", TODAY),
        ("known_on after restatement", known_after.as_str()),
        ("known_on before restatement", known_before.as_str()),
        ("known_on => now()", KNOWN_NOW),
    ];
    let measured = reads(&mut conn, &symbols, reps, &variants).await;
    let before = measured[0].0;
    let today = measured[1].0;
    println!(
        "\nweston_adjusted_prices, {symbols_count} symbols, {READ_FROM}..{READ_TO}, total return (median of {reps})"
    );
    for ((name, _), (time, rows)) in variants.iter().zip(&measured) {
        println!(
            "  {name:<30} {:>10.1} ms {rows:>9} rows   x{:>5.2} 0.8.0   x{:>5.2} today",
            ms(*time),
            time.as_secs_f64() / before.as_secs_f64(),
            time.as_secs_f64() / today.as_secs_f64()
        );
    }

    let days = 6;
    let before_0040: Vec<&str> = [HISTORY_TRIGGERS, KEPT_CLOSES_TRIGGERS].concat();
    let variants: [(&str, &[&str]); 3] = [
        ("with every trigger", &[]),
        (
            "without the kept closes' (before 0047)",
            KEPT_CLOSES_TRIGGERS,
        ),
        ("without the history's too (before 0040)", &before_0040),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    let mut written = 0;
    for rep in 0..=reps {
        for (i, (_, disabled)) in variants.iter().enumerate() {
            let (t, n) = nightly(&mut conn, days, disabled).await;
            if rep > 0 {
                times[i].push(t);
            }
            written = n;
        }
    }
    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    println!(
        "\nnightly upsert: {days} days of {symbols_count} symbols re-sent, one new week, 1 % restated ({written} rows written; median of {reps})"
    );
    for ((name, _), time) in variants.iter().zip(&medians) {
        println!(
            "  {name:<42} {:>8.1} ms   x{:.3}",
            ms(*time),
            time.as_secs_f64() / medians[0].as_secs_f64()
        );
    }
    drop(conn);
    db.pool.close().await;
}
