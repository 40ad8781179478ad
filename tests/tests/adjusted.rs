//! Adjusted prices on the real cluster: real split events, total return, point in time,
//! the many-symbol form, search_path and TimeZone independence, errors.

use sqlx::{PgConnection, PgPool, Row};
use weston_tests::TestDb;

/// A database with one etl_run (run_id 1) and the given securities. The market data of these
/// tests is written by the superuser (`db.pool`, here and in `bars`, `split`, `dividend`);
/// every read of adjusted prices is an analyst's (`db.analyst_pool()`, an `app_ro` login).
async fn seeded(tag: &str, symbols: &[&str]) -> TestDb {
    let db = TestDb::migrated(tag).await;
    sqlx::query(
        "INSERT INTO etl_run (job_name, window_start, window_end) VALUES ('adjusted-test', '2014-01-01', '2024-12-31')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    for symbol in symbols {
        sqlx::query("INSERT INTO securities (symbol) VALUES ($1)")
            .bind(symbol)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    db
}

/// Raw bars `(date, close)`: open = high = low = close, volume 1000.
async fn bars(pool: &PgPool, symbol: &str, bars: &[(&str, &str)]) {
    for (date, close) in bars {
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

async fn split(pool: &PgPool, symbol: &str, date: &str, numerator: &str, denominator: &str) {
    sqlx::query(
        "INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id)
         VALUES ($1, $2::text::date, $3::text::numeric, $4::text::numeric, 'mock', 1)",
    )
    .bind(symbol)
    .bind(date)
    .bind(numerator)
    .bind(denominator)
    .execute(pool)
    .await
    .unwrap();
}

async fn dividend(pool: &PgPool, symbol: &str, ex_date: &str, amount: &str) {
    sqlx::query(
        "INSERT INTO dividends (symbol, ex_date, amount, provider, run_id)
         VALUES ($1, $2::text::date, $3::text::numeric, 'mock', 1)",
    )
    .bind(symbol)
    .bind(ex_date)
    .bind(amount)
    .execute(pool)
    .await
    .unwrap();
}

/// Every column of the result as text, so numerics compare exactly (scale included).
const AS_TEXT: &str = "symbol, date::text, open::text, high::text, low::text, close::text, volume::text, price_factor::text, volume_factor::text";

type TextRow = Vec<String>;

async fn text_rows(conn: &mut PgConnection, sql: &str) -> Vec<TextRow> {
    sqlx::query(sql)
        .fetch_all(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| row.get::<Option<String>, _>(i).unwrap_or_default())
                .collect()
        })
        .collect()
}

/// Asserts `(date, close, price_factor, volume_factor)` of every row of `call`, as text.
async fn assert_closes(pool: &PgPool, call: &str, expected: &[(&str, &str, &str, &str)]) {
    let sql = format!(
        "SELECT date::text, close::text, price_factor::text, volume_factor::text FROM {call}"
    );
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(&sql)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|(date, close, pf, vf)| (date.as_str(), close.as_str(), pf.as_str(), vf.as_str()))
        .collect();
    assert_eq!(rows, expected, "{call}");
}

async fn aapl_2020(pool: &PgPool) {
    bars(
        pool,
        "AAPL",
        &[
            ("2020-08-27", "500.04"),
            ("2020-08-28", "499.23"),
            ("2020-08-31", "129.04"),
        ],
    )
    .await;
    split(pool, "AAPL", "2020-08-31", "4", "1").await;
}

/// AAPL's 0.82 dividend with ex-date 2020-08-07 (before the 4-for-1) and the bars around it.
async fn aapl_dividend_2020(pool: &PgPool) {
    bars(
        pool,
        "AAPL",
        &[("2020-08-06", "455.61"), ("2020-08-07", "444.45")],
    )
    .await;
    dividend(pool, "AAPL", "2020-08-07", "0.82").await;
}

/// The single text value `sql` selects.
async fn text_scalar(pool: &PgPool, sql: &str) -> String {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn aapl_four_for_one_of_2020_is_exact_and_point_in_time() {
    let db = seeded("adj_aapl2020", &["AAPL"]).await;
    let analyst = db.analyst_pool();
    aapl_2020(&db.pool).await;

    assert_closes(
        &analyst,
        "weston_adjusted_prices('AAPL', '2020-08-27', '2020-08-31')",
        &[
            ("2020-08-27", "125.0100", "0.25", "4"),
            ("2020-08-28", "124.8075", "0.25", "4"),
            ("2020-08-31", "129.04", "1", "1"),
        ],
    )
    .await;
    // Volume goes the other way, exactly.
    let volume = text_scalar(
        &analyst,
        "SELECT volume::text FROM weston_adjusted_prices('AAPL', '2020-08-28', '2020-08-28')",
    )
    .await;
    assert_eq!(volume, "4000");

    // As of the last day before the split, nothing has happened yet.
    assert_closes(
        &analyst,
        "weston_adjusted_prices('AAPL', '2020-08-28', '2020-08-28', as_of => '2020-08-28')",
        &[("2020-08-28", "499.23", "1", "1")],
    )
    .await;
    assert_closes(
        &analyst,
        "weston_adjusted_prices('AAPL', '2020-08-28', '2020-08-28', '2020-08-31')",
        &[("2020-08-28", "124.8075", "0.25", "4")],
    )
    .await;
}

#[tokio::test]
async fn aapl_seven_for_one_of_2014_and_both_aapl_splits_together() {
    let db = seeded("adj_aapl2014", &["AAPL"]).await;
    let analyst = db.analyst_pool();
    bars(
        &db.pool,
        "AAPL",
        &[("2014-06-06", "645.57"), ("2014-06-09", "93.70")],
    )
    .await;
    split(&db.pool, "AAPL", "2014-06-09", "7", "1").await;
    aapl_2020(&db.pool).await;

    // 1/7 does not terminate: the factor is rounded to 20 places, the product is exact.
    assert_closes(
        &analyst,
        "weston_adjusted_prices('AAPL', '2014-06-06', '2014-06-09', '2014-12-31')",
        &[
            (
                "2014-06-06",
                "92.2242857142857142838698",
                "0.14285714285714285714",
                "7",
            ),
            ("2014-06-09", "93.70", "1", "1"),
        ],
    )
    .await;
    let close_rounded = text_scalar(
        &analyst,
        "SELECT round(close, 10)::text FROM weston_adjusted_prices('AAPL', '2014-06-06', '2014-06-06')",
    )
    .await;
    assert_eq!(close_rounded, "23.0560714286", "645.57 / 28");

    let factors: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT effective_before::text, price_factor::text, volume_factor::text FROM weston_adjustment_factors('AAPL')",
    )
    .fetch_all(&analyst)
    .await
    .unwrap();
    assert_eq!(
        factors,
        [
            (
                "2014-06-09".to_string(),
                "0.03571428571428571429".to_string(),
                "28".to_string()
            ),
            (
                "2020-08-31".to_string(),
                "0.25".to_string(),
                "4".to_string()
            ),
        ]
    );
    let as_of_2019: i64 =
        sqlx::query_scalar("SELECT count(*) FROM weston_adjustment_factors('AAPL', '2019-12-31')")
            .fetch_one(&analyst)
            .await
            .unwrap();
    assert_eq!(as_of_2019, 1, "the 2020 split is not known in 2019");
}

#[tokio::test]
async fn nvda_ten_for_one_of_2024() {
    let db = seeded("adj_nvda", &["NVDA"]).await;
    let analyst = db.analyst_pool();
    bars(
        &db.pool,
        "NVDA",
        &[("2024-06-07", "1208.88"), ("2024-06-10", "121.79")],
    )
    .await;
    split(&db.pool, "NVDA", "2024-06-10", "10", "1").await;
    assert_closes(
        &analyst,
        "weston_adjusted_prices('NVDA', '2024-06-01', '2024-06-30')",
        &[
            ("2024-06-07", "120.888", "0.1", "10"),
            ("2024-06-10", "121.79", "1", "1"),
        ],
    )
    .await;
}

#[tokio::test]
async fn total_return_takes_the_close_before_in_the_ex_date_basis() {
    let db = seeded("adj_tr", &["AAPL"]).await;
    let analyst = db.analyst_pool();
    aapl_dividend_2020(&db.pool).await;
    aapl_2020(&db.pool).await;

    // 455.61 * (1 - 0.82/455.61) / 4 = 454.79 / 4 = 113.6975, up to the 20-place rounding
    // of the non-terminating factor.
    let r = sqlx::query(
        "SELECT round(close, 15)::text AS close, volume::text AS volume, price_factor::text AS pf,
                (SELECT close::text FROM weston_adjusted_prices('AAPL', '2020-08-06', '2020-08-06')) AS split_only
           FROM weston_adjusted_prices('AAPL', '2020-08-06', '2020-08-06', total_return => true)",
    )
    .fetch_one(&analyst)
    .await
    .unwrap();
    assert_eq!(r.get::<String, _>("close"), "113.697500000000000");
    assert_eq!(
        r.get::<String, _>("volume"),
        "4000",
        "dividends leave volume alone"
    );
    assert_eq!(r.get::<String, _>("pf"), "0.24955005377406114879");
    assert_eq!(r.get::<String, _>("split_only"), "113.9025");

    // The ex-date bar and later ones only carry the split; as of before the dividend, none.
    assert_closes(
        &analyst,
        "weston_adjusted_prices('AAPL', '2020-08-07', '2020-08-07', total_return => true)",
        &[("2020-08-07", "111.1125", "0.25", "4")],
    )
    .await;
    assert_closes(
        &analyst,
        "weston_adjusted_prices('AAPL', '2020-08-06', '2020-08-06', '2020-08-06', true)",
        &[("2020-08-06", "455.61", "1", "1")],
    )
    .await;
}

/// The worked example of docs/ANALYSTS.md ("Adjusted prices"): the page shows this output,
/// and this test fails if the two drift apart.
#[tokio::test]
async fn analysts_worked_example() {
    let db = seeded("adj_readme", &["WEST"]).await;
    let analyst = db.analyst_pool();
    bars(
        &db.pool,
        "WEST",
        &[
            ("2024-03-01", "200.00"),
            ("2024-03-04", "204.00"),
            ("2024-03-05", "102.50"),
            ("2024-03-06", "103.00"),
            ("2024-03-07", "101.00"),
            ("2024-03-08", "101.50"),
        ],
    )
    .await;
    split(&db.pool, "WEST", "2024-03-05", "2", "1").await;
    dividend(&db.pool, "WEST", "2024-03-07", "1.03").await;

    let mut table = String::from(
        "| date | raw close | as of 2024-03-06, total return | as of 2024-03-08, split only | as of 2024-03-08, total return |\n|---|---|---|---|---|\n",
    );
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT r.date::text, r.close::text, a.close::text, b.close::text, c.close::text
           FROM prices_daily r
           JOIN weston_adjusted_prices('WEST', '2024-03-01', '2024-03-08', '2024-03-06', true) a USING (date)
           JOIN weston_adjusted_prices('WEST', '2024-03-01', '2024-03-08', '2024-03-08', false) b USING (date)
           JOIN weston_adjusted_prices('WEST', '2024-03-01', '2024-03-08', '2024-03-08', true) c USING (date)
          WHERE r.symbol = 'WEST' ORDER BY r.date",
    )
    .fetch_all(&analyst)
    .await
    .unwrap();
    for (date, raw, a, b, c) in &rows {
        table.push_str(&format!("| {date} | {raw} | {a} | {b} | {c} |\n"));
    }
    // Spot checks by hand: 204 * 1/2 * (1 - 1.03/103) = 100.98; 103 * 0.99 = 101.97.
    assert!(table.contains("| 2024-03-04 | 204.00 | 102.000 | 102.000 | 100.98000 |"));
    assert!(table.contains("| 2024-03-06 | 103.00 | 103.00 | 103.00 | 101.9700 |"));

    let factors: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT effective_before::text, price_factor::text, volume_factor::text
           FROM weston_adjustment_factors('WEST', total_return => true)",
    )
    .fetch_all(&analyst)
    .await
    .unwrap();
    let mut factor_table =
        String::from("| effective_before | price_factor | volume_factor |\n|---|---|---|\n");
    for (date, pf, vf) in &factors {
        factor_table.push_str(&format!("| {date} | {pf} | {vf} |\n"));
    }

    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ANALYSTS.md"))
        .expect("docs/ANALYSTS.md");
    for expected in [&table, &factor_table] {
        assert!(
            page.contains(expected.as_str()),
            "docs/ANALYSTS.md's worked example must contain exactly:\n{expected}"
        );
    }
}

#[tokio::test]
async fn several_events_on_one_day_and_on_non_trading_days() {
    let db = seeded("adj_many_events", &["MULT"]).await;
    let analyst = db.analyst_pool();
    bars(
        &db.pool,
        "MULT",
        &[
            ("2023-01-05", "90.00"),
            ("2023-01-06", "100.00"),
            ("2023-01-09", "66.00"),
            ("2023-01-10", "64.00"),
        ],
    )
    .await;
    // Saturday: a 3-for-2 and a 0.50 dividend together; the close before (Friday's 100.00)
    // is 66.666... in the new basis, so the dividend multiplier is 1 - 0.5 * 3/200 = 0.9925.
    split(&db.pool, "MULT", "2023-01-07", "3", "2").await;
    dividend(&db.pool, "MULT", "2023-01-07", "0.50").await;
    // A 1-for-2 reverse split on Tuesday.
    split(&db.pool, "MULT", "2023-01-10", "1", "2").await;

    // Before both: 2/3 * 0.9925 * 2 = 1.32333...; between: 2.
    assert_closes(
        &analyst,
        "weston_adjusted_prices('MULT', '2023-01-01', '2023-01-31', total_return => true)",
        &[
            (
                "2023-01-05",
                "119.0999999999999999997000",
                "1.32333333333333333333",
                "0.75",
            ),
            (
                "2023-01-06",
                "132.3333333333333333330000",
                "1.32333333333333333333",
                "0.75",
            ),
            ("2023-01-09", "132.00", "2", "0.5"),
            ("2023-01-10", "64.00", "1", "1"),
        ],
    )
    .await;
    let factors: Vec<String> = sqlx::query_scalar(
        "SELECT effective_before::text FROM weston_adjustment_factors('MULT', NULL, true)",
    )
    .fetch_all(&analyst)
    .await
    .unwrap();
    assert_eq!(
        factors,
        ["2023-01-07", "2023-01-10"],
        "one row per event date"
    );
}

#[tokio::test]
async fn a_dividend_without_an_earlier_bar_adjusts_nothing_and_an_impossible_one_is_refused() {
    let db = seeded("adj_div_edges", &["EARLY", "HUGE"]).await;
    let analyst = db.analyst_pool();
    bars(&db.pool, "EARLY", &[("2023-02-01", "10.00")]).await;
    dividend(&db.pool, "EARLY", "2023-01-15", "0.10").await;
    let factors: Vec<(String, String)> = sqlx::query_as(
        "SELECT effective_before::text, price_factor::text FROM weston_adjustment_factors('EARLY', NULL, true)",
    )
    .fetch_all(&analyst)
    .await
    .unwrap();
    assert_eq!(factors, [("2023-01-15".to_string(), "1".to_string())]);

    bars(&db.pool, "HUGE", &[("2023-02-01", "10.00")]).await;
    dividend(&db.pool, "HUGE", "2023-02-02", "10.00").await;
    let err = sqlx::query(
        "SELECT * FROM weston_adjusted_prices('HUGE', '2023-01-01', '2023-12-31', total_return => true)",
    )
    .fetch_all(&analyst)
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("HUGE") && err.contains("2023-02-02") && err.contains("not less than"),
        "{err}"
    );
    // Split-only reads do not depend on dividends.
    assert_closes(
        &analyst,
        "weston_adjusted_prices('HUGE', '2023-01-01', '2023-12-31')",
        &[("2023-02-01", "10.00", "1", "1")],
    )
    .await;
}

/// The close before a dividend after a halt of weeks is still found (the lookup first asks
/// within ten days of each ex-date, then further back for the few it misses), beside one
/// found within the ten days.
#[tokio::test]
async fn the_close_before_a_dividend_after_a_long_halt_is_found() {
    let db = seeded("adj_halt", &["HALT"]).await;
    let analyst = db.analyst_pool();
    bars(
        &db.pool,
        "HALT",
        &[
            ("2023-02-01", "10.00"),
            ("2023-03-14", "20.00"),
            ("2023-03-15", "21.00"),
        ],
    )
    .await;
    // 1 - 1/10 (the bar of 2023-02-01, four weeks before) and 1 - 2/20 (the day before).
    dividend(&db.pool, "HALT", "2023-03-01", "1.00").await;
    dividend(&db.pool, "HALT", "2023-03-15", "2.00").await;
    let factors: Vec<(String, String)> = sqlx::query_as(
        "SELECT effective_before::text, price_factor::text FROM weston_adjustment_factors('HALT', NULL, true)",
    )
    .fetch_all(&analyst)
    .await
    .unwrap();
    assert_eq!(
        factors,
        [
            ("2023-03-01".to_string(), "0.81".to_string()),
            ("2023-03-15".to_string(), "0.9".to_string())
        ]
    );
}

/// AAPL's split and dividend of August 2020, NVDA's 3-for-2 split between two bars, and
/// one MSFT bar: 8 bars in August 2020.
async fn three_symbols_august_2020(tag: &str) -> TestDb {
    let db = seeded(tag, &["AAPL", "NVDA", "MSFT"]).await;
    aapl_2020(&db.pool).await;
    aapl_dividend_2020(&db.pool).await;
    bars(
        &db.pool,
        "NVDA",
        &[("2020-08-06", "454.00"), ("2020-08-31", "534.98")],
    )
    .await;
    split(&db.pool, "NVDA", "2020-08-20", "3", "2").await;
    bars(&db.pool, "MSFT", &[("2020-08-28", "228.91")]).await;
    db
}

#[tokio::test]
async fn many_symbols_equal_the_single_symbol_form() {
    let db = three_symbols_august_2020("adj_many").await;
    let analyst = db.analyst_pool();

    let mut conn = analyst.acquire().await.unwrap();
    for (as_of, total_return) in [
        ("NULL", "false"),
        ("NULL", "true"),
        ("'2020-08-10'", "true"),
    ] {
        let many = text_rows(
            &mut conn,
            &format!(
                "SELECT {AS_TEXT} FROM weston_adjusted_prices(ARRAY['NVDA','ZZZZ','AAPL','MSFT'], '2020-08-01', '2020-08-31', {as_of}, {total_return})"
            ),
        )
        .await;
        let mut singles = Vec::new();
        for symbol in ["AAPL", "MSFT", "NVDA", "ZZZZ"] {
            singles.extend(
                text_rows(
                    &mut conn,
                    &format!(
                        "SELECT {AS_TEXT} FROM weston_adjusted_prices('{symbol}', '2020-08-01', '2020-08-31', {as_of}, {total_return})"
                    ),
                )
                .await,
            );
        }
        assert_eq!(many.len(), 8, "every bar of the three known symbols");
        assert_eq!(many, singles, "as_of {as_of}, total_return {total_return}");
    }
}

fn children(node: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    node["Plans"].as_array().into_iter().flatten()
}

fn reads_bars(node: &serde_json::Value) -> bool {
    node["Relation Name"]
        .as_str()
        .is_some_and(|r| r.starts_with("prices_daily"))
        || children(node).any(reads_bars)
}

/// Whether a sort (full or incremental) of the plan takes in the bars of more than one run:
/// one above the join of the runs (which scans the segments) and their bars. A sort of one
/// run's few bars, which a plan may choose over an index scan on a small table, is not.
fn sorts_runs_bars(node: &serde_json::Value) -> bool {
    (node["Node Type"]
        .as_str()
        .is_some_and(|t| t.ends_with("Sort"))
        && reads_bars(node)
        && scans_segments(node))
        || children(node).any(sorts_runs_bars)
}

fn scans_segments(node: &serde_json::Value) -> bool {
    node["Function Name"] == "weston_adjustment_segments" || children(node).any(scans_segments)
}

/// For each `Function Scan` on weston_adjustment_segments in an EXPLAIN (ANALYZE, FORMAT
/// JSON) plan: its actual loops, and whether the join that takes it in also reads bars
/// (then each bar, not each symbol, meets the segments).
fn segment_scans(node: &serde_json::Value, joined_to_bars: bool, out: &mut Vec<(i64, bool)>) {
    if node["Function Name"] == "weston_adjustment_segments" {
        out.push((node["Actual Loops"].as_i64().unwrap_or(-1), joined_to_bars));
    }
    let join = node["Node Type"]
        .as_str()
        .is_some_and(|t| matches!(t, "Nested Loop" | "Hash Join" | "Merge Join"));
    for child in children(node) {
        let joined = if join && scans_segments(child) {
            children(node).any(|other| !std::ptr::eq(other, child) && reads_bars(other))
        } else {
            joined_to_bars
        };
        segment_scans(child, joined, out);
    }
}

/// The most times any scan of prices_daily in `plan` ran (its actual loops).
fn bar_scan_loops(node: &serde_json::Value) -> i64 {
    let own = if node["Relation Name"]
        .as_str()
        .is_some_and(|r| r.starts_with("prices_daily"))
    {
        node["Actual Loops"].as_i64().unwrap_or(0)
    } else {
        0
    };
    children(node).map(bar_scan_loops).fold(own, i64::max)
}

/// A generic plan (a prepared statement's sixth run, or plan_cache_mode) sizes the symbols
/// array at 10 rows whatever it holds. Joined to the bars, the segments were rescanned for
/// every bar at 750 symbols (14 times slower); joined to the ticker pieces, whatever the
/// estimates, they meet each symbol once. And under both the read walks each run of bars (a
/// ticker piece between two event dates) by a scan of its own, so the bars are never
/// hashed nor all sorted (0.8.0 hashed the window's bars, then sorted them all; at 750
/// symbols that sort spilled at the default work_mem; since 0.15.0 the walk sorts no bar,
/// its runs' rows already in order, see docs/SCALING.md). Both plans give the same rows.
#[tokio::test]
async fn a_generic_plan_scans_the_segments_once_and_gives_the_same_rows() {
    let db = three_symbols_august_2020("adj_generic").await;
    let analyst = db.analyst_pool();
    sqlx::query("ANALYZE").execute(&db.pool).await.unwrap();

    let mut conn = analyst.acquire().await.unwrap();
    let call =
        "EXECUTE adjusted(ARRAY['NVDA','AAPL','MSFT'], '2020-08-01', '2020-08-31', NULL, true)";
    let mut rows = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        sqlx::raw_sql(&format!(
            "SET plan_cache_mode = {mode};
             PREPARE adjusted(text[], date, date, date, boolean) AS
                 SELECT {AS_TEXT} FROM weston_adjusted_prices($1, $2, $3, $4, $5)"
        ))
        .execute(&mut *conn)
        .await
        .unwrap();
        let plan: serde_json::Value =
            sqlx::query_scalar(&format!("EXPLAIN (ANALYZE, FORMAT JSON) {call}"))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        let mut scans = Vec::new();
        segment_scans(&plan[0]["Plan"], false, &mut scans);
        assert_eq!(
            scans,
            [(1, false)],
            "{mode}: the segments scanned once per read and joined to the ticker pieces, not to the bars\n{plan:#}"
        );
        // AAPL's runs (before its dividend, to its split, after), NVDA's two and MSFT's one.
        assert!(
            bar_scan_loops(&plan[0]["Plan"]) >= 5,
            "{mode}: a scan of the bars per run\n{plan:#}"
        );
        assert!(
            !sorts_runs_bars(&plan[0]["Plan"]),
            "{mode}: the runs' rows come in order, with no sort of them\n{plan:#}"
        );
        rows.push(text_rows(&mut conn, call).await);
        sqlx::raw_sql("DEALLOCATE adjusted; RESET plan_cache_mode")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    assert_eq!(rows[0].len(), 8, "every bar of the three symbols");
    assert_eq!(rows[0], rows[1], "the same rows under both plans");
}

#[tokio::test]
async fn hostile_search_path_and_time_zone_change_nothing() {
    let db = seeded("adj_hostile", &["AAPL"]).await;
    let analyst = db.analyst_pool();
    aapl_2020(&db.pool).await;
    let mut conn = analyst.acquire().await.unwrap();
    let query = format!(
        "SELECT {AS_TEXT} FROM weston.weston_adjusted_prices('AAPL'::text, '2020-08-01'::date, '2020-08-31'::date)"
    );
    let expected = text_rows(&mut conn, &query).await;
    assert_eq!(expected.len(), 3);
    // The same read as known now (sql/known.sql's sets, inlined too).
    let known = query.replace(
        "'2020-08-31'::date)",
        "'2020-08-31'::date, known_on => pg_catalog.now())",
    );
    assert_eq!(text_rows(&mut conn, &known).await, expected);

    // Look-alike tables and a look-alike operator in a schema the analyst can see and puts
    // first (planted by the superuser, named, as anyone with a schema could plant them), and
    // a look-alike temporary table of the analyst's own session.
    sqlx::raw_sql(
        "CREATE SCHEMA evil;
         CREATE TABLE evil.splits (LIKE weston.splits);
         INSERT INTO evil.splits SELECT symbol, date, 1, 1000, provider, run_id, updated_at FROM weston.splits;
         CREATE TABLE evil.prices_daily (LIKE weston.prices_daily);
         CREATE FUNCTION evil.times(numeric, numeric) RETURNS numeric LANGUAGE sql AS 'SELECT 0::numeric';
         CREATE OPERATOR evil.* (FUNCTION = evil.times, LEFTARG = numeric, RIGHTARG = numeric);
         GRANT USAGE ON SCHEMA evil TO PUBLIC;
         GRANT SELECT ON ALL TABLES IN SCHEMA evil TO PUBLIC;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::raw_sql("CREATE TEMP TABLE splits (LIKE weston.splits)")
        .execute(&mut *conn)
        .await
        .unwrap();
    for setting in [
        "SET search_path = evil, public",
        "SET search_path = ''",
        "SET search_path = pg_temp, evil, pg_catalog, public",
    ] {
        sqlx::raw_sql(setting).execute(&mut *conn).await.unwrap();
        assert_eq!(text_rows(&mut conn, &query).await, expected, "{setting}");
        assert_eq!(
            text_rows(&mut conn, &known).await,
            expected,
            "{setting}, known_on"
        );
    }
    sqlx::raw_sql("RESET search_path")
        .execute(&mut *conn)
        .await
        .unwrap();
    for zone in ["Pacific/Kiritimati", "America/Adak", "UTC"] {
        sqlx::raw_sql(&format!("SET TimeZone = '{zone}'"))
            .execute(&mut *conn)
            .await
            .unwrap();
        assert_eq!(text_rows(&mut conn, &query).await, expected, "{zone}");
    }
}

#[tokio::test]
async fn bad_arguments_give_clear_errors_and_unknown_symbols_no_rows() {
    let db = seeded("adj_errors", &["AAPL"]).await;
    let analyst = db.analyst_pool();
    aapl_2020(&db.pool).await;
    let err = |sql: &'static str| {
        let pool = analyst.clone();
        async move {
            sqlx::query(sql)
                .fetch_all(&pool)
                .await
                .expect_err(sql)
                .to_string()
        }
    };
    let e = err("SELECT * FROM weston_adjusted_prices('AAPL', '2020-09-01', '2020-08-01')").await;
    assert!(
        e.contains("from_date 2020-09-01 is after to_date 2020-08-01"),
        "{e}"
    );
    // Also with bound parameters, whether the plan is custom or generic.
    for mode in ["force_custom_plan", "force_generic_plan"] {
        let mut conn = analyst.acquire().await.unwrap();
        sqlx::raw_sql(&format!("SET plan_cache_mode = {mode}"))
            .execute(&mut *conn)
            .await
            .unwrap();
        let e = sqlx::query("SELECT * FROM weston_adjusted_prices($1::text, $2::date, $3::date)")
            .bind("AAPL")
            .bind("2020-09-01")
            .bind("2020-08-01")
            .fetch_all(&mut *conn)
            .await
            .expect_err(mode)
            .to_string();
        assert!(e.contains("is after to_date"), "{mode}: {e}");
        sqlx::raw_sql("RESET plan_cache_mode")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    let e = err("SELECT * FROM weston_adjusted_prices(ARRAY['AAPL'], '2020-09-01', '2020-08-01')")
        .await;
    assert!(e.contains("is after to_date"), "{e}");
    let e =
        err("SELECT * FROM weston_adjusted_prices(NULL::text, '2020-08-01', '2020-09-01')").await;
    assert!(e.contains("symbol must not be NULL"), "{e}");
    let e = err("SELECT * FROM weston_adjusted_prices('AAPL', NULL, '2020-09-01')").await;
    assert!(e.contains("from_date must not be NULL"), "{e}");
    let e = err(
        "SELECT * FROM weston_adjusted_prices(ARRAY['AAPL', NULL], '2020-08-01', '2020-09-01')",
    )
    .await;
    assert!(e.contains("symbol must not be NULL"), "{e}");
    let e =
        err("SELECT * FROM weston_adjusted_prices('AAPL', '2020-08-01', '2020-09-01', NULL, NULL)")
            .await;
    assert!(e.contains("total_return must not be NULL"), "{e}");
    let e = err("SELECT * FROM weston_adjustment_factors(NULL)").await;
    assert!(e.contains("symbol must not be NULL"), "{e}");

    let unknown: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM weston_adjusted_prices('NOPE', '2000-01-01', '2030-01-01'))
              + (SELECT count(*) FROM weston_adjustment_factors('NOPE'))
              + (SELECT count(*) FROM weston_adjusted_prices(ARRAY[]::text[], '2000-01-01', '2030-01-01'))",
    )
    .fetch_one(&analyst)
    .await
    .unwrap();
    assert_eq!(unknown, 0);
}

#[tokio::test]
async fn functions_are_stable_parallel_safe_documented_and_inlined() {
    let db = seeded("adj_catalog", &["AAPL"]).await;
    let analyst = db.analyst_pool();
    aapl_2020(&db.pool).await;
    let rows = sqlx::query(
        "SELECT p.oid::regprocedure::text AS f, p.provolatile::text AS vol, p.proparallel::text AS par,
                p.proisstrict AS strict, coalesce(array_to_string(p.proconfig, ','), '') AS config,
                coalesce(obj_description(p.oid, 'pg_proc'), '') AS comment
           FROM pg_proc p
          WHERE p.proname IN ('weston_adjusted_prices', 'weston_adjustment_factors',
                              'weston_adjustment_segments', 'weston_check_adjusted_arguments')
          ORDER BY 1",
    )
    .fetch_all(&analyst)
    .await
    .unwrap();
    let config: Vec<(String, String)> =
        rows.iter().map(|r| (r.get("f"), r.get("config"))).collect();
    assert_eq!(
        config,
        [
            (
                "weston_adjusted_prices(text,date,date,date,boolean,timestamp with time zone)".to_string(),
                "search_path=pg_catalog, weston_data, weston, pg_temp,plan_cache_mode=force_generic_plan".to_string()
            ),
            (
                "weston_adjusted_prices(text[],date,date,date,boolean,timestamp with time zone)".to_string(),
                String::new()
            ),
            (
                "weston_adjustment_factors(text,date,boolean,timestamp with time zone)".to_string(),
                "search_path=pg_catalog, weston_data, weston, pg_temp".to_string()
            ),
            (
                "weston_adjustment_segments(text[],date,date,boolean,timestamp with time zone)".to_string(),
                "search_path=pg_catalog, weston_data, weston, pg_temp,plan_cache_mode=force_generic_plan"
                    .to_string()
            ),
            (
                "weston_check_adjusted_arguments(text[],date,date,boolean)".to_string(),
                "search_path=pg_catalog, pg_temp".to_string()
            ),
        ],
        "only functions that are not inlined pin search_path with SET; the inlined one is fully qualified"
    );
    for r in &rows {
        let f: String = r.get("f");
        let volatility = if f.starts_with("weston_check_adjusted_arguments") {
            "i" // reads only its arguments
        } else {
            "s" // reads tables
        };
        assert_eq!(r.get::<String, _>("vol"), volatility, "{f}");
        assert_eq!(r.get::<String, _>("par"), "s", "{f} is PARALLEL SAFE");
        // as_of may be NULL, so none can be STRICT; they check their other NULLs.
        assert!(!r.get::<bool, _>("strict"), "{f}");
        assert!(
            r.get::<String, _>("comment").len() > 50,
            "{f} has a comment"
        );
    }

    // The many-symbol form is inlined into the caller's query: the plan reads prices_daily
    // directly, no function scan of weston_adjusted_prices (whose rows would otherwise be
    // materialised). The one-symbol form is a function scan whose plan the session keeps.
    let plan = |sql: &'static str| {
        let analyst = analyst.clone();
        async move {
            let lines: Vec<String> = sqlx::query_scalar(sql).fetch_all(&analyst).await.unwrap();
            lines.join("\n")
        }
    };
    let many = plan(
        "EXPLAIN SELECT * FROM weston_adjusted_prices(ARRAY['AAPL'], '2020-08-01', '2020-08-31')",
    )
    .await;
    assert!(
        !many.contains("Function Scan on weston_adjusted_prices") && many.contains("prices_daily"),
        "{many}"
    );
    let one =
        plan("EXPLAIN SELECT * FROM weston_adjusted_prices('AAPL', '2020-08-01', '2020-08-31')")
            .await;
    assert!(
        one.contains("Function Scan on weston_adjusted_prices") && !one.contains("prices_daily"),
        "{one}"
    );
}

#[tokio::test]
async fn a_sub_select_of_symbols_is_inlined_wherever_it_is_written() {
    let db = three_symbols_august_2020("adj_sub_select").await;
    let analyst = db.analyst_pool();
    let mut conn = analyst.acquire().await.unwrap();
    let window = "'2020-08-01', '2020-08-31'";
    sqlx::query(&format!(
        "CREATE FUNCTION pg_temp.universe_prices(a date, t boolean)
         RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
                       volume numeric, price_factor numeric, volume_factor numeric)
         LANGUAGE sql STABLE
         AS $$ SELECT * FROM weston.weston_adjusted_prices(array(SELECT symbol FROM securities), {window}, a, t) $$"
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    for (as_of, total_return) in [
        ("NULL", "false"),
        ("NULL", "true"),
        ("'2020-08-10'", "true"),
    ] {
        let args = format!("{window}, {as_of}, {total_return}");
        let expected = text_rows(
            &mut conn,
            &format!(
                "SELECT {AS_TEXT} FROM weston_adjusted_prices(ARRAY['AAPL','MSFT','NVDA'], {args})"
            ),
        )
        .await;
        assert_eq!(expected.len(), 8);
        let universe = "array(SELECT symbol FROM securities)";
        // (the read, whether the planner inlines it)
        let reads = [
            (format!("SELECT {AS_TEXT} FROM weston_adjusted_prices({universe}, {args})"), true),
            (
                format!("SELECT {AS_TEXT} FROM weston_adjusted_prices((SELECT array_agg(symbol) FROM securities), {args})"),
                true,
            ),
            (
                format!("SELECT * FROM (SELECT {AS_TEXT} FROM weston_adjusted_prices({universe}, {args})) p ORDER BY 1, 2"),
                true,
            ),
            (
                format!("WITH p AS (SELECT {AS_TEXT} FROM weston_adjusted_prices({universe}, {args})) SELECT * FROM p ORDER BY 1, 2"),
                true,
            ),
            (
                format!("SELECT {AS_TEXT} FROM pg_temp.universe_prices({as_of}, {total_return})"),
                true,
            ),
            // Reading the caller's rows or its WITH query: run un-inlined, as before.
            (
                format!(
                    "SELECT {} FROM securities s,
                            LATERAL weston_adjusted_prices(array(SELECT s.symbol), {args}) p
                      ORDER BY 1, 2",
                    AS_TEXT.replacen("symbol", "p.symbol", 1)
                ),
                false,
            ),
            (
                format!(
                    "WITH c AS MATERIALIZED (SELECT symbol FROM securities)
                     SELECT {AS_TEXT} FROM weston_adjusted_prices(array(SELECT symbol FROM c), {args})"
                ),
                false,
            ),
        ];
        for (read, inlined) in reads {
            assert_eq!(
                text_rows(&mut conn, &read).await,
                expected,
                "{read}, as_of {as_of}, total_return {total_return}"
            );
            let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {read}"))
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            let plan = plan.join("\n");
            assert_eq!(
                !plan.contains("Function Scan on weston_adjusted_prices"),
                inlined,
                "{read}\n{plan}"
            );
        }
    }
    // The same errors as with a bound array.
    for (call, error) in [
        ("(SELECT NULL::text[])", "symbols must not be NULL"),
        ("array(SELECT NULL::text)", "symbol must not be NULL"),
    ] {
        let e = sqlx::query(&format!(
            "SELECT * FROM weston_adjusted_prices({call}, {window})"
        ))
        .fetch_all(&mut *conn)
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains(error), "{call}: {e}");
    }
}
