//! The analyst's read end to end: daily bars of a whole universe into a pandas DataFrame
//! through the `weston` package (python/), raw, split-adjusted and total return, against a
//! plain psycopg cursor (fetchall) into pandas, side by side in one run (bench/python/prices.py
//! interleaves the rounds and prints medians and ratios), as an analyst's login (`app_ro`).
//! The universe is 750 symbols x 10 years of weekdays with splits and dividends, generated
//! set-based in SQL. Run by `scripts/bench.sh python`; asserts nothing about speed.
//! `--smoke`: 20 symbols x 1 year, 2 rounds.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use sqlx::postgres::PgConnectOptions;
use weston_tests::{admin_url, output_text, BenchSize, TestDb, ANALYST};

/// `{symbols}` symbols over the weekdays of `{from}`..`{to}`: a deterministic wobbly price
/// per symbol, a split for every third symbol in every year (forward, reverse, 3-for-2), a
/// dividend every quarter for two symbols in three.
const GENERATE: &str = r#"
SELECT weston_ensure_partitions('{from}', '{to}');
INSERT INTO etl_run (job_name, window_start, window_end) VALUES ('bench-python', '{from}', '{to}');
INSERT INTO securities (symbol)
SELECT 'P' || lpad(i::text, 4, '0') FROM generate_series(1, {symbols}) i;
INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
SELECT 'P' || lpad(i::text, 4, '0'), d::date,
       round(c * 0.995, 2), round(c * 1.01, 2), round(c * 0.99, 2), round(c, 2),
       100000 + (i * 7919 + n * 104729) % 900000, 'mock', 1
  FROM generate_series(1, {symbols}) i
 CROSS JOIN LATERAL (
       SELECT d, row_number() OVER (ORDER BY d) AS n
         FROM generate_series(date '{from}', date '{to}', interval '1 day') d
        WHERE extract(isodow FROM d) < 6) days
 CROSS JOIN LATERAL (SELECT (40 + i % 300 + 15 * sin(n / 23.0 + i))::numeric AS c) price;
INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id)
SELECT 'P' || lpad(i::text, 4, '0'), y::date + 40 + (i * 37) % 300,
       (ARRAY[2, 1, 3])[1 + i % 3], (ARRAY[1, 4, 2])[1 + i % 3], 'mock', 1
  FROM generate_series(1, {symbols}) i
 CROSS JOIN generate_series(date '{from}', date '{to}', interval '1 year') y
 WHERE i % 3 = 0;
INSERT INTO dividends (symbol, ex_date, amount, provider, run_id)
SELECT 'P' || lpad(i::text, 4, '0'), q::date + 20 + i % 20, round(0.10 + (i % 50) / 100.0, 2), 'mock', 1
  FROM generate_series(1, {symbols}) i
 CROSS JOIN generate_series(date '{from}', date '{to}', interval '3 months') q
 WHERE i % 3 <> 1;
ANALYZE;
"#;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The analyst's URL as libpq takes it (sqlx's own parameters left out).
fn libpq_url(db: &TestDb) -> String {
    let admin: PgConnectOptions = admin_url().parse().unwrap();
    format!(
        "postgresql://{}@{}:{}/{}",
        ANALYST.role,
        admin.get_host(),
        admin.get_port(),
        db.name
    )
}

#[tokio::main]
async fn main() {
    let size = BenchSize::from_args();
    let symbols = size.pick(750, 20);
    let (from, to) = size.pick(("2015-01-01", "2024-12-31"), ("2024-01-01", "2024-12-31"));
    let rounds = size.pick(5, 2);
    let db = TestDb::migrated("bench_python").await;
    let start = Instant::now();
    sqlx::raw_sql(
        &GENERATE
            .replace("{symbols}", &symbols.to_string())
            .replace("{from}", from)
            .replace("{to}", to),
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (bars, splits, dividends): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM prices_daily), (SELECT count(*) FROM splits), (SELECT count(*) FROM dividends)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    println!(
        "universe generated set-based in SQL: {symbols} symbols, {bars} bars {from}..{to}, {splits} splits, {dividends} dividends ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    let venv = Command::new("bash")
        .arg(repo().join("scripts/python-venv.sh"))
        .output()
        .expect("scripts/python-venv.sh");
    assert!(venv.status.success(), "{}", output_text(&venv));
    let python = Path::new(String::from_utf8(venv.stdout).unwrap().trim()).join("bin/python");
    let status = Command::new(python)
        .arg(repo().join("bench/python/prices.py"))
        .args([from, to, &rounds.to_string()])
        .env("DATABASE_URL", libpq_url(&db))
        .status()
        .expect("bench/python/prices.py");
    assert!(status.success(), "bench/python/prices.py failed");
    db.pool.close().await;
}
