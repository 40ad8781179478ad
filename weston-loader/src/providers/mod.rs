//! Where market data comes from. Every provider hands back raw (unadjusted) values in
//! these types; the loader validates and stores them with the provider's name.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::time::Duration;

use crate::cli::ProviderName;

/// One raw daily bar, as traded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyBar {
    pub symbol: String,
    pub date: NaiveDate,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub vwap: Option<Decimal>,
}

/// A split by ex-date: `numerator`-for-`denominator` (4-for-1 is (4, 1)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub symbol: String,
    pub date: NaiveDate,
    pub numerator: Decimal,
    pub denominator: Decimal,
}

/// Cash per share paid on `ex_date`, as declared (not split-adjusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dividend {
    pub symbol: String,
    pub ex_date: NaiveDate,
    pub amount: Decimal,
    pub currency: String,
}

/// A row of `securities`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityInfo {
    pub symbol: String,
    pub name: Option<String>,
    pub exchange: Option<String>,
    pub sector: Option<String>,
    pub industry: Option<String>,
    pub listed_date: Option<NaiveDate>,
    pub delisted_date: Option<NaiveDate>,
}

/// How a provider call failed; the loader's reaction depends on the kind.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Bad key or plan restriction: stop using this provider for the run.
    #[error("{provider}: not authorised ({message})")]
    Unauthorized { provider: ProviderName, message: String },
    /// Rate limited: wait (for `retry_after` when the provider said) and try again.
    #[error("{provider}: rate limited")]
    RateLimited { provider: ProviderName, retry_after: Option<Duration> },
    /// Timeouts, 5xx, connection resets: retry a bounded number of times.
    #[error("{provider}: transient failure: {message}")]
    Transient { provider: ProviderName, message: String },
    /// The payload is not what the provider documents: reject it.
    #[error("{provider}: malformed payload from {endpoint} for {symbol}: {message}")]
    Malformed { provider: ProviderName, endpoint: String, symbol: String, message: String },
}

/// A source of daily bars, corporate actions and security metadata.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> ProviderName;

    /// Raw daily bars of `symbol` for trading days in `[from, to]`, oldest first.
    /// An unknown symbol gives an empty list.
    async fn daily_bars(&self, symbol: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<DailyBar>, ProviderError>;

    /// Every symbol's bar for one session in one call (Polygon's grouped daily), where
    /// the provider has such an endpoint; `None` where it does not.
    async fn grouped_daily(&self, _date: NaiveDate) -> Result<Option<Vec<DailyBar>>, ProviderError> {
        Ok(None)
    }

    /// Splits of `symbol` with ex-date in `[from, to]`.
    async fn splits(&self, symbol: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<Split>, ProviderError>;

    /// Cash dividends of `symbol` with ex-date in `[from, to]`.
    async fn dividends(&self, symbol: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<Dividend>, ProviderError>;

    /// Security metadata; `None` for a symbol the provider does not know.
    async fn security(&self, symbol: &str) -> Result<Option<SecurityInfo>, ProviderError>;
}
