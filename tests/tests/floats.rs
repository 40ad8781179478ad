//! `weston_float8(numeric)` gives the double `::float8` gives, bit for bit, for every kind
//! of numeric: short and long, tiny and huge, subnormal, halfway between two doubles, the
//! special values, and every value an adjusted read returns; and the same error where
//! `::float8` refuses. Called as an analyst's `app_ro` login, as the weston package calls it.

use weston_tests::{bench_universe, settle, TestDb};

/// Numerics of 1 to 32 digits (from md5, so the same each run) times 10^-340..10^300,
/// kept within the range a double holds (above 10^-322, below 10^300).
const GENERATED: &str = "
    SELECT (substr(translate(md5(i::text), 'abcdef', '123456'), 1, 1 + i % 32)
            || 'e' || ((i * 7919) % 641 - 340))::numeric AS value
      FROM generate_series(1, 200000) i
     WHERE (i * 7919) % 641 - 340 + 1 + i % 32 BETWEEN -321 AND 300";

/// Values a correctly rounded conversion must round the right way: halfway between two
/// doubles (ties to even), a hair either side, the extremes, and the special values.
const EDGES: &[&str] = &[
    "0",
    "-0",
    "0.000000",
    "1",
    "-1",
    "NaN",
    "Infinity",
    "-Infinity",
    // 1 + 2^-53 and 1 + 3 * 2^-53: halfway, to the even neighbour (1 and 1 + 2^-51).
    "1.00000000000000011102230246251565404236316680908203125",
    "1.00000000000000033306690738754696212708950042724609375",
    "1.00000000000000011102230246251565404236316680908203124999999999999",
    "1.00000000000000011102230246251565404236316680908203125000000000001",
    // 2^53 + 1, halfway between two integers a double holds.
    "9007199254740993",
    "-9007199254740993",
    "9007199254740993.000000000000000000000000000001",
    // The largest double, and a hair above it that still rounds down to it.
    "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368",
    "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858369",
    // The smallest normal double, and the smallest subnormal.
    "2.2250738585072014e-308",
    "4.9406564584124654e-324",
    "3e-324",
    // A price, a factor and their product, as adjustment makes them.
    "72.75",
    "0.99312714776632302405",
    "72.2499999999999999996375",
    "-123456789.123456789123456789123456789",
];

#[tokio::test]
async fn weston_float8_gives_the_double_the_cast_gives() {
    let db = TestDb::migrated("floats").await;
    let analyst = db.analyst_pool();

    let differ: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM ({GENERATED}) g
          WHERE weston_float8(value) IS DISTINCT FROM value::float8
             OR float8send(weston_float8(value)) <> float8send(value::float8)"
    ))
    .fetch_one(&analyst)
    .await
    .unwrap();
    assert_eq!(
        differ, 0,
        "generated numerics whose double differs from ::float8"
    );
    let tried: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM ({GENERATED}) g"))
        .fetch_one(&analyst)
        .await
        .unwrap();
    assert!(tried > 100_000, "only {tried} generated numerics");

    for edge in EDGES {
        let (ours, cast): (Vec<u8>, Vec<u8>) = sqlx::query_as(
            "SELECT float8send(weston_float8($1::numeric)), float8send($1::numeric::float8)",
        )
        .bind(edge)
        .fetch_one(&analyst)
        .await
        .unwrap_or_else(|e| panic!("{edge}: {e}"));
        assert_eq!(ours, cast, "{edge}: weston_float8 and ::float8 differ");
    }
    let null: Option<f64> = sqlx::query_scalar("SELECT weston_float8(NULL)")
        .fetch_one(&analyst)
        .await
        .unwrap();
    assert_eq!(null, None);
}

#[tokio::test]
async fn weston_float8_refuses_what_the_cast_refuses() {
    let db = TestDb::migrated("floats_range").await;
    let analyst = db.analyst_pool();
    for value in ["1e400", "-1e400", "1e-400", "-2e-324"] {
        let error = |sql: &'static str| {
            let analyst = analyst.clone();
            async move {
                let e = sqlx::query(sql)
                    .bind(value)
                    .execute(&analyst)
                    .await
                    .expect_err(value);
                let e = e.into_database_error().expect("a database error");
                (e.code().unwrap().to_string(), e.message().to_string())
            }
        };
        let ours = error("SELECT weston_float8($1::numeric)").await;
        let cast = error("SELECT $1::numeric::float8").await;
        assert_eq!(ours, cast, "{value}");
        assert_eq!(ours.0, "22003", "{value}");
    }
}

#[tokio::test]
async fn every_adjusted_value_converts_as_the_cast_does() {
    let db = TestDb::migrated("floats_adjusted").await;
    sqlx::raw_sql(&bench_universe("F", 30, "2022-01-01", "2024-12-31"))
        .execute(&db.pool)
        .await
        .unwrap();
    settle(&mut db.pool.acquire().await.unwrap()).await;
    let analyst = db.analyst_pool();
    let (rows, differ): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (
                    SELECT FROM unnest(ARRAY[open, high, low, close, volume, price_factor, volume_factor]) v
                     WHERE float8send(weston_float8(v)) <> float8send(v::float8)))
           FROM weston_adjusted_prices(array(SELECT symbol FROM securities), '2022-01-01', '2024-12-31',
                                       NULL, true)",
    )
    .fetch_one(&analyst)
    .await
    .unwrap();
    assert!(rows > 10_000, "only {rows} adjusted rows");
    assert_eq!(
        differ, 0,
        "adjusted rows with a value whose double differs from ::float8"
    );
    let dividends: i64 = sqlx::query_scalar("SELECT count(*) FROM dividends")
        .fetch_one(&analyst)
        .await
        .unwrap();
    assert!(dividends > 0, "the universe has no dividends");
}
