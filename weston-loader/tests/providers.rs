//! FMP and Polygon clients and the fallback chain against local HTTP servers speaking the
//! providers' documented formats, faults included. Rate limits and backoffs are scaled down
//! (milliseconds instead of seconds) so the tests run in seconds.

#[path = "common/server.rs"]
mod server;

#[path = "common/fmp_stable.rs"]
mod fmp_stable;

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use fmp_stable::fixture;
use rust_decimal_macros::dec;
use server::{Reply, Seen, TestServer};
use weston_loader::model::ProviderName;
use weston_loader::providers::{
    BarsOutcome, DailyBar, Dividend, FmpProvider, HttpLimits, PolygonProvider, Provider,
    ProviderChain, ProviderError, ProviderStats, RateLimit, Split,
};

const KEY: &str = "k3y-S3CRET";

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn fast() -> HttpLimits {
    HttpLimits {
        rate: RateLimit {
            requests: NonZeroU32::new(1000).unwrap(),
            per: Duration::from_secs(1),
        },
        timeout: Duration::from_millis(1500),
        connect_timeout: Duration::from_secs(1),
        max_retries: 3,
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    }
}

fn polygon(server: &TestServer) -> PolygonProvider {
    PolygonProvider::new(KEY, &server.base_url, fast()).unwrap()
}

fn fmp(server: &TestServer) -> FmpProvider {
    FmpProvider::new(KEY, &server.base_url, fast()).unwrap()
}

/// A local server answering with `api`, and a Polygon client of it.
async fn polygon_on(
    api: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (TestServer, PolygonProvider) {
    let server = TestServer::start(api).await;
    let provider = polygon(&server);
    (server, provider)
}

/// A local server answering with `api`, and an FMP client of it.
async fn fmp_on(api: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> (TestServer, FmpProvider) {
    let server = TestServer::start(api).await;
    let provider = fmp(&server);
    (server, provider)
}

/// AAPL around its 4-for-1 split of 2020-08-31 (the days of the FMP fixture).
async fn aapl_bars_around_the_split(
    provider: &impl Provider,
) -> Result<Vec<DailyBar>, ProviderError> {
    provider
        .daily_bars("AAPL", date("2020-08-27"), date("2020-08-31"))
        .await
}

async fn aapl_splits_2020(provider: &impl Provider) -> Result<Vec<Split>, ProviderError> {
    provider
        .splits("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
}

async fn aapl_dividends_2020(provider: &impl Provider) -> Result<Vec<Dividend>, ProviderError> {
    provider
        .dividends("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
}

fn assert_no_key(text: &str) {
    assert!(!text.contains(KEY), "the API key leaked: {text}");
}

/// Polygon as documented: aggregates (two pages), grouped daily, reference data; adjusted
/// values only when asked for `adjusted=true` (which the client must never do).
fn polygon_api(seen: &Seen) -> Reply {
    if seen.param("apiKey") != Some(KEY) {
        return Reply::status(
            401,
            r#"{"status":"ERROR","request_id":"x","error":"Unknown API Key"}"#,
        );
    }
    let path = seen.path.as_str();
    if path.starts_with("/v2/aggs/ticker/AAPL/range/1/day/") {
        // The cursor of next_url carries the first request's parameters.
        if seen.param("cursor") == Some("bGltaXQ9MiZzb3J0PWFzYw") {
            return Reply::json(fixture("polygon_aggs_AAPL_page2.json"));
        }
        if seen.param("adjusted") != Some("false") {
            return Reply::json(
                fixture("polygon_aggs_AAPL_page1.json")
                    .replace("\"adjusted\": false", "\"adjusted\": true")
                    .replace("170.73", "1.0"),
            );
        }
        return Reply::json(fixture("polygon_aggs_AAPL_page1.json"));
    }
    if path.starts_with("/v2/aggs/ticker/") {
        // An unknown ticker: no `results` at all.
        return Reply::json(
            r#"{"ticker":"ZZZZ","queryCount":0,"resultsCount":0,"adjusted":false,"status":"OK","request_id":"r"}"#,
        );
    }
    match path {
        "/v2/aggs/grouped/locale/us/market/stocks/2024-03-11" => {
            Reply::json(fixture("polygon_grouped_2024-03-11.json"))
        }
        "/v3/reference/splits" => Reply::json(fixture("polygon_splits_AAPL.json")),
        "/v3/reference/dividends" => Reply::json(fixture("polygon_dividends_AAPL.json")),
        "/v3/reference/tickers/AAPL" => Reply::json(fixture("polygon_ticker_AAPL.json")),
        p if p.starts_with("/v2/aggs/grouped/") => Reply::json(
            r#"{"queryCount":0,"resultsCount":0,"adjusted":false,"status":"OK","request_id":"r"}"#,
        ),
        _ => Reply::status(
            404,
            r#"{"status":"NOT_FOUND","request_id":"r","message":"Ticker not found."}"#,
        ),
    }
}

/// FMP `/stable` as documented, for a client holding KEY.
fn fmp_api(seen: &Seen) -> Reply {
    fmp_stable::fmp_api(KEY, seen)
}

#[tokio::test]
async fn polygon_bars_are_raw_paginated_and_dated_in_new_york() {
    let (server, provider) = polygon_on(polygon_api).await;
    let bars = provider
        .daily_bars("AAPL", date("2024-03-07"), date("2024-03-12"))
        .await
        .unwrap();
    let dates: Vec<_> = bars.iter().map(|b| b.date.to_string()).collect();
    // 03-08 is stamped 05:00 UTC (EST), 03-11 04:00 UTC (EDT, the day after the change).
    assert_eq!(
        dates,
        ["2024-03-07", "2024-03-08", "2024-03-11", "2024-03-12"]
    );
    assert_eq!(
        (bars[1].open, bars[1].high, bars[1].close),
        (dec!(169), dec!(173.7), dec!(170.73)),
        "raw, unadjusted"
    );
    assert_eq!(
        bars[1].volume,
        dec!(76114634.5),
        "fractional volume kept exactly"
    );
    assert_eq!(bars[1].vwap, Some(dec!(170.5847)));
    assert_eq!(bars[3].vwap, None, "no `vw`, no vwap");

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "two pages: {requests:?}");
    assert_eq!(
        requests[0].path,
        "/v2/aggs/ticker/AAPL/range/1/day/2024-03-07/2024-03-12"
    );
    assert_eq!(requests[0].param("adjusted"), Some("false"));
    assert_eq!(requests[0].param("sort"), Some("asc"));
    assert_eq!(requests[0].param("limit"), Some("50000"));
    // next_url is followed on our base URL, with the key re-attached.
    assert_eq!(requests[1].param("cursor"), Some("bGltaXQ9MiZzb3J0PWFzYw"));
    assert_eq!(requests[1].param("apiKey"), Some(KEY));
    let stats = provider.stats();
    assert_eq!((stats.http_calls, stats.rows_returned), (2, 4));
}

#[tokio::test]
async fn polygon_unknown_ticker_and_missing_results_are_empty() {
    let (_server, provider) = polygon_on(polygon_api).await;
    assert!(provider
        .daily_bars("ZZZZ", date("2024-03-07"), date("2024-03-12"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        provider.security("ZZZZ").await.unwrap(),
        None,
        "404 Ticker not found"
    );
}

#[tokio::test]
async fn polygon_grouped_daily_dates_bars_by_session_close() {
    let (server, provider) = polygon_on(polygon_api).await;
    let bars = provider
        .grouped_daily(date("2024-03-11"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bars.len(), 3);
    assert!(
        bars.iter().all(|b| b.date == date("2024-03-11")),
        "16:00 EDT is 20:00 UTC: still the 11th"
    );
    let brk = bars.iter().find(|b| b.symbol == "BRKB").unwrap();
    assert_eq!(brk.volume, dec!(3112.75));
    assert_eq!(server.requests()[0].param("adjusted"), Some("false"));
    // A session with no trading (a holiday) answers without results.
    let holiday = provider.grouped_daily(date("2024-03-29")).await.unwrap();
    assert_eq!(holiday, Some(vec![]));
}

#[tokio::test]
async fn polygon_grouped_daily_around_both_dst_changes() {
    // Session-close stamps on the last EST and first EDT sessions of November 2024 and
    // at 20:00 New York (already the next day in UTC).
    let (_server, provider) = polygon_on(|seen: &Seen| {
        let t = match seen.path.rsplit('/').next().unwrap() {
            "2024-11-01" => 1_730_491_200_000i64, // 16:00 EDT
            "2024-11-04" => 1_730_764_800_000i64, // 20:00 EST = 01:00 UTC on the 5th
            _ => 1_709_931_600_000i64,            // 2024-03-08 16:00 EST
        };
        Reply::json(format!(
            r#"{{"queryCount":1,"resultsCount":1,"adjusted":false,"results":[{{"T":"AAPL","v":1,"o":1,"c":1,"h":1,"l":1,"t":{t}}}],"status":"OK","request_id":"r","count":1}}"#
        ))
    })
    .await;
    for day in ["2024-11-01", "2024-11-04", "2024-03-08"] {
        let bars = provider.grouped_daily(date(day)).await.unwrap().unwrap();
        assert_eq!(bars[0].date, date(day));
    }
    // A stamp on another day than asked is rejected, naming provider, endpoint and symbol.
    let e = provider
        .grouped_daily(date("2024-03-11"))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, ProviderError::Malformed { .. })
            && text.contains("polygon")
            && text.contains("AAPL")
            && text.contains("grouped"),
        "{text}"
    );
}

#[tokio::test]
async fn polygon_reference_data() {
    let (server, provider) = polygon_on(polygon_api).await;
    let splits = aapl_splits_2020(&provider).await.unwrap();
    assert_eq!(
        (splits[0].date, splits[0].numerator, splits[0].denominator),
        (date("2020-08-31"), dec!(4), dec!(1))
    );
    let dividends = aapl_dividends_2020(&provider).await.unwrap();
    assert_eq!(
        (
            dividends[0].ex_date,
            dividends[0].amount,
            dividends[0].currency.as_str()
        ),
        (date("2020-08-07"), dec!(0.82), "USD")
    );
    let info = provider.security("AAPL").await.unwrap().unwrap();
    assert_eq!(info.name.as_deref(), Some("Apple Inc."));
    assert_eq!(info.exchange.as_deref(), Some("XNAS"));
    assert_eq!(info.listed_date, Some(date("1980-12-12")));
    let requests = server.requests();
    assert_eq!(requests[0].param("ticker"), Some("AAPL"));
    assert_eq!(requests[0].param("execution_date.gte"), Some("2020-01-01"));
    assert_eq!(
        requests[1].param("ex_dividend_date.lte"),
        Some("2020-12-31")
    );
}

#[tokio::test]
async fn polygon_reverse_split_is_one_for_eight() {
    let server = TestServer::start(|_: &Seen| {
        Reply::json(r#"{"results":[{"execution_date":"2023-05-01","split_from":8,"split_to":1,"ticker":"XYZ"}],"status":"OK","request_id":"r"}"#)
    })
    .await;
    let split = polygon(&server)
        .splits("XYZ", date("2023-01-01"), date("2023-12-31"))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((split.numerator, split.denominator), (dec!(1), dec!(8)));
}

#[tokio::test]
async fn fmp_bars_are_the_raw_non_split_adjusted_series_oldest_first() {
    let (server, provider) = fmp_on(fmp_api).await;
    let bars = aapl_bars_around_the_split(&provider).await.unwrap();
    let dates: Vec<_> = bars.iter().map(|b| b.date.to_string()).collect();
    assert_eq!(dates, ["2020-08-27", "2020-08-28", "2020-08-31"]);
    // Before the 4-for-1 split of 2020-08-31 the raw close is ~500, the adjusted one ~125.
    assert_eq!(bars[1].close, dec!(499.23));
    assert_eq!(
        (bars[1].open, bars[1].high, bars[1].low, bars[1].volume),
        (dec!(504.05), dec!(505.77), dec!(498.31), dec!(46907479))
    );
    assert_eq!(bars[2].close, dec!(129.04));
    let seen = &server.requests()[0];
    assert_eq!(seen.path, "/stable/historical-price-eod/non-split-adjusted");
    assert_eq!(
        (seen.param("symbol"), seen.param("from"), seen.param("to")),
        (Some("AAPL"), Some("2020-08-27"), Some("2020-08-31"))
    );
}

#[tokio::test]
async fn fmp_reference_data_keeps_declared_dividends() {
    let (_server, provider) = fmp_on(fmp_api).await;
    let splits = aapl_splits_2020(&provider).await.unwrap();
    assert_eq!(splits.len(), 1, "the 2014 split is outside the range");
    assert_eq!(
        (splits[0].numerator, splits[0].denominator),
        (dec!(4), dec!(1))
    );
    let dividends = aapl_dividends_2020(&provider).await.unwrap();
    // `dividend` (0.82 as paid before the split), not `adjDividend` (0.205).
    assert_eq!(
        (dividends[0].ex_date, dividends[0].amount),
        (date("2020-08-07"), dec!(0.82))
    );
    assert_eq!(dividends[1].amount, dec!(0.205));
    let info = provider.security("AAPL").await.unwrap().unwrap();
    assert_eq!(
        (
            info.exchange.as_deref(),
            info.sector.as_deref(),
            info.industry.as_deref()
        ),
        (
            Some("NASDAQ"),
            Some("Technology"),
            Some("Consumer Electronics")
        )
    );
    assert_eq!(provider.security("NOPE").await.unwrap(), None);
    assert!(provider
        .daily_bars("NOPE", date("2020-08-27"), date("2020-08-31"))
        .await
        .unwrap()
        .is_empty());
}

/// A server answering `first` for the first `n` requests, then the normal API.
fn flaky(n: usize, first: Reply, api: fn(&Seen) -> Reply) -> impl Fn(&Seen) -> Reply + Send + Sync {
    let count = AtomicUsize::new(0);
    move |seen: &Seen| {
        if count.fetch_add(1, Ordering::SeqCst) < n {
            first.clone()
        } else {
            api(seen)
        }
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let (_server, provider) = fmp_on(flaky(
        2,
        Reply::status(503, "upstream unavailable"),
        fmp_api,
    ))
    .await;
    let bars = aapl_bars_around_the_split(&provider).await.unwrap();
    assert_eq!(bars.len(), 3);
    let stats = provider.stats();
    assert_eq!((stats.http_calls, stats.retries), (3, 2));
}

#[tokio::test]
async fn permanent_server_errors_give_up_after_the_bounded_retries() {
    let (server, provider) = fmp_on(|_: &Seen| Reply::status(500, "boom")).await;
    let e = aapl_bars_around_the_split(&provider).await.unwrap_err();
    assert!(matches!(e, ProviderError::Transient { .. }), "{e}");
    assert_eq!(server.requests().len(), 1 + fast().max_retries);
    assert_no_key(&e.to_string());
}

/// Polygon answering `first` once, then normally: how long AAPL's 2020 splits took, and
/// the client's counters.
async fn polygon_splits_after(first: Reply) -> (Duration, ProviderStats) {
    let (_server, provider) = polygon_on(flaky(1, first, polygon_api)).await;
    let started = Instant::now();
    aapl_splits_2020(&provider).await.unwrap();
    (started.elapsed(), provider.stats())
}

#[tokio::test]
async fn rate_limited_with_retry_after_seconds_waits_that_long() {
    let (elapsed, stats) = polygon_splits_after(
        Reply::status(
            429,
            r#"{"status":"ERROR","error":"You've exceeded the maximum requests per minute"}"#,
        )
        .header("retry-after", "1"),
    )
    .await;
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After honoured: {elapsed:?}"
    );
    assert_eq!((stats.http_calls, stats.rate_limited), (2, 1));
}

#[tokio::test]
async fn rate_limited_with_retry_after_http_date() {
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let header = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let (elapsed, _) =
        polygon_splits_after(Reply::status(429, "{}").header("Retry-After", header)).await;
    // The header has whole seconds: at least one second remains.
    assert!(elapsed >= Duration::from_millis(1000), "{elapsed:?}");
}

#[tokio::test]
async fn rate_limited_without_retry_after_backs_off_and_succeeds() {
    let (_server, provider) = fmp_on(flaky(
        2,
        Reply::status(
            429,
            r#"{"Error Message": "Limit Reach . Please upgrade your plan"}"#,
        ),
        fmp_api,
    ))
    .await;
    assert_eq!(aapl_splits_2020(&provider).await.unwrap().len(), 1);
    let stats = provider.stats();
    assert_eq!(
        (stats.http_calls, stats.rate_limited, stats.retries),
        (3, 2, 2)
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_not_waited_for() {
    let (server, provider) =
        fmp_on(|_: &Seen| Reply::status(429, "{}").header("Retry-After", "86400")).await;
    let started = Instant::now();
    let e = aapl_splits_2020(&provider).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(86400)),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn timeouts_are_transient_and_retried() {
    let (_server, provider) = fmp_on(flaky(
        1,
        Reply::json("[]").after(Duration::from_secs(3)),
        fmp_api,
    ))
    .await;
    let bars = aapl_bars_around_the_split(&provider).await.unwrap();
    assert_eq!(bars.len(), 3, "the retry after the timeout answered");
    assert_eq!(provider.stats().retries, 1);

    let slow = TestServer::start(|_: &Seen| Reply::json("[]").after(Duration::from_secs(3))).await;
    let mut limits = fast();
    limits.timeout = Duration::from_millis(200);
    limits.max_retries = 1;
    let provider = FmpProvider::new(KEY, &slow.base_url, limits).unwrap();
    let e = aapl_bars_around_the_split(&provider).await.unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, ProviderError::Transient { .. }) && text.contains("timed out"),
        "{text}"
    );
    assert_no_key(&text);
}

#[tokio::test]
async fn bad_key_stops_the_provider_for_the_run() {
    let server = TestServer::start(fmp_api).await;
    let provider = FmpProvider::new("wrong-key", &server.base_url, fast()).unwrap();
    let e = aapl_bars_around_the_split(&provider).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Unauthorized { .. })
            && e.to_string().contains("Invalid API KEY"),
        "{e}"
    );
    assert!(!e.to_string().contains("wrong-key"));
    // No retry, and no further call for the rest of the run.
    assert!(matches!(
        aapl_splits_2020(&provider).await,
        Err(ProviderError::Unauthorized { .. })
    ));
    assert_eq!(server.requests().len(), 1);
    assert!(provider.stats().disabled.is_some());
}

#[tokio::test]
async fn plan_restriction_403_is_unauthorized() {
    let (server, provider) = polygon_on(|_: &Seen| {
        Reply::status(403, r#"{"status":"NOT_AUTHORIZED","request_id":"r","message":"You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"}"#)
    })
    .await;
    let e = provider
        .grouped_daily(date("2024-03-11"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Unauthorized { .. }) && e.to_string().contains("not entitled"),
        "{e}"
    );
    assert_eq!(server.requests().len(), 1);
    // Not asked again this run; the client does not drop the whole provider for it.
    let again = provider.grouped_daily(date("2024-03-12")).await;
    assert!(matches!(again, Err(ProviderError::Unauthorized { .. })));
    assert_eq!(server.requests().len(), 1);
    assert_eq!(provider.stats().disabled, None);
}

#[tokio::test]
async fn fmp_errors_inside_http_200_bodies_are_classified() {
    let answering = |body: &'static str| fmp_on(move |_: &Seen| Reply::json(body));
    let (_server, provider) =
        answering(r#"{"Error Message": "Invalid API KEY. Feel free to create a Free API Key"}"#)
            .await;
    let e = aapl_bars_around_the_split(&provider).await.unwrap_err();
    assert!(matches!(e, ProviderError::Unauthorized { .. }), "{e}");

    let (_server, provider) = answering(r#"{"Error Message": "Restricted Endpoint: This endpoint is not available under your current subscription"}"#).await;
    let e = provider.security("AAPL").await.unwrap_err();
    assert!(matches!(e, ProviderError::Unauthorized { .. }), "{e}");

    let (_server, provider) = answering(
        r#"{"Error Message": "Limit Reach . Please upgrade your plan or visit our documentation"}"#,
    )
    .await;
    let e = aapl_splits_2020(&provider).await.unwrap_err();
    assert!(matches!(e, ProviderError::RateLimited { .. }), "{e}");
    assert_eq!(provider.stats().http_calls as usize, 1 + fast().max_retries);

    let (_server, provider) = answering(r#"{"Error Message": "Something unexpected"}"#).await;
    let e = aapl_dividends_2020(&provider).await.unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, ProviderError::Malformed { .. })
            && text.contains("dividends")
            && text.contains("AAPL"),
        "{text}"
    );
}

#[tokio::test]
async fn truncated_or_misshapen_json_is_malformed_and_named() {
    let (server, provider) = fmp_on(|seen: &Seen| {
        if seen.path.contains("non-split-adjusted") {
            Reply::json(r#"[{"symbol": "AAPL", "date": "2020-08-31", "adjOpen": 127.58, "adjHi"#)
        } else {
            Reply::json(r#"[{"symbol": "AAPL", "date": "2020-08-31", "numerator": "four", "denominator": 1}]"#)
        }
    })
    .await;
    let e = aapl_bars_around_the_split(&provider).await.unwrap_err();
    match &e {
        ProviderError::Malformed {
            provider,
            endpoint,
            symbol,
            ..
        } => {
            assert_eq!(
                (*provider, endpoint.as_str(), symbol.as_str()),
                (
                    ProviderName::Fmp,
                    "historical-price-eod/non-split-adjusted",
                    "AAPL"
                )
            );
        }
        other => panic!("expected malformed, got {other}"),
    }
    assert_no_key(&e.to_string());
    let e = aapl_splits_2020(&provider).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Malformed { .. }) && e.to_string().contains("splits"),
        "{e}"
    );
    assert_eq!(
        server.requests().len(),
        2,
        "malformed answers are not retried"
    );

    let (_server, provider) = polygon_on(|_: &Seen| {
        Reply::json(
            r#"{"ticker":"AAPL","status":"OK","results":[{"v":1,"o":1,"c":1,"h":1,"l":1}]}"#,
        )
    })
    .await;
    let e = provider
        .daily_bars("AAPL", date("2024-03-07"), date("2024-03-12"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Malformed { .. }) && e.to_string().contains("missing field `t`"),
        "{e}"
    );
}

#[tokio::test]
async fn client_side_rate_limit_spaces_calls() {
    let server = TestServer::start(fmp_api).await;
    let mut limits = fast();
    limits.rate = RateLimit {
        requests: NonZeroU32::new(5).unwrap(),
        per: Duration::from_secs(1),
    };
    let provider = FmpProvider::new(KEY, &server.base_url, limits).unwrap();
    let started = Instant::now();
    for _ in 0..6 {
        aapl_splits_2020(&provider).await.unwrap();
    }
    // 5 a second, evenly spaced: the sixth call goes out a second after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(990),
        "{:?}",
        started.elapsed()
    );
}

// ---- the fallback chain ----

/// FMP then Polygon, each on a local server answering with its `api`.
async fn chain_on(
    fmp_api: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    polygon_api: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (TestServer, TestServer, ProviderChain) {
    let fmp_server = TestServer::start(fmp_api).await;
    let polygon_server = TestServer::start(polygon_api).await;
    let chain = ProviderChain::new(vec![
        Arc::new(fmp(&fmp_server)),
        Arc::new(polygon(&polygon_server)),
    ]);
    (fmp_server, polygon_server, chain)
}

/// Polygon alone, on a local server answering with `api`.
async fn polygon_chain_on(
    api: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (TestServer, ProviderChain) {
    let (server, provider) = polygon_on(api).await;
    (server, ProviderChain::new(vec![Arc::new(provider)]))
}

fn sessions(days: &[&str]) -> Vec<NaiveDate> {
    days.iter().map(|d| date(d)).collect()
}

fn symbols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Which provider supplied each bar.
fn suppliers(outcome: &BarsOutcome) -> Vec<ProviderName> {
    outcome.bars.iter().map(|b| b.provider).collect()
}

/// Polygon serving AAPL and MSFT bars on the March 2024 sessions, one call per symbol.
fn polygon_two_symbols(seen: &Seen) -> Reply {
    if seen.path.starts_with("/v2/aggs/ticker/MSFT/") {
        return Reply::json(
            r#"{"ticker":"MSFT","queryCount":1,"resultsCount":1,"adjusted":false,"results":[{"v":16120831,"vw":404.1931,"o":403.76,"c":404.52,"h":405.68,"l":401.26,"t":1710129600000,"n":281503}],"status":"OK","request_id":"r","count":1}"#,
        );
    }
    polygon_api(seen)
}

#[tokio::test]
async fn fallback_fills_unknown_symbols_and_missing_days_from_the_next_provider() {
    // FMP knows AAPL on the 7th and 8th only; it does not know MSFT.
    let fmp_bars_of_the_7th_and_8th = |seen: &Seen| match (seen.path.as_str(), seen.param("symbol"))
    {
        ("/stable/historical-price-eod/non-split-adjusted", Some("AAPL")) => Reply::json(
            r#"[{"symbol":"AAPL","date":"2024-03-08","adjOpen":169,"adjHigh":173.7,"adjLow":168.94,"adjClose":170.73,"volume":76114634},
                {"symbol":"AAPL","date":"2024-03-07","adjOpen":169.15,"adjHigh":170.73,"adjLow":168.49,"adjClose":169.12,"volume":102167383}]"#,
        ),
        _ => Reply::json("[]"),
    };
    let (_fmp_server, polygon_server, chain) =
        chain_on(fmp_bars_of_the_7th_and_8th, polygon_two_symbols).await;
    let wanted = sessions(&["2024-03-07", "2024-03-08", "2024-03-11", "2024-03-12"]);
    let outcome = chain.bars(&symbols(&["AAPL", "MSFT"]), &wanted).await;
    let got: Vec<_> = outcome
        .bars
        .iter()
        .map(|s| (s.row.symbol.as_str(), s.row.date.to_string(), s.provider))
        .collect();
    assert_eq!(
        got,
        [
            ("AAPL", "2024-03-07".to_owned(), ProviderName::Fmp),
            ("AAPL", "2024-03-08".to_owned(), ProviderName::Fmp),
            ("AAPL", "2024-03-11".to_owned(), ProviderName::Polygon),
            ("AAPL", "2024-03-12".to_owned(), ProviderName::Polygon),
            ("MSFT", "2024-03-11".to_owned(), ProviderName::Polygon),
        ]
    );
    // Polygon was asked only for what was missing.
    let aapl = polygon_server
        .requests()
        .into_iter()
        .find(|s| s.path.contains("/AAPL/"))
        .unwrap();
    assert_eq!(
        aapl.path,
        "/v2/aggs/ticker/AAPL/range/1/day/2024-03-11/2024-03-12"
    );
    assert_eq!(
        outcome.missing.get("MSFT").unwrap(),
        &sessions(&["2024-03-07", "2024-03-08", "2024-03-12"])
    );
    let stats = chain.stats();
    assert_eq!(
        (
            stats[0].provider.as_str(),
            stats[0].http_calls,
            stats[0].rows_supplied
        ),
        ("fmp", 2, 2)
    );
    assert_eq!(
        (stats[1].provider.as_str(), stats[1].rows_supplied),
        ("polygon", 3)
    );
}

#[tokio::test]
async fn fallback_after_permanent_server_errors() {
    let (_fmp_server, _polygon_server, chain) =
        chain_on(|_: &Seen| Reply::status(502, "bad gateway"), polygon_api).await;
    let outcome = chain
        .bars(
            &symbols(&["AAPL"]),
            &sessions(&["2024-03-07", "2024-03-08"]),
        )
        .await;
    assert_eq!(
        suppliers(&outcome),
        [ProviderName::Polygon, ProviderName::Polygon]
    );
    assert!(outcome.missing.is_empty());
    assert!(
        matches!(outcome.failures[..], [(ref symbol, ProviderError::Transient { .. })] if symbol == "AAPL")
    );
    let splits = chain
        .splits("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
        .unwrap();
    assert_eq!(splits.provider, ProviderName::Polygon);
    let info = chain.security("AAPL").await.unwrap().unwrap();
    assert_eq!(
        (info.provider, info.row.exchange.as_deref()),
        (ProviderName::Polygon, Some("XNAS"))
    );
    assert_eq!(
        chain.stats()[0].http_calls as usize,
        3 * (1 + fast().max_retries)
    );
}

#[tokio::test]
async fn fallback_drops_an_unauthorised_provider_for_the_run() {
    let fmp_server = TestServer::start(fmp_api).await;
    let polygon_server = TestServer::start(polygon_two_symbols).await;
    let chain = ProviderChain::new(vec![
        Arc::new(FmpProvider::new("expired", &fmp_server.base_url, fast()).unwrap()),
        Arc::new(polygon(&polygon_server)),
    ]);
    let outcome = chain
        .bars(&symbols(&["AAPL", "MSFT"]), &sessions(&["2024-03-11"]))
        .await;
    assert_eq!(
        suppliers(&outcome),
        [ProviderName::Polygon, ProviderName::Polygon]
    );
    let dividends = chain
        .dividends("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
        .unwrap();
    assert_eq!(dividends.provider, ProviderName::Polygon);
    let stats = chain.stats();
    assert!(
        stats[0]
            .disabled
            .as_deref()
            .unwrap()
            .contains("Invalid API KEY"),
        "{stats:?}"
    );
    // The two concurrent bar calls may both have gone out before the first 401 came back;
    // after that, nothing more.
    assert!(
        fmp_server.requests().len() <= 2,
        "{:?}",
        fmp_server.requests()
    );
    assert!(stats
        .iter()
        .all(|s| s.disabled.as_deref().is_none_or(|d| !d.contains("expired"))));
}

#[tokio::test]
async fn nightly_uses_one_grouped_call_per_session_when_cheaper() {
    let (polygon_server, chain) = polygon_chain_on(polygon_api).await;
    let symbols = symbols(&["AAPL", "MSFT", "BRKB", "NVDA"]);
    let outcome = chain.bars(&symbols, &sessions(&["2024-03-11"])).await;
    assert_eq!(
        polygon_server.requests().len(),
        1,
        "one grouped call for every symbol"
    );
    assert_eq!(outcome.bars.len(), 3);
    assert_eq!(
        outcome.missing.get("NVDA").unwrap(),
        &sessions(&["2024-03-11"])
    );
    // One symbol over several sessions: one ranged call instead.
    let (polygon_server, chain) = polygon_chain_on(polygon_api).await;
    let outcome = chain
        .bars(
            &symbols[..1],
            &sessions(&["2024-03-07", "2024-03-08", "2024-03-11"]),
        )
        .await;
    assert_eq!(outcome.bars.len(), 3);
    assert!(polygon_server
        .requests()
        .iter()
        .all(|s| s.path.starts_with("/v2/aggs/ticker/AAPL/")));
}

#[tokio::test]
async fn no_usable_provider_is_a_clear_error() {
    let fmp_server = TestServer::start(fmp_api).await;
    let polygon_server = TestServer::start(polygon_api).await;
    let chain = ProviderChain::new(vec![
        Arc::new(FmpProvider::new("bad", &fmp_server.base_url, fast()).unwrap()),
        Arc::new(PolygonProvider::new("bad", &polygon_server.base_url, fast()).unwrap()),
    ]);
    let e = chain
        .splits("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("splits of AAPL")
            && text.contains("fmp: not authorised")
            && text.contains("polygon: not authorised"),
        "{text}"
    );
    let e = chain.security("AAPL").await.unwrap_err();
    assert!(e.to_string().contains("every provider is disabled"), "{e}");
}

/// Polygon listing every ticker's splits and dividends when no `ticker` is given.
fn polygon_listings(seen: &Seen) -> Reply {
    match (seen.path.as_str(), seen.param("ticker")) {
        ("/v3/reference/splits", None) => Reply::json(
            r#"{"results":[{"execution_date":"2024-06-10","id":"a","split_from":1,"split_to":10,"ticker":"NVDA"},
                           {"execution_date":"2024-06-12","id":"b","split_from":20,"split_to":1,"ticker":"OTHER"}],"status":"OK","request_id":"r"}"#,
        ),
        ("/v3/reference/dividends", None) if seen.param("cursor").is_none() => Reply::json(
            r#"{"results":[{"cash_amount":0.25,"currency":"USD","dividend_type":"CD","ex_dividend_date":"2024-05-10","frequency":4,"ticker":"AAPL"}],
                "status":"OK","request_id":"r","next_url":"https://api.polygon.io/v3/reference/dividends?cursor=page2"}"#,
        ),
        ("/v3/reference/dividends", None) => Reply::json(
            r#"{"results":[{"cash_amount":0.75,"currency":"USD","dividend_type":"CD","ex_dividend_date":"2024-05-15","frequency":4,"ticker":"MSFT"},
                           {"cash_amount":1.1,"currency":"USD","dividend_type":"CD","ex_dividend_date":"2024-05-15","frequency":4,"ticker":"OTHER"}],"status":"OK","request_id":"r"}"#,
        ),
        _ => polygon_api(seen),
    }
}

#[tokio::test]
async fn corporate_actions_of_the_universe_come_from_one_listing() {
    let (polygon_server, chain) = polygon_chain_on(polygon_listings).await;
    let symbols = symbols(&["AAPL", "MSFT", "NVDA"]);
    let splits = chain
        .splits_many(&symbols, date("2024-01-01"), date("2024-06-30"))
        .await;
    let got: Vec<_> = splits
        .rows
        .iter()
        .map(|s| {
            (
                s.row.symbol.as_str(),
                s.row.numerator,
                s.row.denominator,
                s.provider,
            )
        })
        .collect();
    assert_eq!(
        got,
        [("NVDA", dec!(10), dec!(1), ProviderName::Polygon)],
        "OTHER is not ours"
    );
    let dividends = chain
        .dividends_many(&symbols, date("2024-01-01"), date("2024-06-30"))
        .await;
    let got: Vec<_> = dividends
        .rows
        .iter()
        .map(|d| (d.row.symbol.as_str(), d.row.amount))
        .collect();
    assert_eq!(got, [("AAPL", dec!(0.25)), ("MSFT", dec!(0.75))]);
    let requests = polygon_server.requests();
    assert_eq!(
        requests.len(),
        3,
        "one splits listing, two dividend pages: {requests:?}"
    );
    assert!(requests
        .iter()
        .all(|r| r.param("ticker").is_none() && r.param("apiKey") == Some(KEY)));
    assert_eq!(requests[0].param("execution_date.gte"), Some("2024-01-01"));
}

#[tokio::test]
async fn fmp_calendars_are_asked_in_90_day_windows_and_fall_back_when_restricted() {
    let fmp_calendars = |seen: &Seen| match seen.path.as_str() {
        "/stable/dividends-calendar" => Reply::json(format!(
            r#"[{{"symbol":"AAPL","date":"{}","recordDate":"","paymentDate":"","declarationDate":"","adjDividend":0.06,"dividend":0.24,"yield":0.5,"frequency":"Quarterly"}},
                {{"symbol":"ZZZ","date":"{}","adjDividend":1,"dividend":1,"yield":1,"frequency":"Quarterly"}}]"#,
            seen.param("from").unwrap(),
            seen.param("to").unwrap()
        )),
        "/stable/splits-calendar" => Reply::status(
            402,
            r#"{"Error Message": "Restricted Endpoint: This endpoint is not available under your current subscription please visit our subscription page to upgrade your plan"}"#,
        ),
        _ => fmp_api(seen),
    };
    let (fmp_server, _polygon_server, chain) = chain_on(fmp_calendars, polygon_listings).await;
    let symbols = symbols(&["AAPL", "NVDA"]);
    let dividends = chain
        .dividends_many(&symbols, date("2024-01-01"), date("2024-06-28"))
        .await;
    let windows: Vec<_> = fmp_server
        .requests()
        .iter()
        .map(|r| {
            (
                r.param("from").unwrap().to_owned(),
                r.param("to").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        windows,
        [
            ("2024-01-01".to_owned(), "2024-03-30".to_owned()),
            ("2024-03-31".to_owned(), "2024-06-28".to_owned())
        ]
    );
    let got: Vec<_> = dividends
        .rows
        .iter()
        .map(|d| {
            (
                d.row.symbol.as_str(),
                d.row.ex_date,
                d.row.amount,
                d.provider,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("AAPL", date("2024-01-01"), dec!(0.24), ProviderName::Fmp),
            ("AAPL", date("2024-03-31"), dec!(0.24), ProviderName::Fmp)
        ],
        "the declared dividend, not adjDividend; ZZZ is not ours"
    );
    // FMP's plan has no splits calendar: Polygon's listing answers, and FMP stays in use
    // for what its plan covers; the calendar is not asked again.
    let splits = chain
        .splits_many(&symbols, date("2024-01-01"), date("2024-06-30"))
        .await;
    assert_eq!(splits.rows.len(), 1);
    assert_eq!(
        (splits.rows[0].provider, splits.rows[0].row.symbol.as_str()),
        (ProviderName::Polygon, "NVDA")
    );
    assert_eq!(chain.stats()[0].disabled, None);
    let again = chain
        .splits_many(&symbols, date("2024-01-01"), date("2024-06-30"))
        .await;
    assert_eq!(again.rows.len(), 1);
    let fmp_calendar_calls = fmp_server
        .requests()
        .iter()
        .filter(|r| r.path == "/stable/splits-calendar")
        .count();
    assert_eq!(fmp_calendar_calls, 1);
    let bars = chain.bars(&symbols[..1], &sessions(&["2020-08-28"])).await;
    assert_eq!(bars.bars[0].provider, ProviderName::Fmp);
}

#[tokio::test]
async fn one_symbol_asks_per_symbol() {
    let (fmp_server, polygon_server, chain) = chain_on(fmp_api, polygon_api).await;
    let splits = chain
        .splits_many(&symbols(&["AAPL"]), date("2020-01-01"), date("2020-12-31"))
        .await;
    assert_eq!(splits.rows.len(), 1);
    assert_eq!(fmp_server.requests()[0].path, "/stable/splits");
    assert!(polygon_server.requests().is_empty());
}

#[tokio::test]
async fn a_symbol_outside_the_plan_falls_back_for_that_symbol_only() {
    let fmp_without_msft = |seen: &Seen| match seen.param("symbol") {
        Some("MSFT") => Reply::status(
            402,
            r#"{"Error Message": "Premium Query Parameter: This value set for 'symbol' is not available under your current subscription please visit our subscription page to upgrade your plan at https://site.financialmodelingprep.com/developer/docs/pricing"}"#,
        ),
        _ => fmp_api(seen),
    };
    let (_fmp_server, _polygon_server, chain) =
        chain_on(fmp_without_msft, polygon_two_symbols).await;
    let outcome = chain
        .bars(&symbols(&["MSFT"]), &sessions(&["2024-03-11"]))
        .await;
    assert_eq!(outcome.bars[0].provider, ProviderName::Polygon);
    assert!(
        matches!(outcome.failures[..], [(ref s, ProviderError::Unauthorized { .. })] if s == "MSFT"),
        "{:?}",
        outcome.failures
    );
    // FMP is still used for what its plan covers, on the same endpoint.
    let outcome = chain
        .bars(&symbols(&["AAPL"]), &sessions(&["2020-08-28"]))
        .await;
    assert_eq!(
        (outcome.bars[0].provider, outcome.bars[0].row.close),
        (ProviderName::Fmp, dec!(499.23))
    );
    assert_eq!(chain.stats()[0].disabled, None);
}

/// FMP writes share classes with a dash: BRK.B is asked for as BRK-B and comes back as
/// BRK.B, from the per-symbol endpoints and from the calendars alike.
#[tokio::test]
async fn fmp_share_classes_are_asked_with_a_dash_and_stored_with_a_dot() {
    let (_server, provider) = fmp_on(|seen: &Seen| {
        if seen.param("apikey") != Some(KEY) {
            return Reply::status(401, r#"{"Error Message": "Invalid API KEY."}"#);
        }
        match (seen.path.as_str(), seen.param("symbol")) {
            ("/stable/historical-price-eod/non-split-adjusted", Some("BRK-B")) => Reply::json(
                r#"[{"symbol": "BRK-B", "date": "2024-03-11", "adjOpen": 410.1, "adjHigh": 412.5, "adjLow": 408, "adjClose": 411.2, "volume": 3021845}]"#,
            ),
            ("/stable/profile", Some("BRK-B")) => Reply::json(
                r#"[{"symbol": "BRK-B", "companyName": "Berkshire Hathaway Inc.", "exchange": "NYSE", "sector": "Financial Services", "industry": "Insurance - Diversified", "ipoDate": "1996-05-09"}]"#,
            ),
            ("/stable/splits-calendar", None) => Reply::json(
                r#"[{"symbol": "BRK-B", "date": "2010-01-21", "numerator": 50, "denominator": 1}]"#,
            ),
            _ => Reply::json("[]"),
        }
    })
    .await;
    let bars = provider
        .daily_bars("BRK.B", date("2024-03-11"), date("2024-03-11"))
        .await
        .unwrap();
    assert_eq!(
        bars.iter()
            .map(|b| (b.symbol.as_str(), b.close))
            .collect::<Vec<_>>(),
        [("BRK.B", dec!(411.2))]
    );
    let info = provider
        .security("BRK.B")
        .await
        .unwrap()
        .expect("a profile");
    assert_eq!(
        (info.symbol.as_str(), info.name.as_deref()),
        ("BRK.B", Some("Berkshire Hathaway Inc."))
    );
    let splits = provider
        .all_splits(date("2010-01-01"), date("2010-03-31"))
        .await
        .unwrap()
        .expect("FMP lists splits by date");
    assert_eq!(
        splits
            .iter()
            .map(|s| (s.symbol.as_str(), s.date, s.numerator, s.denominator))
            .collect::<Vec<_>>(),
        [("BRK.B", date("2010-01-21"), dec!(50), dec!(1))]
    );
}
