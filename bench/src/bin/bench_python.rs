//! The analyst's read end to end: daily bars of a whole universe into a pandas DataFrame
//! through the `weston` package (python/), raw, split-adjusted and total return, against a
//! plain psycopg cursor (fetchall) into pandas, side by side in one run (bench/python/prices.py
//! interleaves the rounds and prints medians and ratios), as an analyst's login (`app_ro`).
//! The universe is 750 symbols x 10 years of weekdays with splits and dividends, generated
//! set-based in SQL (`weston_tests::bench_universe`, bench_adjusted's over more years). Run
//! by `scripts/bench.sh python`; asserts nothing about speed.
//! `--smoke`: 20 symbols x 1 year, 2 rounds.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use sqlx::postgres::PgConnectOptions;
use weston_tests::{admin_url, output_text, BenchSize, TestDb, ANALYST};

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
    let (first_year, last_year) = size.pick((2015, 2024), (2024, 2024));
    let (from, to) = (format!("{first_year}-01-01"), format!("{last_year}-12-31"));
    let rounds = size.pick(5, 2);
    let db = TestDb::migrated("bench_python").await;
    let start = Instant::now();
    sqlx::raw_sql(&weston_tests::bench_universe("S", symbols, &from, &to))
        .execute(&db.pool)
        .await
        .unwrap();
    weston_tests::settle(&mut db.pool.acquire().await.unwrap()).await;
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
        .args([&from, &to, &rounds.to_string()])
        .env("DATABASE_URL", libpq_url(&db))
        .status()
        .expect("bench/python/prices.py");
    assert!(status.success(), "bench/python/prices.py failed");
    db.pool.close().await;
}
