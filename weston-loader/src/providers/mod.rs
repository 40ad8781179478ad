//! Where market data comes from. Every provider hands back raw (unadjusted) values in
//! these types; the loader validates and stores them with the provider's name.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::time::Duration;

use crate::cli::ProviderName;
use crate::LoaderError;

pub mod mock;

pub mod fallback;
pub mod fmp;
pub mod http;
mod json;
pub mod polygon;

pub use fallback::{ActionsOutcome, BarsOutcome, ChainError, ProviderChain, Sourced};
pub use fmp::FmpProvider;
pub use http::{HttpLimits, ProviderStats, RateLimit};

pub use polygon::PolygonProvider;

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
    Unauthorized {
        provider: ProviderName,
        message: String,
    },
    /// Rate limited: wait (for `retry_after` when the provider said) and try again.
    #[error("{provider}: rate limited")]
    RateLimited {
        provider: ProviderName,
        retry_after: Option<Duration>,
    },
    /// Timeouts, 5xx, connection resets: retry a bounded number of times.
    #[error("{provider}: transient failure: {message}")]
    Transient {
        provider: ProviderName,
        message: String,
    },
    /// The payload is not what the provider documents: reject it.
    #[error("{provider}: malformed payload from {endpoint} for {symbol}: {message}")]
    Malformed {
        provider: ProviderName,
        endpoint: String,
        symbol: String,
        message: String,
    },
}

impl ProviderError {
    /// The provider that failed.
    pub fn provider(&self) -> ProviderName {
        match self {
            ProviderError::Unauthorized { provider, .. }
            | ProviderError::RateLimited { provider, .. }
            | ProviderError::Transient { provider, .. }
            | ProviderError::Malformed { provider, .. } => *provider,
        }
    }
}

/// A source of daily bars, corporate actions and security metadata.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> ProviderName;

    /// Symbols to start an empty universe with, for a provider that defines its own
    /// market (the mock); real providers leave the universe to the operator (`--symbols`).
    fn seed_universe(&self) -> Option<Vec<String>> {
        None
    }

    /// Raw daily bars of `symbol` for trading days in `[from, to]`, oldest first.
    /// An unknown symbol gives an empty list.
    async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyBar>, ProviderError>;

    /// Every symbol's bar for one session in one call (Polygon's grouped daily), where
    /// the provider has such an endpoint; `None` where it does not.
    async fn grouped_daily(
        &self,
        _date: NaiveDate,
    ) -> Result<Option<Vec<DailyBar>>, ProviderError> {
        Ok(None)
    }

    /// Whether `grouped_daily` answers (so a caller can count the calls before choosing).
    fn has_grouped_daily(&self) -> bool {
        false
    }

    /// Whether `error` (an `Unauthorized` one) means nothing more can be asked this run.
    /// A provider that can tell a refused key from a refused endpoint or parameter says so.
    fn unusable_after(&self, _error: &ProviderError) -> bool {
        true
    }

    /// HTTP calls and rows so far (zero for a provider without HTTP).
    fn stats(&self) -> ProviderStats {
        ProviderStats {
            provider: self.name().as_str().to_owned(),
            ..ProviderStats::default()
        }
    }

    /// Splits of `symbol` with ex-date in `[from, to]`.
    async fn splits(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Split>, ProviderError>;

    /// Cash dividends of `symbol` with ex-date in `[from, to]`.
    async fn dividends(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Dividend>, ProviderError>;

    /// Splits of every symbol with ex-date in `[from, to]` in a few calls (a listing by
    /// date), where the provider has one; `None` where it does not.
    async fn all_splits(
        &self,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Result<Option<Vec<Split>>, ProviderError> {
        Ok(None)
    }

    /// Cash dividends of every symbol with ex-date in `[from, to]`, like `all_splits`.
    async fn all_dividends(
        &self,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Result<Option<Vec<Dividend>>, ProviderError> {
        Ok(None)
    }

    /// Security metadata; `None` for a symbol the provider does not know.
    async fn security(&self, symbol: &str) -> Result<Option<SecurityInfo>, ProviderError>;
}

/// How many symbols the mock market has (MOCK0001…): `WESTON_MOCK_SYMBOLS`, default 750.
pub const MOCK_SYMBOLS_ENV: &str = "WESTON_MOCK_SYMBOLS";

/// The one place where providers are constructed from `--provider` and the environment.
/// Without `--provider`: `fmp,polygon` among those with an API key; the mock only when named.
pub fn build(requested: &[ProviderName]) -> Result<Vec<std::sync::Arc<dyn Provider>>, LoaderError> {
    let names: Vec<ProviderName> = if requested.is_empty() {
        let found: Vec<ProviderName> = [
            (ProviderName::Fmp, "FMP_API_KEY"),
            (ProviderName::Polygon, "POLYGON_API_KEY"),
        ]
        .into_iter()
        .filter(|(_, var)| http::env_value(var).is_some())
        .map(|(name, _)| name)
        .collect();
        if found.is_empty() {
            return Err(LoaderError::Config(
                "no market-data provider: set FMP_API_KEY and/or POLYGON_API_KEY (environment or \
                 .env.local), or pass --provider mock for deterministic demo data"
                    .into(),
            ));
        }
        found
    } else {
        let mut unique = Vec::new();
        for name in requested {
            if !unique.contains(name) {
                unique.push(*name);
            }
        }
        unique
    };
    names
        .into_iter()
        .map(|name| -> Result<std::sync::Arc<dyn Provider>, LoaderError> {
            match name {
                ProviderName::Mock => {
                    let universe = match std::env::var(MOCK_SYMBOLS_ENV) {
                        Err(_) => 750,
                        Ok(v) => v.trim().parse::<usize>().ok().filter(|n| (1..=9999).contains(n)).ok_or_else(|| {
                            LoaderError::Config(format!("{MOCK_SYMBOLS_ENV}={v:?}: expected a number of symbols from 1 to 9999"))
                        })?,
                    };
                    Ok(std::sync::Arc::new(mock::MockProvider::new(universe)))
                }
                ProviderName::Fmp => match FmpProvider::from_env() {
                    Some(built) => Ok(std::sync::Arc::new(built.map_err(LoaderError::Config)?)),
                    None => Err(LoaderError::Config(
                        "--provider fmp needs FMP_API_KEY (environment or .env.local)".into(),
                    )),
                },
                ProviderName::Polygon => match PolygonProvider::from_env() {
                    Some(built) => Ok(std::sync::Arc::new(built.map_err(LoaderError::Config)?)),
                    None => Err(LoaderError::Config(
                        "--provider polygon needs POLYGON_API_KEY (environment or .env.local)"
                            .into(),
                    )),
                },
            }
        })
        .collect()
}
