//! The adjusted read against the read pg_weston 0.8.0 shipped (its frozen install script,
//! `pg_weston/sql/released/pg_weston--0.8.0.sql`, created as `reference.adjusted_prices`):
//! the same rows, every column, in the same order, over
//! the mock market with its life events (a rename, a delisting, a reused ticker, a class
//! move) and its planted errors, loaded by the real loader as the etl_writer login, plus
//! FMP's and Polygon's documented AAPL events through their (local) APIs; read by an
//! analyst's app_ro login in each call form (a bound array, a sub-select argument, one
//! ticker, which walks its bars in its own code), for many windows, as_of dates, both
//! adjustments, and both plan cache modes.

use fake_providers::{Seen, TestServer};
use weston_loader::providers::mock::{life as mock_life, planted};
use weston_tests::{output_text, run_loader, TestDb};

const RELEASED: &str = include_str!("../../pg_weston/sql/released/pg_weston--0.8.0.sql");

/// 0.8.0's `weston_adjusted_prices(symbols text[], ...)`, as `reference.adjusted_prices`.
fn reference() -> String {
    let start = RELEASED
        .find("CREATE FUNCTION weston_adjusted_prices(\n    symbols text[]")
        .expect("0.8.0 defines weston_adjusted_prices(text[], ...)");
    let end = start + RELEASED[start..].find("$fn$;").expect("its body ends") + 5;
    RELEASED[start..end]
        .replacen("weston_adjusted_prices(", "reference.adjusted_prices(", 1)
        .replace("@extschema@", "weston")
        // 0.9.0 declares the segments with known_on (NULL: as stored, what 0.8.0 read).
        .replace(
            "weston_adjustment_segments(symbols, from_date, as_of, total_return)",
            "weston_adjustment_segments(symbols, from_date, as_of, total_return, NULL)",
        )
}
const FROM: &str = "2021-01-04";
const TO: &str = "2026-11-25";

fn load(db: &TestDb, args: &[&str], env: &[(&str, &str)]) {
    let out = run_loader(db, args, env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        output_text(&out)
    );
}

/// Every row of `sql` (with `$1` the symbols, when given), each column as text, in order;
/// or its error (a planted error refused by both reads is the same answer).
async fn rows(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    symbols: Option<&[String]>,
) -> Result<Vec<Vec<Option<String>>>, String> {
    use sqlx::Row;
    let mut q = sqlx::query(sql);
    if let Some(s) = symbols {
        q = q.bind(s);
    }
    Ok(q.fetch_all(&mut *conn)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<Option<String>, _>(i))
                .collect()
        })
        .collect())
}

const AS_TEXT: &str = "symbol, date::text, open::text, high::text, low::text, close::text, \
                       volume::text, price_factor::text, volume_factor::text";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_gives_what_0_8_0_gave_over_the_mock_market_and_every_provider() {
    let db = TestDb::migrated("adj_differential").await;
    // The mock market: clean symbols that split every few months, every planted error,
    // every life event (renamed, delisted, reused, moved), and their neighbours.
    let mut symbols: Vec<String> = planted::plants().into_iter().map(|p| p.symbol).collect();
    symbols.extend(
        [
            "MOCK0001",
            "MOCK0002",
            "MOCK0003",
            "MOCK0020",
            mock_life::RENAMED.0,
            mock_life::DELISTED.0,
            mock_life::REUSED.0,
            "MOCK0704",
            "MOCK0705",
        ]
        .map(String::from),
    );
    symbols.sort();
    symbols.dedup();
    load(
        &db,
        &[
            "run",
            "--provider",
            "mock",
            "--symbols",
            &symbols.join(","),
            "--from",
            FROM,
            "--to",
            TO,
        ],
        &[(weston_loader::cli::MOCK_PLANTED_ENV, "true")],
    );
    // FMP's and Polygon's documented AAPL: its splits since 1987 and its dividends.
    let fmp = TestServer::start(|seen: &Seen| fake_providers::fmp::fmp_api("k", seen)).await;
    let polygon =
        TestServer::start(|seen: &Seen| fake_providers::polygon::polygon_api("k", seen)).await;
    for (provider, from, to) in [
        ("fmp", "2020-08-27", "2020-08-31"),
        ("polygon", "2020-09-01", "2020-09-04"),
    ] {
        load(
            &db,
            &[
                "run",
                "--provider",
                provider,
                "--symbols",
                "AAPL",
                "--from",
                from,
                "--to",
                to,
            ],
            &[
                ("FMP_API_KEY", "k"),
                ("POLYGON_API_KEY", "k"),
                ("WESTON_FMP_BASE_URL", fmp.base_url.as_str()),
                ("WESTON_POLYGON_BASE_URL", polygon.base_url.as_str()),
                ("WESTON_HTTP_MAX_RETRIES", "0"),
            ],
        );
    }
    drop((fmp, polygon));

    // The reference, created by the superuser (the named exception) where analysts can run it.
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA reference; GRANT USAGE ON SCHEMA reference TO PUBLIC; {}; ANALYZE",
        reference()
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let (splits, dividends, renamed): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM splits), (SELECT count(*) FROM dividends),
                (SELECT count(*) FROM ticker_history h
                  WHERE EXISTS (SELECT 1 FROM ticker_history o
                                 WHERE o.security_id = h.security_id AND o.symbol <> h.symbol))",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        splits > 20 && dividends > 20 && renamed > 0,
        "{splits} {dividends} {renamed}"
    );

    let analyst = db.analyst_pool();
    let mut conn = analyst.acquire().await.unwrap();
    let all: Vec<String> = sqlx::query_scalar(
        "SELECT symbol FROM securities UNION SELECT symbol FROM ticker_history UNION SELECT 'NOPE' ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let windows = [
        ("1980-01-01", "2030-12-31"),
        ("2020-08-28", "2020-09-02"),
        ("2022-02-15", "2022-04-15"),
        ("2026-07-01", "2026-10-31"),
        ("2026-09-14", "2026-09-14"),
    ];
    let as_ofs = [
        "NULL",
        "'2020-08-30'",
        "'2022-03-15'",
        "'2026-07-16'",
        "'2026-07-17'",
        "'2026-09-13'",
        "'2026-09-14'",
        "'2026-10-05'",
        "'2026-11-25'",
    ];
    let mut compared = 0;
    for mode in ["force_custom_plan", "force_generic_plan"] {
        sqlx::raw_sql(&format!("SET plan_cache_mode = {mode}"))
            .execute(&mut *conn)
            .await
            .unwrap();
        for (from, to) in windows {
            // The whole history (45,000 bars a read) at three points in time only.
            let points: &[&str] = if from == "1980-01-01" {
                &["NULL", "'2022-03-15'", "'2026-09-14'"]
            } else {
                &as_ofs
            };
            for as_of in points {
                for total_return in [false, true] {
                    let args = format!("'{from}', '{to}', {as_of}, {total_return}");
                    let expected = rows(
                        &mut conn,
                        &format!(
                            "SELECT {AS_TEXT} FROM reference.adjusted_prices($1::text[], {args})"
                        ),
                        Some(&all),
                    )
                    .await;
                    let expected_rows = expected.clone().unwrap_or_default();
                    let calls = [
                        format!("weston_adjusted_prices($1::text[], {args})"),
                        format!(
                            "weston_adjusted_prices(array(SELECT s FROM unnest($1::text[]) s), {args})"
                        ),
                    ];
                    for call in &calls {
                        let got = rows(
                            &mut conn,
                            &format!("SELECT {AS_TEXT} FROM {call}"),
                            Some(&all),
                        )
                        .await;
                        let n = got.as_ref().map_or(0, Vec::len);
                        assert!(
                            got == expected,
                            "{mode}, {call}: {n} rows against 0.8.0's {}; first difference: {:?}; errors: {:?} / {:?}",
                            expected_rows.len(),
                            got.iter().flatten().zip(&expected_rows).find(|(g, e)| g != e),
                            got.as_ref().err(),
                            expected.as_ref().err()
                        );
                        compared += n;
                    }
                    // One ticker at a time (its own walk, src/walk.rs) gives its share of
                    // the same rows, and, as known now, the many-symbol form's as known now.
                    if expected.is_ok() {
                        for symbol in &all {
                            let one = |known_on: &str| {
                                format!("SELECT {AS_TEXT} FROM weston_adjusted_prices('{symbol}'::text, {args}{known_on})")
                            };
                            let got = rows(&mut conn, &one(""), None)
                                .await
                                .unwrap_or_else(|e| panic!("{symbol}, {args}: {e}"));
                            let want: Vec<_> = expected_rows
                                .iter()
                                .filter(|r| r[0].as_deref() == Some(symbol.as_str()))
                                .cloned()
                                .collect();
                            assert_eq!(got, want, "{mode}: {symbol}, {args}");
                            compared += got.len();
                            if from == "2026-07-01" {
                                let known = rows(&mut conn, &one(", now()"), None).await;
                                let many = rows(
                                    &mut conn,
                                    &format!("SELECT {AS_TEXT} FROM weston_adjusted_prices(ARRAY['{symbol}'], {args}, now())"),
                                    None,
                                )
                                .await;
                                assert_eq!(known, many, "{mode}: {symbol}, {args}, known now");
                                assert_eq!(
                                    known.as_ref().ok(),
                                    Some(&want),
                                    "{mode}: {symbol}, {args}, known now"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 100_000, "{compared} rows compared");
}
