//! Bad arguments to the extension's functions get a clear error: a message naming the
//! argument, its value and what is allowed, a proper SQLSTATE, and nothing of Rust's
//! internals (a panic's text or backtrace) in the message, detail or hint. Called as a
//! `dba` login, except the readers (`weston_universe`, `weston_resolve_symbol`), called as an
//! analyst's `app_ro` login, and `weston_create_partition`, which only the tables' owner's
//! switch runs: called by a superuser (the named exception), as rotation does.

use weston_tests::{seed_small_market, TestDb};

/// (call, what the message must contain, SQLSTATE)
const CASES: &[(&str, &str, &str)] = &[
    (
        "SELECT weston_create_partition('4713-01-01 BC')",
        "weston: month 4713-01-01 BC is outside the supported range 0001-01-01 to 9999-12-31",
        "22008",
    ),
    (
        "SELECT weston_create_partition('infinity')",
        "weston: month infinity is outside the supported range 0001-01-01 to 9999-12-31",
        "22008",
    ),
    (
        "SELECT weston_create_partition('-infinity')",
        "weston: month -infinity is outside the supported range",
        "22008",
    ),
    (
        "SELECT weston_create_partition('5874897-12-31')",
        "weston: month 5874897-12-31 is outside the supported range",
        "22008",
    ),
    (
        "SELECT weston_create_partition('10000-01-01')",
        "weston: month 10000-01-01 is outside the supported range",
        "22008",
    ),
    (
        "SELECT weston_ensure_partitions('4713-01-01 BC', '2024-01-31')",
        "weston: from_date 4713-01-01 BC is outside the supported range",
        "22008",
    ),
    (
        "SELECT weston_ensure_partitions('2024-01-01', 'infinity')",
        "weston: to_date infinity is outside the supported range",
        "22008",
    ),
    (
        "SELECT weston_ensure_partitions('2024-02-01', '2024-01-01')",
        "weston: from_date 2024-02-01 is after to_date 2024-01-01",
        "22023",
    ),
    (
        "SELECT * FROM weston_adjusted_prices('AAPL', '4713-01-01 BC', '2024-01-31')",
        "weston: from_date 4713-01-01 BC is outside the supported range",
        "22008",
    ),
    (
        "SELECT * FROM weston_adjusted_prices('AAPL', '2024-01-01', 'infinity')",
        "weston: to_date infinity is outside the supported range",
        "22008",
    ),
    (
        "SELECT * FROM weston_adjusted_prices('S1', '2024-01-01', '2024-03-31', '4713-01-01 BC', true)",
        "weston: as_of 4713-01-01 BC is outside the supported range",
        "22008",
    ),
    (
        "SELECT * FROM weston_adjusted_prices(ARRAY['S1'], '2024-01-01', '2024-03-31', 'infinity')",
        "weston: as_of infinity is outside the supported range",
        "22008",
    ),
    (
        "SELECT * FROM weston_adjusted_prices('AAPL', '2024-02-01', '2024-01-01')",
        "weston: from_date 2024-02-01 is after to_date 2024-01-01",
        "22023",
    ),
    (
        "SELECT * FROM weston_adjustment_factors('AAPL', '-infinity')",
        "weston: as_of -infinity is outside the supported range",
        "22008",
    ),
    (
        "SELECT * FROM weston_partition_plan('weston_data.prices_daily', '4713-01-01 BC')",
        "weston: today 4713-01-01 BC is outside the supported range",
        "22008",
    ),
    (
        "SELECT weston_ensure_partitions(NULL, NULL)",
        "weston: from_date must not be NULL",
        "22023",
    ),
    (
        "SELECT weston_ensure_partitions('2024-01-01', NULL)",
        "weston: to_date must not be NULL",
        "22023",
    ),
    (
        "SELECT weston_ensure_partitions('2024-01-01', '2024-01-31', NULL)",
        "weston: parent must not be NULL",
        "22023",
    ),
    (
        "SELECT * FROM weston_partition_plan('weston.prices_daily', NULL)",
        "weston: today must not be NULL",
        "22023",
    ),
    (
        "SELECT * FROM weston_partition_plan(NULL, '2024-01-01')",
        "weston: parent must not be NULL",
        "22023",
    ),
    // The readers, called as an analyst (app_ro) login.
    (
        "SELECT * FROM weston_universe('infinity')",
        "weston: as_of infinity is outside the supported range 0001-01-01 to 9999-12-31",
        "22008",
    ),
    (
        "SELECT * FROM weston_universe('-infinity')",
        "weston: as_of -infinity is outside the supported range",
        "22008",
    ),
    (
        "SELECT * FROM weston_universe('10000-01-01')",
        "weston: as_of 10000-01-01 is outside the supported range",
        "22008",
    ),
    (
        "SELECT weston_resolve_symbol('S1', 'infinity')",
        "weston: on_date infinity is outside the supported range 0001-01-01 to 9999-12-31",
        "22008",
    ),
    (
        "SELECT weston_resolve_symbol('S1', '4713-01-01 BC')",
        "weston: on_date 4713-01-01 BC is outside the supported range",
        "22008",
    ),
    (
        "SELECT weston_etl_begin('probe', '2024-02-01', '-infinity')",
        "weston: window_start 2024-02-01 is after window_end -infinity",
        "22023",
    ),
];

#[tokio::test]
async fn bad_dates_get_a_clear_error_and_never_a_backtrace() {
    let db = TestDb::migrated("extension_errors").await;
    // S1 has a split: a read of it runs the segments' lookups, which take as_of.
    seed_small_market(&db.pool).await;
    let dba = db.dba_pool();
    let analyst = db.analyst_pool();

    let mut wrong = Vec::new();
    for (call, expected, sqlstate) in CASES {
        let caller = if call.contains("weston_create_partition") {
            &db.pool
        } else if call.contains("weston_universe") || call.contains("weston_resolve_symbol") {
            &analyst
        } else {
            &dba
        };
        let error = match sqlx::raw_sql(call).execute(caller).await {
            Ok(_) => {
                wrong.push(format!("{call}: no error"));
                continue;
            }
            Err(sqlx::Error::Database(e)) => e,
            Err(e) => panic!("{call}: {e}"),
        };
        let pg = error.downcast_ref::<sqlx::postgres::PgDatabaseError>();
        let everything = format!(
            "{}\n{}\n{}",
            pg.message(),
            pg.detail().unwrap_or_default(),
            pg.hint().unwrap_or_default()
        );
        let internals = [
            "backtrace",
            "panicked",
            "src/",
            ".rs:",
            "unwrap",
            "Result::",
        ]
        .into_iter()
        .filter(|needle| everything.contains(needle))
        .collect::<Vec<_>>();
        if pg.message() != *expected && !pg.message().starts_with(expected)
            || pg.code() != *sqlstate
            || !internals.is_empty()
        {
            wrong.push(format!(
                "{call}\n  expected [{sqlstate}] {expected}\n  got      [{}] {everything}\n  internals shown: {internals:?}",
                pg.code()
            ));
        }
    }
    dba.close().await;
    analyst.close().await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
