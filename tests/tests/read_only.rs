//! The fallback week after a move (RUNBOOK, "Moving to a managed host"): the old database
//! made read-only as the runbook says, the loader refuses it before writing anything
//! (exit 2, a message naming why), and `etl_run` stays as it was.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::ConnectOptions;
use weston_tests::{loader_command, output_text, seed_small_market, TestDb};

async fn etl_runs(url: &str) -> i64 {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let n = sqlx::query_scalar("SELECT count(*) FROM etl_run")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[tokio::test]
async fn the_loader_refuses_a_database_retired_read_only() {
    let db = TestDb::migrated("read_only").await;
    seed_small_market(&db.pool).await;
    let loader = format!("loader_{}", db.name.trim_start_matches("t_"));
    // The runbook's steps, as a superuser: read-only by default, the loader's write grants gone.
    sqlx::raw_sql(&format!(
        "CREATE ROLE {loader} LOGIN IN ROLE etl_writer;
         ALTER DATABASE {db} SET default_transaction_read_only = on;
         REVOKE INSERT, UPDATE ON securities, prices_daily, splits, dividends, etl_run FROM etl_writer;",
        db = db.name
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let runs_before = etl_runs(&db.url).await;

    let run = ["run", "--provider", "mock", "--symbols", "S1"];
    // As the superuser: read-only by default.
    let out = loader_command(&db, &run)
        .env("WESTON_MOCK_SYMBOLS", "3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("run refused") && stderr.contains("default_transaction_read_only = on"),
        "{stderr}"
    );
    assert!(stderr.contains("Nothing was written"), "{stderr}");
    let out = loader_command(&db, &["migrate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));

    // As the loader's own login, read-only turned off for it: its grants are gone.
    sqlx::raw_sql(&format!(
        "BEGIN READ WRITE; ALTER ROLE {loader} SET default_transaction_read_only = off; COMMIT;"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let options: PgConnectOptions = db.url.parse().unwrap();
    let as_loader = options.username(&loader);
    let mut cmd = loader_command(&db, &run);
    cmd.env("DATABASE_URL", as_loader.to_url_lossy().to_string())
        .env("WESTON_MOCK_SYMBOLS", "3");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("may not write its market data"),
        "{}",
        output_text(&out)
    );

    assert_eq!(
        etl_runs(&db.url).await,
        runs_before,
        "a refused run recorded something"
    );
    sqlx::raw_sql(&format!(
        "BEGIN READ WRITE; ALTER DATABASE {db} RESET default_transaction_read_only; DROP ROLE {loader}; COMMIT;",
        db = db.name
    ))
    .execute(&db.pool)
    .await
    .unwrap();
}
