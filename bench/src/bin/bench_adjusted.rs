//! Adjusted reads against the raw read of the same rows (the limit) and against the SQL an
//! analyst would write by hand, side by side in one run, on a synthetic universe of 750
//! symbols x 5 years of weekdays with splits and dividends, generated set-based in SQL.
//! Run by `scripts/bench.sh adjusted`. Prints medians and ratios; asserts nothing about speed.
//! First the read path's goals (`goals.rs`), one `GOAL` line each: all symbols x 124 days
//! and, in a database of its own, 12,000 symbols x 1 year (`WESTON_BENCH_ADJUSTED_WIDE=0`
//! skips it), each in both call forms, and one symbol x 10 years under custom and generic
//! plans. `--smoke`: 20 (and 60) symbols, 1-2 repetitions.

use std::time::{Duration, Instant};

use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgConnection};
use weston_tests::{BenchSize, TestDb};

#[path = "bench_adjusted/goals.rs"]
mod goals;

const YEAR_FROM: &str = "2023-01-01";
const YEAR_TO: &str = "2023-12-31";

/// Generates a universe (`weston_tests::bench_universe`) in `conn`'s database; prints what it made.
async fn generate(conn: &mut PgConnection, prefix: &str, symbols: usize, (from, to): (&str, &str)) {
    let start = Instant::now();
    sqlx::raw_sql(&weston_tests::bench_universe(prefix, symbols, from, to))
        .execute(&mut *conn)
        .await
        .unwrap();
    weston_tests::settle(conn).await;
    let like = format!("{prefix}%");
    let (bars, splits, dividends): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM prices_daily WHERE symbol LIKE $1),
                (SELECT count(*) FROM splits WHERE symbol LIKE $1),
                (SELECT count(*) FROM dividends WHERE symbol LIKE $1)",
    )
    .bind(&like)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    println!(
        "universe {prefix}: generated set-based in SQL: {symbols} symbols, {bars} bars {from}..{to}, {splits} splits, {dividends} dividends ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
}

const RAW: &str = "SELECT symbol, date, open, high, low, close, volume FROM prices_daily
  WHERE symbol = ANY ($1) AND date BETWEEN $2 AND $3 ORDER BY symbol, date";

const ADJUSTED_ONE: &str =
    "SELECT * FROM weston_adjusted_prices(($1::text[])[1], $2, $3, NULL, $4)";
const ADJUSTED_MANY: &str = "SELECT * FROM weston_adjusted_prices($1::text[], $2, $3, NULL, $4)";

/// The same function behind a `SET search_path` wrapper, which PostgreSQL cannot inline:
/// what pinning the search_path the usual way would cost (rows materialised, plan blind).
const PINNED_WRAPPER: &str = "
CREATE FUNCTION bench_pinned_adjusted_prices(symbols text[], from_date date, to_date date, as_of date, total_return boolean)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, weston, pg_temp
AS 'SELECT * FROM weston.weston_adjusted_prices(symbols, from_date, to_date, as_of, total_return)'";
const PINNED: &str = "SELECT * FROM bench_pinned_adjusted_prices($1::text[], $2, $3, NULL, $4)";

/// By hand, split-only: a correlated subquery per bar, product as exp(sum(ln)).
const HAND_CORRELATED: &str = "
SELECT p.symbol, p.date, p.open * f.pf, p.high * f.pf, p.low * f.pf, p.close * f.pf, p.volume / f.pf, f.pf
  FROM prices_daily p
 CROSS JOIN LATERAL (
       SELECT coalesce(exp(sum(ln(s.denominator / s.numerator))), 1) AS pf
         FROM splits s WHERE s.symbol = p.symbol AND s.date > p.date) f
 WHERE p.symbol = ANY ($1) AND p.date BETWEEN $2 AND $3
 ORDER BY p.symbol, p.date";

/// By hand, with windows: each event's log factor (dividends from the close before, put
/// into the ex-date's basis, when $4), a running sum from the newest event back, segments
/// by lag(), then a range join of the bars to the segments.
const HAND_WINDOW: &str = "
WITH events AS (
    SELECT s.symbol, s.date AS ex_date, ln(s.denominator / s.numerator) AS lp, ln(s.numerator / s.denominator) AS lv
      FROM splits s WHERE s.symbol = ANY ($1)
    UNION ALL
    SELECT d.symbol, d.ex_date,
           ln(1 - d.amount / (b.close * coalesce((
               SELECT exp(sum(ln(s.denominator / s.numerator))) FROM splits s
                WHERE s.symbol = d.symbol AND s.date > b.date AND s.date <= d.ex_date), 1))), 0
      FROM dividends d
      CROSS JOIN LATERAL (
            SELECT p.date, p.close FROM prices_daily p
             WHERE p.symbol = d.symbol AND p.date < d.ex_date ORDER BY p.date DESC LIMIT 1) b
     WHERE $4 AND d.symbol = ANY ($1)),
per_date AS (
    SELECT symbol, ex_date, sum(lp) AS lp, sum(lv) AS lv FROM events GROUP BY symbol, ex_date),
cumulative AS (
    SELECT symbol, ex_date,
           lag(ex_date) OVER (PARTITION BY symbol ORDER BY ex_date) AS after,
           exp(sum(lp) OVER (PARTITION BY symbol ORDER BY ex_date DESC)) AS pf,
           exp(sum(lv) OVER (PARTITION BY symbol ORDER BY ex_date DESC)) AS vf
      FROM per_date)
SELECT p.symbol, p.date, p.open * coalesce(c.pf, 1), p.high * coalesce(c.pf, 1), p.low * coalesce(c.pf, 1),
       p.close * coalesce(c.pf, 1), p.volume * coalesce(c.vf, 1), coalesce(c.pf, 1), coalesce(c.vf, 1)
  FROM prices_daily p
  LEFT JOIN cumulative c
    ON c.symbol = p.symbol AND p.date < c.ex_date AND (c.after IS NULL OR p.date >= c.after)
 WHERE p.symbol = ANY ($1) AND p.date BETWEEN $2 AND $3
 ORDER BY p.symbol, p.date";

struct Variant {
    name: &'static str,
    sql: &'static str,
    times: Vec<Duration>,
    rows: usize,
}

impl Variant {
    fn new(name: &'static str, sql: &'static str) -> Variant {
        Variant {
            name,
            sql,
            times: Vec::new(),
            rows: 0,
        }
    }

    fn median(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        t[t.len() / 2]
    }
}

fn args(symbols: &[String], total_return: bool, with_flag: bool) -> PgArguments {
    let mut a = PgArguments::default();
    a.add(symbols.to_vec()).unwrap();
    a.add(chrono_date(YEAR_FROM)).unwrap();
    a.add(chrono_date(YEAR_TO)).unwrap();
    if with_flag {
        a.add(total_return).unwrap();
    }
    a
}

fn chrono_date(s: &str) -> sqlx::types::chrono::NaiveDate {
    s.parse().unwrap()
}

/// Runs every variant `reps` times, interleaved so drift hits all alike; fetches every row.
async fn run(
    conn: &mut PgConnection,
    title: &str,
    symbols: &[String],
    total_return: bool,
    reps: usize,
    variants: &mut [Variant],
) {
    for rep in 0..=reps {
        for v in variants.iter_mut() {
            let with_flag = v.sql.contains("$4");
            let start = Instant::now();
            let rows = sqlx::query_with(v.sql, args(symbols, total_return, with_flag))
                .fetch_all(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", v.name));
            let elapsed = start.elapsed();
            if rep > 0 {
                // The first round warms caches and plans; it is not counted.
                v.times.push(elapsed);
            }
            v.rows = rows.len();
        }
    }
    let raw = variants[0].median();
    let adjusted = variants[1].median();
    println!("\n{title} ({} rows, median of {reps})", variants[0].rows);
    for v in variants.iter() {
        assert_eq!(v.rows, variants[0].rows, "{} returns the same rows", v.name);
        let m = v.median();
        println!(
            "  {:<28} {:>10.2} ms   x{:>6.2} raw   x{:>6.2} adjusted",
            v.name,
            m.as_secs_f64() * 1e3,
            m.as_secs_f64() / raw.as_secs_f64(),
            m.as_secs_f64() / adjusted.as_secs_f64()
        );
    }
}

#[tokio::main]
async fn main() {
    let size = BenchSize::from_args();
    let symbols_count = size.pick(750, 20);
    let db = TestDb::migrated("bench_adjusted").await;
    let mut conn = db.pool.acquire().await.unwrap();
    generate(&mut conn, "S", symbols_count, ("2020-01-01", "2024-12-31")).await;
    // A few symbols with ten years of history, for the one-symbol goal.
    generate(
        &mut conn,
        "L",
        3,
        size.pick(("2015-01-01", "2024-12-31"), ("2023-01-01", "2024-12-31")),
    )
    .await;
    sqlx::raw_sql(PINNED_WRAPPER)
        .execute(&mut *conn)
        .await
        .unwrap();

    // The goals first, each one line. The many-symbol goals take a round in each of the six
    // orders of their three reads: a read can slow whichever comes next, and over fewer
    // rounds some read would come next more often than the others.
    const EVERY_ORDER: usize = 6;
    let mut ratios = Vec::new();
    ratios.extend(
        goals::all_symbols(
            &mut conn,
            &format!("all {symbols_count} symbols x 124 days"),
            "S%",
            ("2023-01-02", "2023-06-22"),
            size.pick(EVERY_ORDER, 1),
        )
        .await,
    );
    ratios.extend(
        goals::one_symbol(
            &mut conn,
            &format!("one symbol x {} years", size.pick(10, 2)),
            "L00003",
            size.pick(("2015-01-01", "2024-12-31"), ("2023-01-01", "2024-12-31")),
            size.pick(15, 1),
        )
        .await,
    );
    if std::env::var("WESTON_BENCH_ADJUSTED_WIDE").as_deref() != Ok("0") {
        // The whole market, a year: its own database, so the 750's reads stay as they were.
        let wide = size.pick(12_000, 60);
        let wide_db = TestDb::migrated("bench_adjusted_wide").await;
        let mut wide_conn = wide_db.pool.acquire().await.unwrap();
        generate(&mut wide_conn, "W", wide, ("2023-01-01", "2023-12-31")).await;
        ratios.extend(
            goals::all_symbols(
                &mut wide_conn,
                &format!("all {wide} symbols x 1 year"),
                "W%",
                ("2023-01-01", "2023-12-31"),
                size.pick(EVERY_ORDER, 1),
            )
            .await,
        );
        drop(wide_conn);
        wide_db.pool.close().await;
    }
    let met = ratios.iter().filter(|r| **r <= 1.25).count();
    println!("GOALS met: {met} of {}", ratios.len());

    // One symbol with a split and dividends inside the year, so there is real work.
    let one: String = sqlx::query_scalar(
        "SELECT s.symbol FROM splits s WHERE s.symbol LIKE 'S%'
            AND EXISTS (SELECT 1 FROM dividends d WHERE d.symbol = s.symbol)
          ORDER BY s.date BETWEEN '2023-04-01' AND '2023-10-31' DESC, s.symbol LIMIT 1",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let all: Vec<String> =
        sqlx::query_scalar("SELECT symbol FROM securities WHERE symbol LIKE 'S%' ORDER BY symbol")
            .fetch_all(&mut *conn)
            .await
            .unwrap();

    // The hand-written SQL agrees with ours (to floating-point accuracy of exp/ln).
    for total_return in [false, true] {
        let worst: f64 = sqlx::query_scalar(&format!(
            "SELECT max(abs(a.close - h.close) / a.close)::float8
               FROM weston_adjusted_prices($1::text[], $2, $3, NULL, $4) a
               JOIN ({}) h(symbol, date, open, high, low, close) USING (symbol, date)",
            HAND_WINDOW.replace("ORDER BY p.symbol, p.date", "")
        ))
        .bind(&all)
        .bind(chrono_date(YEAR_FROM))
        .bind(chrono_date(YEAR_TO))
        .bind(total_return)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        println!("hand-written (window) vs weston, total_return={total_return}: max relative difference of close {worst:e}");
        assert!(
            worst < 1e-9,
            "the hand-written SQL must compute the same thing"
        );
    }

    let one = vec![one];
    // (what is read, its symbols, our function for them, repetitions)
    let cases = [
        (
            format!("one symbol ({})", one[0]),
            &one,
            ("weston_adjusted_prices", ADJUSTED_ONE),
            size.pick(30, 2),
        ),
        (
            format!("all {symbols_count} symbols"),
            &all,
            ("weston_adjusted_prices[]", ADJUSTED_MANY),
            size.pick(5, 2),
        ),
    ];
    for (what, symbols, (our_name, our_sql), reps) in cases {
        for (total_return, label) in [(false, "split-only"), (true, "total return")] {
            let mut variants = vec![
                Variant::new("raw SELECT", RAW),
                Variant::new(our_name, our_sql),
                Variant::new("same, not inlined (SET)", PINNED),
                Variant::new("hand: window + range join", HAND_WINDOW),
            ];
            if !total_return {
                variants.push(Variant::new("hand: correlated subquery", HAND_CORRELATED));
            }
            run(
                &mut conn,
                &format!("{what}, {YEAR_FROM}..{YEAR_TO}, {label}"),
                symbols,
                total_return,
                reps,
                &mut variants,
            )
            .await;
        }
    }
    drop(conn);
    db.pool.close().await;
}
