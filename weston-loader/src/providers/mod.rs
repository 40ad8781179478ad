//! Where market data comes from. Every provider hands back raw (unadjusted) values in
//! these types; the loader validates and stores them with the provider's name.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use reqwest::Url;

use crate::LoaderError;

pub mod fallback;
pub mod fmp;
pub mod http;
mod json;
pub mod mock;
pub mod polygon;

use crate::model::ProviderName;
pub use crate::model::{
    DailyBar, Dividend, LifeEvent, LifeListing, ProviderStats, SecurityInfo, Sourced, Split,
    TickerIdentity,
};
pub use fallback::{ActionsOutcome, BarsOutcome, ChainError, ProviderChain};
pub use fmp::FmpProvider;
pub use http::{HttpLimits, RateLimit};
pub use polygon::PolygonProvider;

/// How a provider call failed; the loader's reaction depends on the kind.
#[derive(Debug, Clone, thiserror::Error)]
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

    /// Why nothing more can be asked of this provider this run (its key was refused);
    /// `None` while it is usable. The provider's client is the one place that knows.
    fn disabled(&self) -> Option<String> {
        None
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

    /// Ticker changes and delistings of every ticker effective in `[from, to]`, in a few
    /// calls (a listing), where the provider has one; `None` where it does not.
    async fn life_events(
        &self,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Result<Option<LifeListing>, ProviderError> {
        Ok(None)
    }

    /// Whether `ticker_identity` answers (one ticker investigated at a time).
    fn has_ticker_identity(&self) -> bool {
        false
    }

    /// The security holding `symbol` now (or that held it last): identifiers, first and
    /// last day, and its new ticker after a change; `None` for a ticker it does not know.
    async fn ticker_identity(
        &self,
        _symbol: &str,
    ) -> Result<Option<TickerIdentity>, ProviderError> {
        Ok(None)
    }

    /// Security metadata; `None` for a symbol the provider does not know.
    async fn security(&self, symbol: &str) -> Result<Option<SecurityInfo>, ProviderError>;
}

/// Everything the providers are built from, parsed by the command line.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub fmp_key: Option<String>,
    pub polygon_key: Option<String>,
    pub fmp_base_url: Url,
    pub polygon_base_url: Url,
    pub fmp_limits: HttpLimits,
    pub polygon_limits: HttpLimits,
    pub mock_symbols: usize,
    pub mock_planted_errors: bool,
}

impl ProviderSettings {
    /// The mock market of `mock_symbols` symbols alone: no keys, the providers' own
    /// addresses and limits (an in-process run that names `--provider mock`).
    pub fn mock_market(mock_symbols: usize) -> ProviderSettings {
        let limits = || HttpLimits::with_rate(RateLimit::per_minute(60));
        ProviderSettings {
            fmp_key: None,
            polygon_key: None,
            fmp_base_url: Url::parse(FmpProvider::DEFAULT_BASE_URL).expect("FMP's address"),
            polygon_base_url: Url::parse(PolygonProvider::DEFAULT_BASE_URL)
                .expect("Polygon's address"),
            fmp_limits: limits(),
            polygon_limits: limits(),
            mock_symbols,
            mock_planted_errors: false,
        }
    }
}

/// The one place where providers are constructed from `--provider` and the settings.
/// Without `--provider`: `fmp,polygon` among those with an API key; the mock only when named.
pub fn build(
    requested: &[ProviderName],
    settings: &ProviderSettings,
) -> Result<Vec<Arc<dyn Provider>>, LoaderError> {
    let names: Vec<ProviderName> = if requested.is_empty() {
        let found: Vec<ProviderName> = [
            (ProviderName::Fmp, &settings.fmp_key),
            (ProviderName::Polygon, &settings.polygon_key),
        ]
        .into_iter()
        .filter(|(_, key)| key.is_some())
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
    // A keyed provider's key (or the error naming its variable), base URL and limits.
    let access = |name: ProviderName| {
        let (key, var, base_url, limits) = match name {
            ProviderName::Fmp => (
                &settings.fmp_key,
                "FMP_API_KEY",
                &settings.fmp_base_url,
                &settings.fmp_limits,
            ),
            ProviderName::Polygon => (
                &settings.polygon_key,
                "POLYGON_API_KEY",
                &settings.polygon_base_url,
                &settings.polygon_limits,
            ),
            ProviderName::Mock => unreachable!("the mock provider has no key"),
        };
        let key = key.clone().ok_or_else(|| {
            LoaderError::Config(format!(
                "--provider {name} needs {var} (environment or .env.local)"
            ))
        })?;
        Ok::<_, LoaderError>((key, base_url.as_str(), limits.clone()))
    };
    names
        .into_iter()
        .map(|name| -> Result<Arc<dyn Provider>, LoaderError> {
            Ok(match name {
                ProviderName::Mock => Arc::new(
                    mock::MockProvider::new(settings.mock_symbols)
                        .with_planted_errors(settings.mock_planted_errors),
                ),
                ProviderName::Fmp => {
                    let (key, base_url, limits) = access(name)?;
                    Arc::new(FmpProvider::new(key, base_url, limits).map_err(LoaderError::Config)?)
                }
                ProviderName::Polygon => {
                    let (key, base_url, limits) = access(name)?;
                    Arc::new(
                        PolygonProvider::new(key, base_url, limits).map_err(LoaderError::Config)?,
                    )
                }
            })
        })
        .collect()
}
