//! The providers' shared HTTP client, through FMP and Polygon clients of local servers
//! injecting faults: retries of server errors and timeouts, rate limiting (Retry-After in
//! seconds or as a date, backoff without it, a daily quota not waited for), malformed
//! answers named and never retried, client-side call spacing. Backoffs and limits are
//! scaled down to milliseconds.

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use common::{
    aapl_bars_around_the_split, aapl_splits_2020, assert_no_key, date, fast, flaky, fmp_api,
    fmp_on, polygon_api, polygon_on, FmpProvider, Provider, ProviderError, ProviderName,
    ProviderStats, RateLimit, Reply, Seen, TestServer, KEY,
};

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
