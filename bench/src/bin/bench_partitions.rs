//! Partition maintenance, side by side in one run: pg_weston's weston_rotate_partitions()
//! against pg_partman 4.7.2 on the same table shape (prices_daily without its foreign keys)
//! with 20 years of monthly partitions. Three runs each: the no-op run, the run that
//! creates one month, and the run that drains 100k DEFAULT rows into a new month
//! (pg_partman: partition_data_proc). A concurrent reader queries the table during each
//! run; the longest time one of its queries took is printed too.
//!
//! Run by `scripts/bench.sh partitions` (a throw-away cluster; WESTON_TEST_ADMIN_URL);
//! `--smoke`: 2 years, fewer runs, 2k rows to drain.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use weston_tests::BenchSize;

const DB: &str = "bench_partitions";

struct Sizes {
    years: i32,
    no_op_runs: usize,
    create_runs: usize,
    drain_symbols: i32,
    drain_days: i32,
}

const FULL: Sizes = Sizes {
    years: 20,
    no_op_runs: 15,
    create_runs: 5,
    drain_symbols: 5_000,
    drain_days: 20, // 5 000 symbols x 20 days = 100 000 rows
};
const SMOKE: Sizes = Sizes {
    years: 2,
    no_op_runs: 3,
    create_runs: 2,
    drain_symbols: 100,
    drain_days: 20,
};

const SHAPE: &str = "symbol text NOT NULL, date date NOT NULL, open numeric NOT NULL, high numeric NOT NULL,
    low numeric NOT NULL, close numeric NOT NULL, volume numeric NOT NULL, vwap numeric, provider text NOT NULL,
    adjusted boolean NOT NULL DEFAULT false, run_id bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, date)";

struct System {
    label: &'static str,
    table: &'static str,
    maintenance: &'static str,
    drain: &'static str,
}

const OURS: System = System {
    label: "pg_weston",
    table: "w_prices",
    maintenance: "SELECT weston.weston_rotate_partitions()",
    drain: "SELECT weston.weston_rotate_partitions()",
};
const PARTMAN: System = System {
    label: "pg_partman",
    table: "p_prices",
    maintenance: "SELECT partman.run_maintenance('public.p_prices', p_jobmon := false)",
    drain: "CALL partman.partition_data_proc('public.p_prices', p_wait := 0, p_quiet := true)",
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let size = BenchSize::from_args().pick(&FULL, &SMOKE);
    let admin_url = weston_tests::admin_url();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_url)
        .await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {DB}"))
        .execute(&admin)
        .await?;
    let options: PgConnectOptions = admin_url.parse()?;
    let options = options.database(DB).disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;

    setup(&pool, size.years).await?;
    let months: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'w_prices'::regclass)
              + (SELECT count(*) FROM pg_inherits WHERE inhparent = 'p_prices'::regclass)",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "bench_partitions: two tables, {months} partitions in all ({} years of months + 3 ahead + DEFAULT each)",
        size.years
    );

    let mut rows = Vec::new();
    // What the reader's query takes with nothing else running, for scale.
    let mut baseline = [Duration::ZERO; 2];
    for (i, system) in [&OURS, &PARTMAN].into_iter().enumerate() {
        baseline[i] = timed_with_reader(&pool, system.table, "SELECT pg_sleep(0.3)")
            .await?
            .1;
    }
    // 1. The no-op run (the nightly case): everything already exists.
    for system in [&OURS, &PARTMAN] {
        sqlx::raw_sql(system.maintenance).execute(&pool).await?; // settle
    }
    let mut no_op = [Vec::new(), Vec::new()];
    let mut no_op_blocked = [Duration::ZERO; 2];
    for _ in 0..size.no_op_runs {
        for (i, system) in [&OURS, &PARTMAN].into_iter().enumerate() {
            let (took, blocked) =
                timed_with_reader(&pool, system.table, system.maintenance).await?;
            no_op[i].push(took);
            no_op_blocked[i] = no_op_blocked[i].max(blocked);
        }
    }
    rows.push((
        format!("no-op maintenance run (median of {})", size.no_op_runs),
        median(&mut no_op[0]),
        median(&mut no_op[1]),
        no_op_blocked,
    ));

    // 2. The run that creates one month: drop the furthest pre-made month, run maintenance.
    let mut create = [Vec::new(), Vec::new()];
    let mut create_blocked = [Duration::ZERO; 2];
    for _ in 0..size.create_runs {
        for (i, system) in [&OURS, &PARTMAN].into_iter().enumerate() {
            let furthest = furthest_month(&pool, system.table).await?;
            sqlx::raw_sql(&format!("DROP TABLE {furthest}"))
                .execute(&pool)
                .await?;
            let (took, blocked) =
                timed_with_reader(&pool, system.table, system.maintenance).await?;
            anyhow::ensure!(
                furthest_month(&pool, system.table).await? == furthest,
                "{}: the month {furthest} was not re-created",
                system.label
            );
            create[i].push(took);
            create_blocked[i] = create_blocked[i].max(blocked);
        }
    }
    rows.push((
        format!(
            "run that creates one month (median of {})",
            size.create_runs
        ),
        median(&mut create[0]),
        median(&mut create[1]),
        create_blocked,
    ));

    // 3. The run that drains 100k DEFAULT rows into the month they belong to.
    let mut drain = [Duration::ZERO; 2];
    let mut drain_blocked = [Duration::ZERO; 2];
    for (i, system) in [&OURS, &PARTMAN].into_iter().enumerate() {
        let month = sqlx::query_scalar::<_, String>(
            "SELECT to_char(date_trunc('month', (now() AT TIME ZONE 'America/New_York')::date::timestamp) - interval '2 months', 'YYYY_MM')",
        )
        .fetch_one(&pool)
        .await?;
        let child = format!("{}_p{month}", system.table);
        sqlx::raw_sql(&format!(
            "DROP TABLE {child};
             INSERT INTO {table} (symbol, date, open, high, low, close, volume, provider, run_id)
             SELECT 'S' || lpad(s::text, 5, '0'), to_date('{month}', 'YYYY_MM') + d, 10, 11, 9, 10, 1000, 'mock', 1
               FROM generate_series(1, {symbols}) s, generate_series(0, {days}) d;",
            table = system.table,
            symbols = size.drain_symbols,
            days = size.drain_days - 1
        ))
        .execute(&pool)
        .await?;
        sqlx::raw_sql(&format!("VACUUM ANALYZE {}_default", system.table))
            .execute(&pool)
            .await?;
        let (took, blocked) = timed_with_reader(&pool, system.table, system.drain).await?;
        let (moved, left): (i64, i64) = sqlx::query_as(&format!(
            "SELECT (SELECT count(*) FROM {child}), (SELECT count(*) FROM {}_default)",
            system.table
        ))
        .fetch_one(&pool)
        .await?;
        anyhow::ensure!(
            moved == i64::from(size.drain_symbols * size.drain_days) && left == 0,
            "{}: moved {moved}, left {left} in DEFAULT",
            system.label
        );
        drain[i] = took;
        drain_blocked[i] = blocked;
    }
    rows.push((
        format!(
            "run that drains {}k DEFAULT rows",
            size.drain_symbols * size.drain_days / 1000
        ),
        drain[0],
        drain[1],
        drain_blocked,
    ));

    println!();
    println!(
        "{:<44} {:>12} {:>12} {:>16} {:>18} {:>18}",
        "", "pg_weston", "pg_partman", "ratio (ours/pm)", "reader max (ours)", "reader max (pm)"
    );
    for (label, ours, partman, blocked) in rows {
        println!(
            "{label:<44} {:>12} {:>12} {:>16.2} {:>18} {:>18}",
            ms(ours),
            ms(partman),
            ours.as_secs_f64() / partman.as_secs_f64(),
            ms(blocked[0]),
            ms(blocked[1])
        );
    }
    println!(
        "{:<44} {:>12} {:>12} {:>16} {:>18} {:>18}",
        "reader alone (nothing else running)",
        "",
        "",
        "",
        ms(baseline[0]),
        ms(baseline[1])
    );
    println!("(reader max: the longest a concurrent `SELECT count(*) ... WHERE symbol = 'S00001'` took during the run; goal ratio <= 0.50)");

    pool.close().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    Ok(())
}

/// Both tables with `years` of monthly partitions. pg_weston's is registered in
/// `weston_partition_config` before its months are made: `weston_ensure_partitions` acts only
/// on registered parents, and one call makes at most the configured `max_partitions_per_call`
/// (120 by default), so the 20-year table raises it as a dba would.
async fn setup(pool: &PgPool, years: i32) -> anyhow::Result<()> {
    sqlx::raw_sql(&format!(
        "CREATE EXTENSION pg_weston;
         CREATE SCHEMA partman;
         CREATE EXTENSION pg_partman SCHEMA partman;

         CREATE TABLE w_prices ({SHAPE}) PARTITION BY RANGE (date);
         CREATE TABLE w_prices_default PARTITION OF w_prices DEFAULT;
         INSERT INTO weston_data.weston_partition_config (parent, premake_months, max_partitions_per_call)
             VALUES ('w_prices', 3, {years} * 12 + 12);
         SELECT weston.weston_ensure_partitions(
             ((now() AT TIME ZONE 'America/New_York')::date - interval '{years} years')::date,
             ((now() AT TIME ZONE 'America/New_York')::date + interval '3 months')::date,
             'w_prices');

         CREATE TABLE p_prices ({SHAPE}) PARTITION BY RANGE (date);
         SELECT partman.create_parent('public.p_prices', 'date', 'native', 'monthly',
             p_premake := 3, p_jobmon := false,
             p_start_partition := date_trunc('month', (now() AT TIME ZONE 'America/New_York')::date::timestamp - interval '{years} years')::date::text);
         -- Calendar-driven pre-making, as pg_weston does (otherwise pg_partman counts from the data).
         UPDATE partman.part_config SET infinite_time_partitions = true WHERE parent_table = 'public.p_prices';"
    ))
    .execute(pool)
    .await?;
    Ok(())
}

/// The newest month partition of `table` (qualified name).
async fn furthest_month(pool: &PgPool, table: &str) -> anyhow::Result<String> {
    Ok(sqlx::query_scalar(
        "SELECT max(c.relname::text) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::regclass AND c.relname::text ~ '_p[0-9]{4}_[0-9]{2}$'",
    )
    .bind(table)
    .fetch_one(pool)
    .await?)
}

/// Runs `sql` once while a reader on its own connection queries `table` in a loop;
/// returns how long `sql` took and the longest single reader query meanwhile.
async fn timed_with_reader(
    pool: &PgPool,
    table: &str,
    sql: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (pool, stop, query) = (
            pool.clone(),
            stop.clone(),
            format!("SELECT count(*) FROM {table} WHERE symbol = 'S00001'"),
        );
        tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            let mut longest = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                sqlx::query(&query).execute(&mut *conn).await?;
                longest = longest.max(t.elapsed());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            anyhow::Ok(longest)
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    sqlx::raw_sql(sql).execute(&mut *conn).await?;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(30)).await;
    stop.store(true, Ordering::Relaxed);
    let blocked = reader.await??;
    Ok((took, blocked))
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
