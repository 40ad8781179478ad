//! What the provider tests share: the loader's provider types (imported from the loader
//! here only, so a moved module is fixed in one place), limits scaled down to milliseconds,
//! clients of the fake servers holding KEY, and AAPL's requests around its 2020 split.

// Each test file uses part of this module and of its re-exports.
#![allow(dead_code, unused_imports)]

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
pub use fake_providers::{Reply, Seen, TestServer};
pub use weston_loader::model::ProviderName;
use weston_loader::providers::http::DEFAULT_MAX_BODY_BYTES;
pub use weston_loader::providers::{
    BarsOutcome, DailyBar, Dividend, FmpProvider, HttpLimits, PolygonProvider, Provider,
    ProviderChain, ProviderError, ProviderStats, RateLimit, Split,
};

pub const KEY: &str = "k3y-S3CRET";

pub fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

pub fn fast() -> HttpLimits {
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
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    }
}

pub fn polygon(server: &TestServer) -> PolygonProvider {
    PolygonProvider::new(KEY, &server.base_url, fast()).unwrap()
}

pub fn fmp(server: &TestServer) -> FmpProvider {
    FmpProvider::new(KEY, &server.base_url, fast()).unwrap()
}

/// A local server answering with `api`, and a Polygon client of it.
pub async fn polygon_on(
    api: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (TestServer, PolygonProvider) {
    let server = TestServer::start(api).await;
    let provider = polygon(&server);
    (server, provider)
}

/// A local server answering with `api`, and an FMP client of it.
pub async fn fmp_on(
    api: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (TestServer, FmpProvider) {
    let server = TestServer::start(api).await;
    let provider = fmp(&server);
    (server, provider)
}

/// AAPL around its 4-for-1 split of 2020-08-31 (the days of the FMP fixture).
pub async fn aapl_bars_around_the_split(
    provider: &impl Provider,
) -> Result<Vec<DailyBar>, ProviderError> {
    provider
        .daily_bars("AAPL", date("2020-08-27"), date("2020-08-31"))
        .await
}

pub async fn aapl_splits_2020(provider: &impl Provider) -> Result<Vec<Split>, ProviderError> {
    provider
        .splits("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
}

pub async fn aapl_dividends_2020(provider: &impl Provider) -> Result<Vec<Dividend>, ProviderError> {
    provider
        .dividends("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
}

pub fn assert_no_key(text: &str) {
    assert!(!text.contains(KEY), "the API key leaked: {text}");
}

/// Polygon as documented, for a client holding KEY.
pub fn polygon_api(seen: &Seen) -> Reply {
    fake_providers::polygon::polygon_api(KEY, seen)
}

/// FMP `/stable` as documented, for a client holding KEY.
pub fn fmp_api(seen: &Seen) -> Reply {
    fake_providers::fmp::fmp_api(KEY, seen)
}

/// A server answering `first` for the first `n` requests, then the normal API.
pub fn flaky(
    n: usize,
    first: Reply,
    api: fn(&Seen) -> Reply,
) -> impl Fn(&Seen) -> Reply + Send + Sync {
    let count = AtomicUsize::new(0);
    move |seen: &Seen| {
        if count.fetch_add(1, Ordering::SeqCst) < n {
            first.clone()
        } else {
            api(seen)
        }
    }
}
