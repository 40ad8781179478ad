//! A security's life on the real cluster: renames, a share-class move, a
//! delisting, a reused ticker, ambiguity, the universe as of a date. The events are written
//! through the functions the loader calls (weston_ticker_listed / _changed / _delisted);
//! bars, splits and dividends stay under the ticker they traded under.

use sqlx::PgPool;
use weston_tests::TestDb;

/// A database with one etl_run (run_id 1), written by the superuser.
async fn seeded(tag: &str) -> TestDb {
    let db = TestDb::migrated(tag).await;
    sqlx::query(
        "INSERT INTO etl_run (job_name, window_start, window_end) VALUES ('identity-test', '1990-01-01', '2024-12-31')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    db
}

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn error_of(pool: &PgPool, sql: &str) -> String {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .expect_err(sql)
        .to_string()
}

/// Raw bars `(symbol, date, close)`: open = high = low = close, volume 1000; the ticker's
/// securities row is created when missing (as the loader does).
async fn bars(pool: &PgPool, bars: &[(&str, &str, &str)]) {
    for (symbol, date, close) in bars {
        sqlx::query("INSERT INTO securities (symbol) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(symbol)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
             VALUES ($1, $2::text::date, $3::text::numeric, $3::text::numeric, $3::text::numeric, $3::text::numeric, 1000, 'mock', 1)",
        )
        .bind(symbol)
        .bind(date)
        .bind(close)
        .execute(pool)
        .await
        .unwrap();
    }
}

/// Every row of `sql` as text columns joined by `|` (NULL as empty).
async fn lines(pool: &PgPool, sql: &str) -> Vec<String> {
    let rows: Vec<sqlx::postgres::PgRow> = sqlx::query(sql)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    use sqlx::Row;
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|i| row.get::<Option<String>, _>(i).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// `(symbol, date, close, price_factor)` of an adjusted read.
async fn closes(pool: &PgPool, call: &str) -> Vec<String> {
    lines(
        pool,
        &format!(
            "SELECT symbol, date::text, close::text, price_factor::text FROM {call} ORDER BY symbol, date"
        ),
    )
    .await
}

async fn resolve(pool: &PgPool, symbol: &str, on: &str) -> Option<String> {
    sqlx::query_scalar("SELECT weston_resolve_symbol($1, $2::text::date)")
        .bind(symbol)
        .bind(on)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("resolve {symbol} on {on}: {e}"))
}

async fn universe(pool: &PgPool, as_of: &str) -> Vec<String> {
    lines(
        pool,
        &format!(
            "SELECT symbol, listed_date::text, delisted_date::text FROM weston_universe('{as_of}')"
        ),
    )
    .await
}

/// Facebook's FB 2012-05-18 .. 2022-06-08, META from 2022-06-09, with the bars around the
/// change and a (hypothetical) dividend on META's first day, whose close before is FB's.
async fn facebook(pool: &PgPool) {
    bars(
        pool,
        &[
            ("FB", "2022-06-07", "195.65"),
            ("FB", "2022-06-08", "196.64"),
            ("META", "2022-06-09", "184.00"),
            ("META", "2022-06-10", "175.57"),
        ],
    )
    .await;
    exec(
        pool,
        "SELECT weston_ticker_listed('FB', '2012-05-18', 'polygon', 1, 'BBG000MM2P62', 'BBG001SQCQC5', '0001326801');
         SELECT weston_ticker_changed('FB', 'META', '2022-06-09', 'polygon', 1);
         INSERT INTO dividends (symbol, ex_date, amount, provider, run_id) VALUES ('META', '2022-06-09', 0.5, 'mock', 1);",
    )
    .await;
}

#[tokio::test]
async fn fb_to_meta_is_one_history_point_in_time() {
    let db = seeded("id_meta").await;
    // The loader writes (its functions, its tables); an analyst reads.
    let loader = &db.loader_pool();
    let analyst = &db.analyst_pool();
    facebook(loader).await;

    // Today META is the whole history, FB's bars included, under the name asked for.
    let all = [
        "META|2022-06-07|195.65|1",
        "META|2022-06-08|196.64|1",
        "META|2022-06-09|184.00|1",
        "META|2022-06-10|175.57|1",
    ];
    assert_eq!(
        closes(
            analyst,
            "weston_adjusted_prices('META', '2022-06-01', '2022-06-30')"
        )
        .await,
        all
    );
    assert_eq!(
        closes(
            analyst,
            "weston_adjusted_prices(ARRAY['META'], '2022-06-01', '2022-06-30')"
        )
        .await,
        all
    );
    // Total return: the dividend on META's first day divides by FB's close the day before.
    assert_eq!(
        closes(
            analyst,
            "weston_adjusted_prices('META', '2022-06-01', '2022-06-30', NULL, true)"
        )
        .await,
        [
            "META|2022-06-07|195.1525172904800650932775|0.99745728234336859235",
            "META|2022-06-08|196.1399999999999999997040|0.99745728234336859235",
            "META|2022-06-09|184.00|1",
            "META|2022-06-10|175.57|1",
        ]
    );
    assert_eq!(
        lines(
            analyst,
            "SELECT effective_before::text, price_factor::text FROM weston_adjustment_factors('META', NULL, true)"
        )
        .await,
        ["2022-06-09|0.99745728234336859235"]
    );
    // As of 2021 META does not exist and FB answers, with FB's bars only.
    assert!(closes(
        analyst,
        "weston_adjusted_prices('META', '2022-06-01', '2022-06-30', '2021-12-31')"
    )
    .await
    .is_empty());
    assert!(lines(
        analyst,
        "SELECT * FROM weston_adjustment_factors('META', '2021-12-31', true)"
    )
    .await
    .is_empty());
    assert_eq!(
        closes(
            analyst,
            "weston_adjusted_prices('FB', '2022-06-01', '2022-06-30', '2021-12-31', true)"
        )
        .await,
        ["FB|2022-06-07|195.65|1", "FB|2022-06-08|196.64|1"]
    );
    // FB today names its last holder: the same security (Zipline's rule).
    assert_eq!(
        closes(
            analyst,
            "weston_adjusted_prices('FB', '2022-06-01', '2022-06-30')"
        )
        .await,
        all.map(|l| l.replacen("META", "FB", 1))
    );

    assert_eq!(
        lines(
            analyst,
            "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history('META')"
        )
        .await,
        ["FB|2012-05-18|2022-06-08", "META|2022-06-09|"]
    );
    assert_eq!(
        lines(analyst, "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history('FB', '2021-06-01')")
            .await,
        ["FB|2012-05-18|"],
        "as of 2021 the rename is unknown"
    );
    assert!(lines(
        analyst,
        "SELECT * FROM weston_symbol_history('META', '2021-06-01')"
    )
    .await
    .is_empty());

    assert_eq!(
        resolve(analyst, "META", "2020-01-02").await.as_deref(),
        Some("FB")
    );
    assert_eq!(
        resolve(analyst, "FB", "2023-01-03").await.as_deref(),
        Some("META")
    );
    assert_eq!(resolve(analyst, "META", "2010-01-04").await, None);

    assert_eq!(universe(analyst, "2022-06-08").await, ["FB|2012-05-18|"]);
    assert_eq!(universe(analyst, "2022-06-09").await, ["META|2012-05-18|"]);

    // The per-ticker rows: FB left the nightly universe, META joined with the identifiers.
    assert_eq!(
        lines(analyst, "SELECT symbol, listed_date::text, delisted_date::text, composite_figi, cik FROM securities ORDER BY symbol").await,
        [
            "FB|2012-05-18|2022-06-08|BBG000MM2P62|0001326801",
            "META|2022-06-09||BBG000MM2P62|0001326801"
        ]
    );
    // Provenance of both ends, and the same events again change nothing.
    let before = lines(
        analyst,
        "SELECT t::text FROM ticker_history t ORDER BY valid_from",
    )
    .await;
    assert_eq!(
        lines(analyst, "SELECT symbol, provider, run_id::text, ended_provider, ended_run_id::text FROM ticker_history ORDER BY valid_from").await,
        ["FB|polygon|1|polygon|1", "META|polygon|1||"]
    );
    exec(
        loader,
        "SELECT weston_ticker_listed('FB', '2012-05-18', 'polygon', 1, 'BBG000MM2P62');
         SELECT weston_ticker_changed('FB', 'META', '2022-06-09', 'polygon', 1);",
    )
    .await;
    assert_eq!(
        lines(
            analyst,
            "SELECT t::text FROM ticker_history t ORDER BY valid_from"
        )
        .await,
        before
    );
}

#[tokio::test]
async fn a_reused_ticker_is_two_securities_that_never_merge() {
    let db = seeded("id_reused").await;
    // The loader writes (its functions, its tables); an analyst reads.
    let loader = &db.loader_pool();
    let analyst = &db.analyst_pool();
    // An earlier "FB" (1999-2003) with a 1-for-4 reverse split, then Facebook's FB.
    bars(
        loader,
        &[
            ("FB", "2001-02-28", "3.00"),
            ("FB", "2001-03-01", "12.40"),
            ("FB", "2003-06-30", "11.50"),
            ("FB", "2012-05-18", "38.23"),
            ("FB", "2012-05-21", "34.03"),
        ],
    )
    .await;
    exec(
        loader,
        "INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id) VALUES ('FB', '2001-03-01', 1, 4, 'mock', 1);
         SELECT weston_ticker_listed('FB', '1999-01-04', 'fmp', 1);",
    )
    .await;
    // Facebook cannot list under FB while the old one holds it.
    let e = error_of(
        loader,
        "SELECT weston_ticker_listed('FB', '2012-05-18', 'polygon', 1, 'BBG000MM2P62')",
    )
    .await;
    assert!(
        e.contains("FB is held by security") && e.contains("record its delisting"),
        "{e}"
    );
    exec(
        loader,
        "SELECT weston_ticker_delisted('FB', '2003-06-30', 'fmp', 1);
         SELECT weston_ticker_listed('FB', '2012-05-18', 'polygon', 1, 'BBG000MM2P62');",
    )
    .await;
    // The database refuses an overlapping assignment whoever writes it.
    let e = error_of(
        loader,
        "INSERT INTO ticker_history (security_id, symbol, valid_from, valid_to, provider, run_id, ended_provider, ended_run_id)
         SELECT min(security_id), 'FB', '2003-07-01', '2012-05-18', 'manual', 1, 'manual', 1 FROM security_identity",
    )
    .await;
    assert!(e.contains("ticker_history_one_holder_per_day"), "{e}");
    let e = error_of(
        loader,
        "UPDATE ticker_history SET valid_to = NULL, ended_provider = NULL, ended_run_id = NULL WHERE valid_from = '1999-01-04'",
    )
    .await;
    assert!(e.contains("ticker_history_one_holder_per_day"), "{e}");

    // As of 2002 FB is the old company: its bars only, its reverse split applied.
    assert_eq!(
        closes(
            analyst,
            "weston_adjusted_prices('FB', '1999-01-01', '2013-01-01', '2002-12-31')"
        )
        .await,
        [
            "FB|2001-02-28|12.00|4",
            "FB|2001-03-01|12.40|1",
            "FB|2003-06-30|11.50|1"
        ]
    );
    // Today (and as of 2013) FB is Facebook: no bar and no split of the old company.
    for as_of in ["NULL", "'2013-01-02'"] {
        assert_eq!(
            closes(
                analyst,
                &format!("weston_adjusted_prices('FB', '1999-01-01', '2013-01-01', {as_of})")
            )
            .await,
            ["FB|2012-05-18|38.23|1", "FB|2012-05-21|34.03|1"],
            "as of {as_of}"
        );
    }
    assert!(
        lines(analyst, "SELECT * FROM weston_adjustment_factors('FB')")
            .await
            .is_empty()
    );
    assert_eq!(
        lines(analyst, "SELECT effective_before::text, price_factor::text FROM weston_adjustment_factors('FB', '2002-12-31')").await,
        ["2001-03-01|4"]
    );
    assert_eq!(
        lines(analyst, "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history('FB', '2002-01-02')").await,
        ["FB|1999-01-04|"]
    );
    assert_eq!(
        lines(analyst, "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history('FB', '2008-01-02')").await,
        ["FB|1999-01-04|2003-06-30"]
    );
    assert_eq!(
        lines(
            analyst,
            "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history('FB')"
        )
        .await,
        ["FB|2012-05-18|"]
    );
    assert_eq!(
        resolve(analyst, "FB", "2001-01-02").await.as_deref(),
        Some("FB")
    );
    assert_eq!(resolve(analyst, "FB", "2008-01-02").await, None);
    assert_eq!(universe(analyst, "2001-01-02").await, ["FB|1999-01-04|"]);
    assert_eq!(
        universe(analyst, "2003-06-30").await,
        ["FB|1999-01-04|2003-06-30"]
    );
    assert!(universe(analyst, "2008-01-02").await.is_empty());
    assert_eq!(universe(analyst, "2013-01-02").await, ["FB|2012-05-18|"]);
    let ids: i64 = sqlx::query_scalar("SELECT count(*) FROM security_identity")
        .fetch_one(analyst)
        .await
        .unwrap();
    assert_eq!(ids, 2);
}

#[tokio::test]
async fn a_delisted_security_keeps_its_history_and_leaves_the_universe() {
    let db = seeded("id_delisted").await;
    // The loader writes (its functions, its tables); an analyst reads.
    let loader = &db.loader_pool();
    let analyst = &db.analyst_pool();
    bars(
        loader,
        &[
            ("LEH", "2008-09-12", "3.65"),
            ("LEH", "2008-09-15", "0.21"),
            ("LEH", "2008-09-16", "0.30"),
            ("LEH", "2008-09-17", "0.13"),
            ("AAPL", "2008-09-17", "127.83"),
        ],
    )
    .await;
    exec(
        loader,
        "SELECT weston_ticker_listed('LEH', '1994-05-31', 'fmp', 1);
         SELECT weston_ticker_delisted('LEH', '2008-09-17', 'fmp', 1);
         SELECT weston_ticker_delisted('LEH', '2008-09-17', 'fmp', 1);",
    )
    .await;
    // Another day reported for the same delisting (a provider's delisting date is often
    // days after the last trade): the recorded end stands, and it is no refusal (a refused
    // event would be tried again by every run).
    exec(
        loader,
        "SELECT weston_ticker_delisted('LEH', '2008-10-01', 'fmp', 1)",
    )
    .await;
    assert_eq!(
        lines(
            loader,
            "SELECT valid_to::text FROM ticker_history WHERE symbol = 'LEH'"
        )
        .await,
        ["2008-09-17"]
    );
    let e = error_of(
        loader,
        "SELECT weston_ticker_delisted('LEH', '1994-05-30', 'fmp', 1)",
    )
    .await;
    assert!(e.contains("no security holds LEH open"), "{e}");

    // AAPL was never recorded: in the universe on every date, as its securities row says.
    assert_eq!(
        universe(analyst, "2008-09-16").await,
        ["AAPL||", "LEH|1994-05-31|"],
        "no look-ahead"
    );
    assert_eq!(
        universe(analyst, "2008-09-17").await,
        ["AAPL||", "LEH|1994-05-31|2008-09-17"]
    );
    assert_eq!(universe(analyst, "2008-09-18").await, ["AAPL||"]);
    assert_eq!(
        lines(analyst, "SELECT symbol FROM weston_universe()").await,
        ["AAPL"]
    );
    assert_eq!(
        lines(
            analyst,
            "SELECT delisted_date::text FROM securities WHERE symbol = 'LEH'"
        )
        .await,
        ["2008-09-17"]
    );
    assert_eq!(
        closes(
            analyst,
            "weston_adjusted_prices('LEH', '2008-09-01', '2008-12-31')"
        )
        .await,
        [
            "LEH|2008-09-12|3.65|1",
            "LEH|2008-09-15|0.21|1",
            "LEH|2008-09-16|0.30|1",
            "LEH|2008-09-17|0.13|1"
        ]
    );
    assert_eq!(
        lines(
            analyst,
            "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history('LEH')"
        )
        .await,
        ["LEH|1994-05-31|2008-09-17"]
    );
    assert_eq!(
        lines(analyst, "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history('LEH', '2008-09-16')").await,
        ["LEH|1994-05-31|"]
    );
    assert_eq!(
        resolve(analyst, "LEH", "2008-09-17").await.as_deref(),
        Some("LEH")
    );
    assert_eq!(resolve(analyst, "LEH", "2008-09-18").await, None);
    assert_eq!(
        resolve(analyst, "AAPL", "2008-09-18").await.as_deref(),
        Some("AAPL")
    );
    assert_eq!(resolve(analyst, "NOPE", "2008-09-18").await, None);
}

#[tokio::test]
async fn goog_share_class_move_of_2014() {
    let db = seeded("id_goog").await;
    // The loader writes (its functions, its tables); an analyst reads.
    let loader = &db.loader_pool();
    let analyst = &db.analyst_pool();
    // Before 2014-04-03 GOOG was the class A shares; from then class A trades as GOOGL (with
    // the class C distribution, a 2-for-1 in effect) and the new class C shares as GOOG.
    bars(
        loader,
        &[
            ("GOOG", "2014-04-01", "1132.00"),
            ("GOOG", "2014-04-02", "1135.10"),
            ("GOOGL", "2014-04-03", "571.50"),
            ("GOOG", "2014-04-03", "569.74"),
        ],
    )
    .await;
    exec(
        loader,
        "SELECT weston_ticker_listed('GOOG', '2004-08-19', 'polygon', 1, 'BBG009S39JX6', 'BBG001SQCQC5', '0001288776');
         SELECT weston_ticker_changed('GOOG', 'GOOGL', '2014-04-03', 'polygon', 1);
         SELECT weston_ticker_listed('GOOG', '2014-04-03', 'polygon', 1, 'BBG009S3NB30', 'BBG001SQCQD4', '0001288776');
         INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id) VALUES ('GOOGL', '2014-04-03', 2, 1, 'mock', 1);",
    )
    .await;
    let e = error_of(
        loader,
        "SELECT weston_ticker_listed('GOOGX', '2015-01-02', 'polygon', 1, 'BBG009S39JX6')",
    )
    .await;
    assert!(e.contains("already identifies security"), "{e}");

    assert_eq!(
        closes(
            analyst,
            "weston_adjusted_prices('GOOGL', '2014-04-01', '2014-04-30')"
        )
        .await,
        [
            "GOOGL|2014-04-01|566.000|0.5",
            "GOOGL|2014-04-02|567.550|0.5",
            "GOOGL|2014-04-03|571.50|1"
        ]
    );
    // GOOG today is class C: its own bar only, not class A's under the same ticker.
    assert_eq!(
        closes(
            analyst,
            "weston_adjusted_prices('GOOG', '2014-04-01', '2014-04-30')"
        )
        .await,
        ["GOOG|2014-04-03|569.74|1"]
    );
    // As of 2014-04-02 GOOG was class A: its bars under GOOG, nothing of class C.
    assert_eq!(
        closes(analyst, "weston_adjusted_prices(ARRAY['GOOG', 'GOOGL'], '2014-04-01', '2014-04-30', '2014-04-02')").await,
        ["GOOG|2014-04-01|1132.00|1", "GOOG|2014-04-02|1135.10|1"]
    );
    assert_eq!(
        resolve(analyst, "GOOG", "2020-01-02").await.as_deref(),
        Some("GOOG")
    );
    assert_eq!(
        resolve(analyst, "GOOGL", "2010-01-04").await.as_deref(),
        Some("GOOG")
    );
    assert_eq!(
        resolve(analyst, "GOOG", "2010-01-04").await.as_deref(),
        Some("GOOG")
    );
    assert_eq!(universe(analyst, "2014-04-02").await, ["GOOG|2004-08-19|"]);
    assert_eq!(
        universe(analyst, "2014-04-03").await,
        ["GOOG|2014-04-03|", "GOOGL|2004-08-19|"]
    );
    assert_eq!(
        lines(
            analyst,
            "SELECT symbol, valid_from::text, valid_to::text FROM weston_symbol_history('GOOGL')"
        )
        .await,
        ["GOOG|2004-08-19|2014-04-02", "GOOGL|2014-04-03|"]
    );
    // One security holds one ticker a day.
    exec(loader, "INSERT INTO securities (symbol) VALUES ('GOOGX')").await;
    let e = error_of(
        loader,
        "INSERT INTO ticker_history (security_id, symbol, valid_from, provider, run_id)
         SELECT security_id, 'GOOGX', '2015-01-02', 'manual', 1 FROM security_identity WHERE composite_figi = 'BBG009S3NB30'",
    )
    .await;
    assert!(e.contains("ticker_history_one_ticker_per_day"), "{e}");
}

#[tokio::test]
async fn resolving_a_ticker_two_securities_left_is_refused_naming_both() {
    let db = seeded("id_ambiguous").await;
    // The loader writes (its functions, its tables); an analyst reads.
    let loader = &db.loader_pool();
    let analyst = &db.analyst_pool();
    exec(
        loader,
        "SELECT weston_ticker_listed('XX', '2000-01-03', 'mock', 1);
         SELECT weston_ticker_changed('XX', 'YY', '2011-01-03', 'mock', 1);
         SELECT weston_ticker_listed('XX', '2012-01-03', 'mock', 1);
         SELECT weston_ticker_changed('XX', 'ZZ', '2015-01-02', 'mock', 1);",
    )
    .await;
    let e = error_of(analyst, "SELECT weston_resolve_symbol('XX', '2016-01-04')").await;
    assert!(
        e.contains("XX is ambiguous on 2016-01-04")
            && e.contains("YY (security 1, which held XX from 2000-01-03 to 2011-01-02)")
            && e.contains("ZZ (security 2, which held XX from 2012-01-03 to 2015-01-01)"),
        "{e}"
    );
    assert_eq!(
        resolve(analyst, "XX", "2011-06-01").await.as_deref(),
        Some("YY")
    );
    assert_eq!(
        resolve(analyst, "XX", "2013-01-02").await.as_deref(),
        Some("XX")
    );
    assert_eq!(resolve(analyst, "ZZ", "2005-01-03").await, None);
    let e = error_of(analyst, "SELECT weston_resolve_symbol('XX', NULL)").await;
    assert!(e.contains("on_date must not be NULL"), "{e}");
    // The identity itself is refused when its ticker change has no holder.
    let e = error_of(
        loader,
        "SELECT weston_ticker_changed('QQ', 'RR', '2016-01-04', 'mock', 1)",
    )
    .await;
    assert!(e.contains("no security holds QQ before 2016-01-04"), "{e}");
    // The universe over the years: each security under the ticker of the day.
    assert_eq!(universe(analyst, "2010-12-31").await, ["XX|2000-01-03|"]);
    assert_eq!(universe(analyst, "2011-06-01").await, ["YY|2000-01-03|"]);
    assert_eq!(
        universe(analyst, "2013-01-02").await,
        ["XX|2012-01-03|", "YY|2000-01-03|"]
    );
    assert_eq!(
        universe(analyst, "2016-01-04").await,
        ["YY|2000-01-03|", "ZZ|2012-01-03|"]
    );
}

/// docs/ANALYSTS.md's worked example of a rename: this test writes the table, and fails if
/// the page does not contain it exactly.
#[tokio::test]
async fn analysts_rename_example() {
    let db = seeded("id_readme").await;
    // The loader writes (its functions, its tables); an analyst reads.
    let loader = &db.loader_pool();
    let analyst = &db.analyst_pool();
    facebook(loader).await;
    let rows = lines(
        analyst,
        "SELECT r.date::text, r.symbol, r.close::text, coalesce(a.close::text, '(no row)'),
                coalesce(b.close::text, '(no row)'), coalesce(c.close::text, '(no row)')
           FROM prices_daily r
           LEFT JOIN weston_adjusted_prices('META', '2022-06-01', '2022-06-30') a USING (date)
           LEFT JOIN weston_adjusted_prices('META', '2022-06-01', '2022-06-30', total_return => true) b USING (date)
           LEFT JOIN weston_adjusted_prices('FB', '2022-06-01', '2022-06-30', as_of => '2022-06-08') c USING (date)
          ORDER BY r.date",
    )
    .await;
    let mut table = String::from(
        "| date | traded as | raw close | `'META'` | `'META'`, total return | `'FB'` as of 2022-06-08 |\n|---|---|---|---|---|---|\n",
    );
    for row in &rows {
        table.push_str(&format!("| {} |\n", row.replace('|', " | ")));
    }
    // As of 2022-06-08 META names nothing yet.
    let meta_then = lines(
        analyst,
        "SELECT count(*)::text FROM weston_adjusted_prices('META', '2022-06-01', '2022-06-30', '2022-06-08')",
    )
    .await;
    assert_eq!(meta_then, ["0"]);
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ANALYSTS.md"))
        .expect("docs/ANALYSTS.md");
    assert!(
        page.contains(&table),
        "docs/ANALYSTS.md's rename example must contain exactly:\n{table}"
    );
}
