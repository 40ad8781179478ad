//! The whole US market on one machine: a universe of N symbols x Y years built through the
//! real loader (mock market: splits, dividends), each figure next to its limit in one run:
//! backfill vs COPY of the same rows into an identical partitioned table (same foreign
//! keys); the nightly increment (mock, and Polygon grouped-daily from a local server);
//! adjusted reads vs the raw read and vs the raw read times constant factors (the floor of
//! an exact adjustment); rotation with ~12 partitions a year; `status` and every exporter
//! query; the loader's peak memory; bytes on disk per bar.
//!
//! Run by `scripts/bench.sh scale`. WESTON_BENCH_SCALE_SYMBOLS (a list, default "12000"),
//! WESTON_BENCH_SCALE_YEARS (default 10). Each size appends its figures to WESTON_BENCH_SCALE_RESULTS
//! (default target/bench-scale.tsv) and the run ends with a table of how every figure
//! grows over the sizes recorded there. Each size's database is dropped at its end (disk).
//! `--smoke`: 20 symbols x 1 year, 2 rounds, nothing recorded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{Months, NaiveDate, TimeZone};
use fake_providers::{Reply, Seen, TestServer};
use sqlx::{Connection, PgConnection};
use weston_loader::calendar;
use weston_loader::providers::mock::{mock_symbol, MockProvider};
use weston_loader::providers::{mock, Provider as _};
use weston_tests::{loader_command, monitoring_queries, output_text, BenchSize, TestDb};

/// The last session of the backfill; the nightly runs add the two sessions after it.
const BACKFILL_TO: &str = "2026-10-28";
const POLYGON_KEY: &str = "scale-k3y";
/// What status, the exporter and the loader's plan asked before price_last_dates: every symbol's
/// max(date), one index probe per symbol and monthly partition.
const FRESHNESS_BY_SCAN: &str = "SELECT min(last_date), max(last_date) FROM (
    SELECT (SELECT max(p.date) FROM weston_data.prices_daily p WHERE p.symbol = s.symbol) AS last_date
      FROM weston_data.securities s WHERE s.delisted_date IS NULL) u";

#[path = "bench_scale/figures.rs"]
mod figures;
#[path = "bench_scale/reads.rs"]
mod reads;
use figures::Figures;

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// `weston-loader args` with the mock market of `symbols`, under /usr/bin/time: wall time
/// and peak resident memory (KiB).
fn loader(db: &TestDb, symbols: usize, args: &[&str], env: &[(&str, &str)]) -> (Duration, u64) {
    let inner = loader_command(db, args);
    let rss_file = std::env::temp_dir().join(format!("bench-scale-rss-{}", std::process::id()));
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%M").arg("-o").arg(&rss_file);
    cmd.arg(inner.get_program()).args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.current_dir(std::env::temp_dir())
        .env(weston_loader::cli::MOCK_SYMBOLS_ENV, symbols.to_string())
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = cmd.output().expect("run weston-loader under /usr/bin/time");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "weston-loader {args:?}: {}",
        output_text(&out)
    );
    let rss = std::fs::read_to_string(&rss_file).unwrap_or_default();
    let _ = std::fs::remove_file(&rss_file);
    let kib = rss
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (took, kib)
}

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
}

/// `sql`, one statement at a time when separated by "; " (VACUUM refuses a multi-statement string).
async fn exec(conn: &mut PgConnection, sql: &str) {
    for statement in sql.split("; ") {
        sqlx::raw_sql(statement)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// The audit's share of the last loader run (`etl_run.stats.audit.millis`), in ms.
async fn last_run_audit_millis(conn: &mut PgConnection) -> f64 {
    sqlx::query_scalar(
        "SELECT coalesce((stats->'audit'->>'millis')::float8, 0)
           FROM weston_data.etl_run ORDER BY run_id DESC LIMIT 1",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

/// An identical partitioned table (columns, defaults, checks, indexes, foreign keys, the
/// same monthly bounds) in schema bench_copy.
async fn copy_table(conn: &mut PgConnection) {
    exec(conn, "CREATE SCHEMA bench_copy;
        CREATE TABLE bench_copy.prices_daily (LIKE weston_data.prices_daily INCLUDING ALL) PARTITION BY RANGE (date)").await;
    let ddl: Vec<String> = sqlx::query_scalar(
        "SELECT format('ALTER TABLE bench_copy.prices_daily ADD %s', pg_get_constraintdef(oid))
           FROM pg_constraint WHERE conrelid = 'weston_data.prices_daily'::regclass AND contype = 'f'
         UNION ALL
         SELECT format('CREATE TABLE bench_copy.%I PARTITION OF bench_copy.prices_daily %s',
                       c.relname, pg_get_expr(c.relpartbound, c.oid))
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'weston_data.prices_daily'::regclass",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for sql in ddl {
        exec(conn, &sql).await;
    }
}

/// COPY of the loaded bars, `batch` symbols per transaction as the loader batches them;
/// only the COPY FROM is timed.
async fn copy_rate(conn: &mut PgConnection, tickers: &[String], batch: usize) -> (i64, Duration) {
    const COLUMNS: &str = "symbol, date, open, high, low, close, volume, vwap, provider, run_id";
    let mut rows = 0;
    let mut took = Duration::ZERO;
    for chunk in tickers.chunks(batch) {
        let mut data = Vec::new();
        let mut out = conn
            .copy_out_raw(&format!(
                "COPY (SELECT {COLUMNS} FROM weston_data.prices_daily WHERE symbol = ANY ('{{{}}}') ORDER BY symbol, date) TO STDOUT",
                chunk.join(",")
            ))
            .await
            .unwrap();
        use futures_util::StreamExt as _;
        while let Some(bytes) = out.next().await {
            data.extend_from_slice(&bytes.unwrap());
        }
        drop(out);
        rows += data.iter().filter(|b| **b == b'\n').count() as i64;
        let start = Instant::now();
        let mut tx = conn.begin().await.unwrap();
        let mut copy = tx
            .copy_in_raw(&format!(
                "COPY bench_copy.prices_daily ({COLUMNS}) FROM STDIN"
            ))
            .await
            .unwrap();
        copy.send(data).await.unwrap();
        copy.finish().await.unwrap();
        tx.commit().await.unwrap();
        took += start.elapsed();
    }
    (rows, took)
}

/// Polygon's grouped-daily answers for `days`: the mock market's own bars of every ticker
/// (so validation sees a continuous series, and a renamed ticker trades under its new name),
/// and how many bars each day's answer holds.
async fn grouped_answers(
    market: &MockProvider,
    tickers: &[String],
    days: &[NaiveDate],
) -> (BTreeMap<NaiveDate, String>, BTreeMap<NaiveDate, usize>) {
    let last = *days.last().unwrap();
    let mut rows: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for symbol in tickers {
        let bars = market.daily_bars(symbol, days[0], last).await.unwrap();
        for b in bars.iter().filter(|b| days.contains(&b.date)) {
            let close_ms = chrono_tz::America::New_York
                .from_local_datetime(&b.date.and_hms_opt(16, 0, 0).unwrap())
                .single()
                .unwrap()
                .timestamp_millis();
            let vw = b.vwap.map(|v| format!(r#","vw":{v}"#)).unwrap_or_default();
            rows.entry(b.date).or_default().push(format!(
                r#"{{"T":"{symbol}","v":{},"o":{},"c":{},"h":{},"l":{},"t":{close_ms},"n":100{vw}}}"#,
                b.volume, b.open, b.close, b.high, b.low
            ));
        }
    }
    let bars = rows.iter().map(|(day, rows)| (*day, rows.len())).collect();
    let answers = rows
        .into_iter()
        .map(|(day, rows)| {
            let n = rows.len();
            let body = format!(
                r#"{{"queryCount":{n},"resultsCount":{n},"adjusted":false,"results":[{}],"status":"OK","request_id":"r","count":{n}}}"#,
                rows.join(",")
            );
            (day, body)
        })
        .collect();
    (answers, bars)
}

fn polygon_handler(answers: BTreeMap<NaiveDate, String>) -> impl Fn(&Seen) -> Reply {
    move |seen: &Seen| {
        let parts: Vec<&str> = seen.path.split('/').collect();
        match parts.as_slice() {
            ["", "v2", "aggs", "grouped", "locale", "us", "market", "stocks", day] => {
                match day.parse().ok().and_then(|d: NaiveDate| answers.get(&d)) {
                    Some(body) => Reply::json(body.clone()),
                    None => Reply::json(
                        r#"{"queryCount":0,"resultsCount":0,"adjusted":false,"results":[],"status":"OK","request_id":"r","count":0}"#,
                    ),
                }
            }
            // No events, and detection's listing of inactive tickers: no delistings.
            ["", "v3", "reference", "splits" | "dividends" | "tickers"] => {
                Reply::json(r#"{"results":[],"status":"OK","request_id":"r"}"#)
            }
            _ => Reply::status(
                404,
                r#"{"status":"NOT_FOUND","request_id":"r","message":"Not found."}"#,
            ),
        }
    }
}

async fn scenario(size: BenchSize, symbols: usize, years: u32, figures: &mut Figures) {
    let to: NaiveDate = BACKFILL_TO.parse().unwrap();
    let from = to - Months::new(12 * years) + chrono::Days::new(1);
    let after: Vec<NaiveDate> =
        calendar::trading_days(to + chrono::Days::new(1), to + chrono::Days::new(10));
    let (night1, night2) = (after[0], after[1]);
    let batch = 50;
    let db = TestDb::migrated(&format!("bench_scale_{symbols}")).await;
    let mut conn = db.pool.acquire().await.unwrap().detach();
    let universe: Vec<String> = (1..=symbols).map(mock_symbol).collect();
    println!("\n== {symbols} symbols x {years} years ({from}..{to}), batches of {batch} symbols");
    // A backfill wider than max_partitions_per_call months (default 120, ten years) is
    // refused until a dba raises the limit (docs/OPERATIONS.md, "Partitions"): as a dba would.
    let months = years * 12 + 2;
    let limit: i32 = sqlx::query_scalar(
        "SELECT max_partitions_per_call FROM weston_data.weston_partition_config
          WHERE parent = 'weston_data.prices_daily'::regclass",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    if months as i32 > limit {
        exec(
            &mut conn,
            &format!(
                "UPDATE weston_data.weston_partition_config SET max_partitions_per_call = {months}
                  WHERE parent = 'weston_data.prices_daily'::regclass"
            ),
        )
        .await;
        println!("max_partitions_per_call raised from {limit} to {months} for the backfill");
    }

    // 1. Backfill through the loader, then COPY of the same rows.
    let (backfill, rss) = loader(
        &db,
        symbols,
        &[
            "run",
            "--provider",
            "mock",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
        ],
        &[],
    );
    exec(&mut conn, "VACUUM ANALYZE; CHECKPOINT").await;
    let bars = count(&mut conn, "SELECT count(*) FROM weston_data.prices_daily").await;
    let events = count(
        &mut conn,
        "SELECT (SELECT count(*) FROM weston_data.splits) + (SELECT count(*) FROM weston_data.dividends)",
    )
    .await;
    // Every ticker with bars: the mock market's renamed and moved securities trade under
    // tickers outside MOCK0001..N.
    let tickers: Vec<String> =
        sqlx::query_scalar("SELECT symbol FROM weston_data.price_last_dates ORDER BY symbol")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    copy_table(&mut conn).await;
    let (copied, copy_took) = copy_rate(&mut conn, &tickers, batch).await;
    assert_eq!(copied, bars, "COPY takes the same rows");
    exec(
        &mut conn,
        "VACUUM ANALYZE bench_copy.prices_daily; CHECKPOINT",
    )
    .await;
    let loader_rate = bars as f64 / backfill.as_secs_f64();
    let copy_rate = copied as f64 / copy_took.as_secs_f64();
    println!("{bars} bars, {events} splits and dividends");
    figures.ratio(
        "backfill rows/s (whole loader run) vs COPY",
        loader_rate,
        copy_rate,
        "rows/s",
        ">= 0.50",
    );
    figures.value("backfill wall time", backfill.as_secs_f64(), "s");
    figures.value("loader peak RSS, backfill", rss as f64 / 1024.0, "MiB");
    let per_bar = |table: &str| {
        format!("SELECT (sum(pg_total_relation_size(inhrelid)) / {bars})::float8 FROM pg_inherits WHERE inhparent = '{table}'::regclass")
    };
    let ours: f64 = sqlx::query_scalar(&per_bar("weston_data.prices_daily"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let theirs: f64 = sqlx::query_scalar(&per_bar("bench_copy.prices_daily"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    figures.ratio(
        "bytes on disk per bar (table + indexes) vs COPY'd table",
        ours,
        theirs,
        "B",
        "",
    );
    let partitions = count(
        &mut conn,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'weston_data.prices_daily'::regclass",
    )
    .await;
    exec(&mut conn, "DROP SCHEMA bench_copy CASCADE").await;

    // 2. The nightly increment: one new session for every symbol.
    let (mock_night, mock_rss) = loader(
        &db,
        symbols,
        &["run", "--provider", "mock", "--to", &night1.to_string()],
        &[],
    );
    let mock_audit = last_run_audit_millis(&mut conn).await;
    let market = MockProvider::new(symbols);
    let (answers, bars_per_day) = grouped_answers(
        &market,
        &tickers,
        &calendar::trading_days(to - chrono::Days::new(14), night2),
    )
    .await;
    let market_nights: usize = [night1, night2]
        .iter()
        .map(|night| bars_per_day.get(night).copied().unwrap_or(0))
        .sum();
    let polygon = TestServer::start(polygon_handler(answers)).await;
    let (polygon_night, polygon_rss) = loader(
        &db,
        symbols,
        &["run", "--provider", "polygon", "--to", &night2.to_string()],
        &[
            ("POLYGON_API_KEY", POLYGON_KEY),
            ("WESTON_POLYGON_BASE_URL", &polygon.base_url),
            ("WESTON_POLYGON_RATE_LIMIT", "1000/s"),
        ],
    );
    let calls = polygon.requests().len();
    drop(polygon);
    let polygon_audit = last_run_audit_millis(&mut conn).await;
    let nights = count(
        &mut conn,
        &format!(
            "SELECT count(*) FROM weston_data.prices_daily WHERE date IN ('{night1}', '{night2}')"
        ),
    )
    .await;
    assert_eq!(
        nights, market_nights as i64,
        "each night adds the session of every ticker trading that night"
    );
    figures.limit(
        "nightly increment, mock",
        mock_night.as_secs_f64(),
        30.0,
        "s",
    );
    figures.limit(
        &format!("nightly increment, Polygon grouped ({calls} calls, no rate-limit waits)"),
        polygon_night.as_secs_f64(),
        30.0,
        "s",
    );
    // Where a night goes: the audit of the loaded window, the rest is mostly the writes.
    figures.value("nightly increment, mock: its audit", mock_audit, "ms");
    figures.value("nightly increment, Polygon: its audit", polygon_audit, "ms");
    figures.value(
        "loader peak RSS, nightly (max of both)",
        mock_rss.max(polygon_rss) as f64 / 1024.0,
        "MiB",
    );
    exec(&mut conn, "VACUUM ANALYZE").await;

    // 3. Adjusted reads.
    let rounds = size.pick(3, 2);
    // The raw reads (the limit) go by ticker and the adjusted ones by security: the few
    // securities with a life event (a rename, a reused ticker) would read different rows.
    let steady: Vec<String> = universe
        .iter()
        .filter(|s| {
            mock::life::holdings_of(s)
                .iter()
                .all(|h| h.from.is_none() && h.to.is_none())
        })
        .cloned()
        .collect();
    reads::run(&mut conn, figures, &steady, (from, night2), rounds).await;

    // 4. status and every exporter query.
    let mut status_times = Vec::new();
    for _ in 0..rounds {
        status_times.push(loader(&db, symbols, &["status"], &[]).0);
    }
    figures.limit(
        "weston-loader status (whole command)",
        median(&mut status_times).as_secs_f64() * 1e3,
        1000.0,
        "ms",
    );
    // The freshness query as it was before price_last_dates, for scale.
    let mut scan_times = Vec::new();
    for _ in 0..=rounds {
        let start = Instant::now();
        exec(&mut conn, FRESHNESS_BY_SCAN).await;
        scan_times.push(start.elapsed());
    }
    scan_times.remove(0);
    figures.value(
        "freshness by max(date) per symbol (the scan price_last_dates replaced)",
        median(&mut scan_times).as_secs_f64() * 1e3,
        "ms",
    );
    for (name, q) in monitoring_queries() {
        let mut times = Vec::new();
        for _ in 0..=rounds {
            let start = Instant::now();
            sqlx::raw_sql(&q.query)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            times.push(start.elapsed());
        }
        times.remove(0); // the first round warms caches
        figures.limit(
            &format!("exporter query {name}"),
            median(&mut times).as_secs_f64() * 1e3,
            200.0,
            "ms",
        );
    }

    // 5. Rotation over the table's partitions.
    println!("rotation over {partitions} partitions of prices_daily (DEFAULT included)");
    let rotate = "SELECT weston.weston_rotate_partitions()";
    exec(&mut conn, rotate).await;
    let mut no_op = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        exec(&mut conn, rotate).await;
        no_op.push(start.elapsed());
    }
    figures.value(
        "rotation, no-op",
        median(&mut no_op).as_secs_f64() * 1e3,
        "ms",
    );
    let furthest = "SELECT c.oid::regclass::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'weston_data.prices_daily'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
        ORDER BY c.relname DESC LIMIT 1";
    let month: String = sqlx::query_scalar(furthest)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    exec(&mut conn, &format!("DROP TABLE {month}")).await;
    let start = Instant::now();
    exec(&mut conn, rotate).await;
    figures.value(
        "rotation, one new month",
        start.elapsed().as_secs_f64() * 1e3,
        "ms",
    );
    // A month beyond the furthest partition: its rows land in DEFAULT, rotation drains them.
    let month: String = sqlx::query_scalar(furthest)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    exec(&mut conn, &format!("DROP TABLE {month}")).await;
    let drained = count(&mut conn, &format!(
        "WITH ins AS (INSERT INTO weston_data.prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
              SELECT p.symbol, d::date, p.open, p.high, p.low, p.close, p.volume, p.provider, p.run_id
                FROM weston_data.prices_daily p,
                     generate_series(date_trunc('month', '{night2}'::date + interval '5 months'), date_trunc('month', '{night2}'::date + interval '5 months') + interval '4 days', interval '1 day') d
               WHERE p.date = '{night2}' RETURNING 1)
         SELECT count(*) FROM ins")).await;
    let start = Instant::now();
    exec(&mut conn, rotate).await;
    figures.value(
        &format!("rotation, draining {drained} DEFAULT rows"),
        start.elapsed().as_secs_f64() * 1e3,
        "ms",
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM weston_data.prices_daily_default"
        )
        .await,
        0,
        "DEFAULT drained"
    );

    let _ = conn.close().await;
    db.pool.close().await;
    let admin = sqlx::PgPool::connect(&weston_tests::admin_url())
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", db.name))
        .execute(&admin)
        .await
        .unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let size = BenchSize::from_args();
    let list = |var: &str, default: &str| -> Vec<u32> {
        std::env::var(var)
            .unwrap_or_else(|_| default.into())
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .unwrap_or_else(|_| panic!("{var}: not a number: {s}"))
            })
            .collect()
    };
    let (symbol_sizes, years) = match size {
        BenchSize::Full => (
            list("WESTON_BENCH_SCALE_SYMBOLS", "12000"),
            list("WESTON_BENCH_SCALE_YEARS", "10")[0],
        ),
        BenchSize::Smoke => (vec![20], 1),
    };
    let results = std::env::var("WESTON_BENCH_SCALE_RESULTS").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench-scale.tsv").to_string()
    });
    for symbols in symbol_sizes {
        let mut figures = Figures::new(symbols, years);
        scenario(size, symbols as usize, years, &mut figures).await;
        if size == BenchSize::Full {
            figures.append_to(&results);
        }
    }
    if size == BenchSize::Full {
        let mut text = String::new();
        let _ = writeln!(text, "\nhow each figure grows ({results}, {years} years):");
        print!("{text}{}", figures::growth(&results, years));
        let _ = std::io::stdout().flush();
    }
}
