//! The schema, migrations and extension basics, on the real cluster.

use sqlx::Row;
use weston_loader::LoaderError;
use weston_tests::{superuser_loader_command, TestDb};

#[tokio::test]
async fn migrate_from_empty_creates_the_contract_schema() {
    let db = TestDb::migrated("schema").await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class WHERE relnamespace = 'weston_data'::regnamespace AND relkind IN ('r','p')
          AND relname IN ('securities','prices_daily','splits','dividends','etl_run','weston_partition_config','weston_maintenance_log')
          ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "dividends",
            "etl_run",
            "prices_daily",
            "securities",
            "splits",
            "weston_maintenance_log",
            "weston_partition_config"
        ]
    );

    let version: String = sqlx::query_scalar("SELECT weston_version()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));

    // Partitions: every month from 180 days back to three months ahead (New York dates), and DEFAULT.
    let row = sqlx::query(
        "WITH today AS (SELECT (now() AT TIME ZONE 'America/New_York')::date AS d)
         SELECT (SELECT count(*) FROM generate_series(date_trunc('month', d - 180), date_trunc('month', d + interval '3 months'), interval '1 month') m
                  WHERE to_regclass('prices_daily_p' || to_char(m, 'YYYY_MM')) IS NULL) AS missing,
                (SELECT count(*) FROM pg_inherits WHERE inhparent = 'prices_daily'::regclass) AS partitions,
                to_regclass('prices_daily_default') IS NOT NULL AS has_default
           FROM today",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(row.get::<i64, _>("missing"), 0);
    assert!(
        row.get::<i64, _>("partitions") >= 10,
        "about 10 months plus DEFAULT"
    );
    assert!(row.get::<bool, _>("has_default"));

    let configured: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM weston_partition_config WHERE parent = 'prices_daily'::regclass AND premake_months = 3",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(configured, 1);
}

#[tokio::test]
async fn migrate_twice_is_a_no_op() {
    let db = TestDb::migrated("twice").await;
    let partitions_before: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'prices_daily'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let applied = weston_loader::migrate::migrate(&db.pool).await.unwrap();
    assert!(applied.is_empty(), "second migrate applied {applied:?}");
    let partitions_after: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'prices_daily'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(partitions_before, partitions_after);
}

#[tokio::test]
async fn a_migration_whose_comment_was_reworded_is_realigned_and_any_other_change_refused() {
    let db = TestDb::migrated("reworded").await;
    let checksum = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT encode(checksum, 'hex') FROM _sqlx_migrations WHERE version = 1",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let current = checksum(&db).await;
    // As a database migrated before 0001's comment was reworded recorded it.
    let original = "18217ce825ed3f58bed9d7cd973b26f1644db371230543ffef8c51a2883f686c60524c66bbca8c4ef8872272fe5701f9";
    assert_ne!(current, original, "0001 as embedded is the reworded text");
    sqlx::query("UPDATE _sqlx_migrations SET checksum = decode($1, 'hex') WHERE version = 1")
        .bind(original)
        .execute(&db.pool)
        .await
        .unwrap();
    let applied = weston_loader::migrate::migrate(&db.pool).await.unwrap();
    assert!(applied.is_empty(), "{applied:?}");
    assert_eq!(checksum(&db).await, current);

    // Any other recorded text is still a changed migration.
    sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = 1")
        .execute(&db.pool)
        .await
        .unwrap();
    match weston_loader::migrate::migrate(&db.pool).await {
        Err(LoaderError::Config(message)) => {
            assert!(
                message.contains("changed after it was applied"),
                "{message}"
            )
        }
        other => panic!("expected a changed migration refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_database_at_an_unknown_version_gets_a_clear_error() {
    let db = TestDb::migrated("unknown_version").await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101, 'from the future', true, '\\x00', 0)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    match weston_loader::migrate::migrate(&db.pool).await {
        Err(LoaderError::Config(message)) => {
            assert!(
                message.contains("99990101") && message.contains("does not know"),
                "{message}"
            )
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // The CLI reports it with exit status 2 (bad configuration).
    let out = superuser_loader_command(&db, &["migrate"])
        .output()
        .expect("run weston-loader");
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("99990101"));
}

#[tokio::test]
async fn constraints_reject_bad_rows_by_name() {
    let db = TestDb::migrated("constraints").await;
    sqlx::raw_sql(
        "INSERT INTO securities (symbol, name) VALUES ('AAPL', 'Apple Inc.');
         INSERT INTO etl_run (job_name, window_start, window_end) VALUES ('test', '2026-01-01', '2026-01-31');",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let bar = |open: &str, high: &str, low: &str, close: &str, volume: &str, extra: &str| {
        format!(
            "INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id{})
             VALUES ('AAPL', (now() AT TIME ZONE 'America/New_York')::date, {open}, {high}, {low}, {close}, {volume}, 'mock', 1{})",
            if extra.is_empty() { "" } else { ", adjusted" },
            if extra.is_empty() { String::new() } else { format!(", {extra}") }
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (bar("10", "9", "8", "9", "100", ""), "prices_daily_high_low_range"),
        (bar("10", "11", "9", "12", "100", ""), "prices_daily_high_low_range"),
        (bar("-1", "11", "-2", "10", "100", ""), "prices_daily_prices_positive"),
        (bar("10", "11", "9", "10", "-5", ""), "prices_daily_volume_nonnegative"),
        (bar("10", "11", "9", "10", "100", "true"), "prices_daily_stored_raw"),
        (bar("10", "11", "9", "10", "100", "").replace("'mock'", "'yahoo'"), "prices_daily_provider_known"),
        (bar("10", "11", "9", "10", "100", "").replace("'AAPL'", "'ZZZZ'"), "prices_daily_symbol_fkey"),
        // Provenance: a loaded row names its run; a DBA's (manual) row has none.
        (bar("10", "11", "9", "10", "100", "").replace("'mock', 1", "'mock', NULL"), "prices_daily_run_iff_loaded"),
        (bar("10", "11", "9", "10", "100", "").replace("'mock', 1", "'manual', 1"), "prices_daily_run_iff_loaded"),
        ("INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id) VALUES ('AAPL', '2020-08-31', 4, 1, 'manual', 1)".into(), "splits_run_iff_loaded"),
        ("INSERT INTO dividends (symbol, ex_date, amount, currency, provider, run_id) VALUES ('AAPL', '2024-02-09', 0.24, 'USD', 'fmp', NULL)".into(), "dividends_run_iff_loaded"),
        ("INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id) VALUES ('AAPL', '2020-08-31', 0, 1, 'mock', 1)".into(), "splits_ratio_positive"),
        ("INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id) VALUES ('AAPL', '2020-08-31', 4, -1, 'mock', 1)".into(), "splits_ratio_positive"),
        ("INSERT INTO dividends (symbol, ex_date, amount, currency, provider, run_id) VALUES ('AAPL', '2024-02-09', 0.24, 'usd', 'mock', 1)".into(), "dividends_currency_iso4217"),
        ("INSERT INTO dividends (symbol, ex_date, amount, currency, provider, run_id) VALUES ('AAPL', '2024-02-09', 0, 'USD', 'mock', 1)".into(), "dividends_amount_positive"),
        ("INSERT INTO securities (symbol) VALUES ('aapl lower')".into(), "securities_symbol_format"),
        ("INSERT INTO securities (symbol, listed_date, delisted_date) VALUES ('OLD', '2020-01-02', '2019-01-02')".into(), "securities_listing_order"),
        ("INSERT INTO etl_run (job_name, status, finished_at) VALUES ('x', 'exploded', now())".into(), "etl_run_status_known"),
        ("INSERT INTO etl_run (job_name, window_start, window_end) VALUES ('x', '2026-02-01', '2026-01-01')".into(), "etl_run_window_order"),
        ("INSERT INTO etl_run (job_name, status, finished_at) VALUES ('x', 'failed', now())".into(), "etl_run_failure_has_error"),
        ("INSERT INTO weston_partition_config (parent, retention) VALUES ('splits', 'archive')".into(), "weston_partition_config_archive_schema_iff_archive"),
    ];
    for (sql, constraint) in cases {
        let err = sqlx::query(&sql).execute(&db.pool).await.expect_err(&sql);
        let db_err = err
            .as_database_error()
            .unwrap_or_else(|| panic!("{sql}: {err}"));
        assert_eq!(db_err.constraint(), Some(constraint), "{sql}: {db_err}");
        assert!(db_err.message().contains(constraint) || db_err.constraint() == Some(constraint));
    }
    // A good bar is accepted, so the cases above fail for their own reason.
    sqlx::query(&bar("10", "11", "9", "10.5", "1000", ""))
        .execute(&db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn extension_is_non_relocatable_dumpable_and_search_path_proof() {
    let db = TestDb::migrated("extension").await;
    let row = sqlx::query(
        "SELECT e.extrelocatable,
                ARRAY(SELECT c::regclass::text FROM unnest(e.extconfig) c ORDER BY 1) AS config
           FROM pg_extension e WHERE e.extname = 'pg_weston'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!row.get::<bool, _>("extrelocatable"));
    let config: Vec<String> = row.get("config");
    assert!(
        config.contains(&"weston_partition_config".to_string()),
        "{config:?}"
    );
    assert!(
        config.contains(&"weston_maintenance_log".to_string()),
        "{config:?}"
    );

    // Every function that runs SQL pins its search_path. Except weston_adjusted_prices(text[]) and
    // the weston_ticker_pieces and weston_*_as (the sets as known) it calls: a SET clause
    // would stop PostgreSQL inlining them, so their bodies are fully schema-qualified
    // instead (tests/tests/adjusted.rs runs them under hostile search_paths). weston_version,
    // weston_float8 and weston_adjusted_prices_support (the planner's, for
    // weston_adjusted_prices) run no SQL (a SET clause would save and restore the setting on
    // each of weston_float8's calls, one per value read).
    let unpinned: Vec<String> = sqlx::query_scalar(
        "SELECT p.oid::regprocedure::text FROM pg_proc p
           JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
           JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_weston'
          WHERE p.proname NOT IN ('weston_version', 'weston_float8', 'weston_adjusted_prices',
                                  'weston_adjusted_prices_support',
                                  'weston_ticker_pieces', 'weston_ticker_history_as', 'weston_securities_as')
            AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        unpinned.is_empty(),
        "functions without a pinned search_path: {unpinned:?}"
    );

    // A caller whose search_path puts a decoy prices_daily first still gets the real table.
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::raw_sql(
        "CREATE SCHEMA decoy;
         CREATE TABLE decoy.prices_daily (date date) PARTITION BY RANGE (date);
         SET search_path = decoy, public, weston;",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    let created: i32 =
        sqlx::query_scalar("SELECT weston_ensure_partitions('2031-01-10', '2031-02-10')")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(created, 2);
    let real: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'weston_data.prices_daily'::regclass
          AND inhrelid::regclass::text IN ('weston_data.prices_daily_p2031_01', 'weston_data.prices_daily_p2031_02', 'prices_daily_p2031_01', 'prices_daily_p2031_02')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(real, 2);
    let decoy: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'decoy.prices_daily'::regclass",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(decoy, 0);
}

#[tokio::test]
async fn create_partition_moves_waiting_default_rows() {
    let db = TestDb::migrated("drain").await;
    // A superuser's (the named exception): no group role may call weston_create_partition.
    sqlx::raw_sql(
        "INSERT INTO securities (symbol) VALUES ('MSFT');
         INSERT INTO etl_run (job_name) VALUES ('test');
         INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
         VALUES ('MSFT', '2035-03-02', 10, 11, 9, 10, 100, 'mock', 1),
                ('MSFT', '2035-03-31', 10, 11, 9, 10, 100, 'mock', 1),
                ('MSFT', '2035-04-01', 10, 11, 9, 10, 100, 'mock', 1);",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let partition: String =
        sqlx::query_scalar("SELECT weston_create_partition('2035-03-15')::text")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(partition, "prices_daily_p2035_03");
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM prices_daily_p2035_03), (SELECT count(*) FROM prices_daily_default)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(counts, (2, 1), "March rows moved, April's waits in DEFAULT");
    // Idempotent: the second call returns the same partition and moves nothing.
    let again: String = sqlx::query_scalar("SELECT weston_create_partition('2035-03-01')::text")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(again, partition);
    // The child carries the parent's primary key.
    let has_pk: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = 'prices_daily_p2035_03'::regclass AND indisprimary)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(has_pk);
}
