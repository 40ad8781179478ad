//! price_last_dates: each symbol's newest bar, kept by prices_daily's statement
//! triggers so that `status` and the freshness exporter query never scan the table. After
//! every kind of write it must equal what they computed before, max(date) per symbol.

use chrono::NaiveDate;
use sqlx::PgPool;
use weston_tests::{loader_command, monitoring_queries, output_text, seed_small_market, TestDb};

/// The summary, and the truth it stands for.
async fn both(pool: &PgPool) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let kept = sqlx::query_as(
        "SELECT symbol, last_date::text FROM weston.price_last_dates ORDER BY symbol",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let truth = sqlx::query_as(
        "SELECT symbol, max(date)::text FROM weston.prices_daily GROUP BY symbol ORDER BY symbol",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    (kept, truth)
}

async fn assert_kept(pool: &PgPool, after: &str) {
    let (kept, truth) = both(pool).await;
    assert_eq!(kept, truth, "price_last_dates after {after}");
}

/// The freshness query before price_last_dates: a max(date) per symbol over the table.
const FRESHNESS_BY_SCAN: &str = "
    WITH today AS (SELECT (now() AT TIME ZONE 'America/New_York')::date AS d),
         universe AS (
           SELECT s.symbol, (SELECT max(p.date) FROM weston.prices_daily p WHERE p.symbol = s.symbol) AS last_date
             FROM weston.securities s WHERE s.delisted_date IS NULL)
    SELECT 'active'::text, count(*)::float8, (count(*) FILTER (WHERE last_date IS NULL))::float8,
           ((SELECT d FROM today) - max(last_date))::float8, ((SELECT d FROM today) - min(last_date))::float8
      FROM universe";

type Freshness = (String, f64, f64, Option<f64>, Option<f64>);

async fn assert_same_freshness(pool: &PgPool, after: &str) {
    let exported: Freshness = sqlx::query_as(&monitoring_queries()["weston_freshness"].query)
        .fetch_one(pool)
        .await
        .unwrap();
    let scanned: Freshness = sqlx::query_as(FRESHNESS_BY_SCAN)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(exported, scanned, "weston_freshness after {after}");
}

#[tokio::test]
async fn every_write_keeps_each_symbols_last_date() {
    let db = TestDb::migrated("last_dates").await;
    let pool = &db.pool;
    seed_small_market(pool).await;
    sqlx::raw_sql("INSERT INTO securities (symbol) VALUES ('EMPTY')")
        .execute(pool)
        .await
        .unwrap();
    assert_kept(pool, "INSERT … SELECT").await;
    assert_same_freshness(pool, "INSERT … SELECT").await;

    let steps = [
        // The loader's kind of upsert: an existing key updated, a new later one inserted.
        ("upsert", "INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
            VALUES ('S1', '2024-03-28', 5, 6, 4, 5, 1, 'mock', 1), ('S1', '2024-03-29', 5, 6, 4, 5, 1, 'mock', 1)
            ON CONFLICT (symbol, date) DO UPDATE SET volume = excluded.volume"),
        ("deleting a symbol's last bar", "DELETE FROM prices_daily WHERE symbol = 'S1' AND date = '2024-03-29'"),
        ("deleting older bars only", "DELETE FROM prices_daily WHERE symbol = 'S2' AND date < '2024-02-01'"),
        ("an update moving a last date back", "UPDATE prices_daily SET date = '2024-03-30' WHERE symbol = 'S3' AND date = '2024-01-02';
            UPDATE prices_daily SET date = '2024-01-01' WHERE symbol = 'S3' AND date = '2024-03-30'"),
        ("deleting all of a symbol's bars", "DELETE FROM prices_daily WHERE symbol = 'S4'"),
        ("an update of values only", "UPDATE prices_daily SET volume = volume + 1 WHERE symbol = 'S2'"),
        ("TRUNCATE", "TRUNCATE prices_daily"),
        ("INSERT after TRUNCATE", "INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
            VALUES ('S2', '2024-02-01', 5, 6, 4, 5, 1, 'mock', 1)"),
    ];
    for (what, sql) in steps {
        sqlx::raw_sql(sql)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_kept(pool, what).await;
        assert_same_freshness(pool, what).await;
    }

    // A rolled-back write leaves nothing behind.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
        VALUES ('S2', '2024-03-15', 5, 6, 4, 5, 1, 'mock', 1)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_kept(pool, "a rolled-back insert").await;
}

#[tokio::test]
async fn the_loaders_runs_keep_last_dates_and_status_reads_them() {
    let db = TestDb::migrated("last_dates_loader").await;
    for to in ["2024-03-08", "2024-03-15"] {
        let out = loader_command(
            &db,
            &[
                "run",
                "--provider",
                "mock",
                "--from",
                "2024-02-01",
                "--to",
                to,
            ],
        )
        .env(weston_loader::cli::MOCK_SYMBOLS_ENV, "12")
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
        assert_kept(&db.pool, &format!("a mock run to {to}")).await;
        assert_same_freshness(&db.pool, &format!("a mock run to {to}")).await;
    }
    let out = loader_command(&db, &["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2024-03-15"),
        "status shows the last dates: {text}"
    );
}

/// Detection's choice of the symbols to ask about one by one reads each symbol's last bar
/// from price_last_dates: its plan touches no partition of prices_daily, so its cost does
/// not grow with the months stored (it probed every monthly partition per symbol).
/// A plan (EXPLAIN's JSON) that reads price_last_dates and no partition of prices_daily.
fn assert_reads_last_dates_not_partitions(plan: &serde_json::Value) {
    let plan = plan.to_string();
    assert!(plan.contains("price_last_dates"), "{plan}");
    assert!(
        !plan.contains("prices_daily"),
        "a partition is read: {plan}"
    );
}

#[tokio::test]
async fn detection_picks_its_suspects_without_reading_the_monthly_partitions() {
    let db = TestDb::migrated("last_dates_suspects").await;
    seed_small_market(&db.pool).await;
    let symbols = vec!["S1".to_string(), "S2".to_string(), "S3".to_string()];
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query("SET search_path = pg_catalog, weston")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: serde_json::Value = sqlx::query_scalar(&format!(
        "EXPLAIN (FORMAT JSON) {}",
        weston_loader::identity::SUSPECTS_SQL
    ))
    .bind(&symbols)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_reads_last_dates_not_partitions(&plan);
    // The same answer as the probe of the partitions: S4 stopped a month early.
    sqlx::query("DELETE FROM weston.prices_daily WHERE symbol = 'S4' AND date >= '2024-03-01'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let symbols = vec!["S1".to_string(), "S4".to_string()];
    let picked: Vec<String> = sqlx::query_scalar(weston_loader::identity::SUSPECTS_SQL)
        .bind(&symbols)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert_eq!(picked, ["S4"]);
}

/// The nightly's universe reads each ticker's last bar from price_last_dates, and the
/// loader's sessions plan without JIT: listing 12,000 tickers with a probe of every
/// monthly partition for the delisted ones compiled 387 functions (2 s a night).
#[tokio::test]
async fn the_universe_is_listed_without_reading_the_monthly_partitions_or_jit() {
    let db = TestDb::migrated("last_dates_universe").await;
    seed_small_market(&db.pool).await;
    sqlx::query("UPDATE weston.securities SET delisted_date = '2024-02-29' WHERE symbol = 'S4'")
        .execute(&db.pool)
        .await
        .unwrap();
    let pool = db.loader_pool();
    let mut conn = pool.acquire().await.unwrap();
    let jit: String = sqlx::query_scalar("SHOW jit")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(jit, "off", "the loader's sessions");
    let plan: serde_json::Value = sqlx::query_scalar(&format!(
        "EXPLAIN (FORMAT JSON) {}",
        weston_loader::plan::UNIVERSE_SQL
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_reads_last_dates_not_partitions(&plan);
    // Each ticker's last bar is its max(date), as the probe gave.
    let listed: Vec<(String, Option<NaiveDate>)> = sqlx::query_as(&format!(
        "SELECT symbol, last_bar FROM ({}) u ORDER BY symbol",
        weston_loader::plan::UNIVERSE_SQL
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let probed: Vec<(String, Option<NaiveDate>)> = sqlx::query_as(
        "SELECT s.symbol, (SELECT max(p.date) FROM prices_daily p WHERE p.symbol = s.symbol)
           FROM securities s ORDER BY s.symbol",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert_eq!(listed, probed);
    assert!(listed.iter().all(|(_, last)| last.is_some()), "{listed:?}");
}
