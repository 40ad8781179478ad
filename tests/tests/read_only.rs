//! The fallback week after a move (RUNBOOK, "Moving to a managed host"): the old database
//! made read-only as the runbook says, the loader refuses it before writing anything
//! (exit 2, a message naming why), and `etl_run` stays as it was.

use sqlx::postgres::PgPoolOptions;
use weston_tests::{
    loader_command, output_text, seed_small_market, superuser_loader_command, TestDb, LOADER,
};

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
    // The runbook's steps, as a superuser: read-only by default, the loader's write grants gone.
    sqlx::raw_sql(&format!(
        "ALTER DATABASE {db} SET default_transaction_read_only = on;
         REVOKE INSERT, UPDATE ON securities, prices_daily, splits, dividends, etl_run FROM etl_writer;",
        db = db.name
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let runs_before = etl_runs(&db.url).await;

    let run = ["run", "--provider", "mock", "--symbols", "S1"];
    // The loader's login: read-only by default.
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
    // The superuser who migrates (the named exception): refused as well.
    let out = superuser_loader_command(&db, &["migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));

    // The loader's login with read-only turned off for it in this database: its grants are gone.
    sqlx::raw_sql(&format!(
        "BEGIN READ WRITE; ALTER ROLE {loader} IN DATABASE {db} SET default_transaction_read_only = off; COMMIT;",
        loader = LOADER.role,
        db = db.name
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let out = loader_command(&db, &run)
        .env("WESTON_MOCK_SYMBOLS", "3")
        .output()
        .unwrap();
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
        "BEGIN READ WRITE; ALTER DATABASE {db} RESET default_transaction_read_only;
         ALTER ROLE {loader} IN DATABASE {db} RESET ALL; COMMIT;",
        loader = LOADER.role,
        db = db.name
    ))
    .execute(&db.pool)
    .await
    .unwrap();
}
