//! Financial Modeling Prep, the `/stable` API: raw end-of-day bars, splits, dividends and
//! company profiles. The key goes in the `apikey` parameter.
//!
//! `historical-price-eod/non-split-adjusted` names its fields `adjOpen` … `adjClose`, yet
//! they hold the prices as traded (not split-adjusted): that endpoint is the raw series.
//! The split-adjusted one is `historical-price-eod/full` (`open` … `close`), never used here.

use chrono::NaiveDate;
use reqwest::Url;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::http::{join_url, keyed_api, ApiSpec, BodyProblem, HttpClient, HttpLimits, Refusal};
use super::json::{decimal, opt_date};
use super::{Provider, ProviderError};
use crate::model::{
    DailyBar, Dividend, LifeListing, ProviderName, ProviderStats, SecurityInfo, Split,
};

mod life;

/// Calendar endpoints answer at most this many days per call.
const CALENDAR_WINDOW_DAYS: i64 = 90;

pub struct FmpProvider {
    http: HttpClient,
    base: Url,
}

static API: ApiSpec = ApiSpec {
    provider: ProviderName::Fmp,
    key_param: "apikey",
    body_check: body_problem,
    refusal: fmp_refusal,
};

impl FmpProvider {
    pub const DEFAULT_BASE_URL: &'static str = "https://financialmodelingprep.com";

    pub fn new(
        api_key: impl Into<String>,
        base_url: &str,
        limits: HttpLimits,
    ) -> Result<Self, String> {
        let (http, base) = keyed_api(&API, "the FMP base URL", api_key.into(), base_url, limits)?;
        Ok(FmpProvider { http, base })
    }

    fn url(&self, endpoint: &str, query: &[(&str, &str)]) -> Url {
        join_url(
            &self.base,
            std::iter::once("stable").chain(endpoint.split('/')),
            query,
        )
    }

    /// A JSON array answer. FMP answers `[]` for a symbol without rows (or unknown to it);
    /// a 404 means the endpoint is missing and is an error, never an empty answer.
    async fn list<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        symbol: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, ProviderError> {
        let url = self.url(endpoint, query);
        self.http.get_json::<Vec<T>>(url, endpoint, symbol).await
    }
    /// A calendar listing (every symbol) over `[from, to]`, asked in windows of at most
    /// CALENDAR_WINDOW_DAYS days, the longest range the calendars answer.
    async fn calendar<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<T>, ProviderError> {
        let mut rows = Vec::new();
        let mut start = from;
        while start <= to {
            let end = to.min(start + chrono::Duration::days(CALENDAR_WINDOW_DAYS - 1));
            let (a, b) = (start.to_string(), end.to_string());
            rows.extend(
                self.list::<T>(endpoint, "*", &[("from", &a), ("to", &b)])
                    .await?,
            );
            start = end + chrono::Duration::days(1);
        }
        Ok(rows)
    }

    /// The symbol of a row: the one asked for, or the row's own in a calendar.
    fn row_symbol(
        &self,
        endpoint: &str,
        asked: Option<&str>,
        row: Option<String>,
    ) -> Result<String, ProviderError> {
        match (asked, row) {
            (Some(asked), _) => Ok(asked.to_owned()),
            (None, Some(row)) if !row.trim().is_empty() => Ok(stored_symbol(&row)),
            (None, _) => Err(self
                .http
                .malformed(endpoint, "*", "a row without its symbol")),
        }
    }

    fn to_splits(
        &self,
        endpoint: &str,
        asked: Option<&str>,
        rows: Vec<FmpSplit>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Split>, ProviderError> {
        let mut splits = Vec::new();
        for row in rows.into_iter().filter(|r| (from..=to).contains(&r.date)) {
            // Values are checked by validation, which rejects a bad row and keeps the rest.
            splits.push(Split {
                symbol: self.row_symbol(endpoint, asked, row.symbol)?,
                date: row.date,
                numerator: row.numerator,
                denominator: row.denominator,
            });
        }
        splits.sort_by(|a, b| (&a.symbol, a.date).cmp(&(&b.symbol, b.date)));
        self.http.add_rows(splits.len());
        Ok(splits)
    }

    fn to_dividends(
        &self,
        endpoint: &str,
        asked: Option<&str>,
        rows: Vec<FmpDividend>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Dividend>, ProviderError> {
        let mut dividends = Vec::new();
        for row in rows.into_iter().filter(|r| (from..=to).contains(&r.date)) {
            dividends.push(Dividend {
                symbol: self.row_symbol(endpoint, asked, row.symbol)?,
                ex_date: row.date,
                amount: row.dividend,
                // FMP's US dividends carry no currency field: they are in dollars.
                currency: "USD".to_owned(),
            });
        }
        dividends.sort_by(|a, b| (&a.symbol, a.ex_date).cmp(&(&b.symbol, b.ex_date)));
        self.http.add_rows(dividends.len());
        Ok(dividends)
    }
}

/// How far an FMP refusal reaches. "Premium Query Parameter": this symbol (or option) is
/// outside the plan, the endpoint is not; the next provider fills that symbol.
fn fmp_refusal(message: &str) -> Refusal {
    if message.to_ascii_lowercase().contains("query parameter") {
        Refusal::Call
    } else {
        super::http::default_refusal(message)
    }
}

/// FMP may answer an error with HTTP 200 and `{"Error Message": "…"}`.
fn body_problem(body: &[u8]) -> Option<BodyProblem> {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(rename = "Error Message")]
        error_message: String,
    }
    // A data answer is an array; only an object can be an error.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let message = serde_json::from_slice::<ErrorBody>(body)
        .ok()?
        .error_message;
    let lower = message.to_ascii_lowercase();
    // "Limit Reach . Please upgrade your plan …" is a quota, not a plan restriction.
    Some(if lower.contains("limit reach") {
        BodyProblem::RateLimited(message)
    } else if lower.contains("invalid api key")
        || lower.contains("api key")
        || lower.contains("premium")
        || lower.contains("restricted")
        || lower.contains("subscription")
        || lower.contains("upgrade")
        || lower.contains("exclusive endpoint")
        || lower.contains("special endpoint")
    {
        BodyProblem::Unauthorized(message)
    } else {
        BodyProblem::Other(message)
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEod {
    date: NaiveDate,
    // Raw values despite the names (see the module documentation).
    #[serde(deserialize_with = "decimal")]
    adj_open: Decimal,
    #[serde(deserialize_with = "decimal")]
    adj_high: Decimal,
    #[serde(deserialize_with = "decimal")]
    adj_low: Decimal,
    #[serde(deserialize_with = "decimal")]
    adj_close: Decimal,
    #[serde(deserialize_with = "decimal")]
    volume: Decimal,
}

#[derive(Deserialize)]
struct FmpSplit {
    #[serde(default)]
    symbol: Option<String>,
    date: NaiveDate,
    #[serde(deserialize_with = "decimal")]
    numerator: Decimal,
    #[serde(deserialize_with = "decimal")]
    denominator: Decimal,
}

#[derive(Deserialize)]
struct FmpDividend {
    #[serde(default)]
    symbol: Option<String>,
    /// The ex-dividend date.
    date: NaiveDate,
    /// As declared; `adjDividend` is split-adjusted and not used.
    #[serde(deserialize_with = "decimal")]
    dividend: Decimal,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    symbol: String,
    #[serde(default)]
    company_name: Option<String>,
    #[serde(default, alias = "exchangeShortName")]
    exchange: Option<String>,
    #[serde(default)]
    sector: Option<String>,
    #[serde(default)]
    industry: Option<String>,
    #[serde(default, deserialize_with = "opt_date")]
    ipo_date: Option<NaiveDate>,
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// FMP writes a share class with a dash (BRK-B); the database, like Polygon and the US
/// exchanges' listings, with a dot (BRK.B). FMP's own dots mark non-US exchanges (VOD.L),
/// which a US universe never asks for.
fn fmp_symbol(symbol: &str) -> String {
    symbol.replace('.', "-")
}

/// A symbol as FMP writes it, as the database does.
fn stored_symbol(fmp: &str) -> String {
    fmp.trim().replace('-', ".")
}

#[async_trait::async_trait]
impl Provider for FmpProvider {
    fn name(&self) -> ProviderName {
        ProviderName::Fmp
    }

    async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyBar>, ProviderError> {
        const ENDPOINT: &str = "historical-price-eod/non-split-adjusted";
        let (from_text, to_text) = (from.to_string(), to.to_string());
        let rows: Vec<RawEod> = self
            .list(
                ENDPOINT,
                symbol,
                &[
                    ("symbol", &fmp_symbol(symbol)),
                    ("from", &from_text),
                    ("to", &to_text),
                ],
            )
            .await?;
        let mut bars: Vec<DailyBar> = rows
            .into_iter()
            .filter(|r| (from..=to).contains(&r.date))
            .map(|r| DailyBar {
                symbol: symbol.to_owned(),
                date: r.date,
                open: r.adj_open,
                high: r.adj_high,
                low: r.adj_low,
                close: r.adj_close,
                volume: r.volume,
                vwap: None,
            })
            .collect();
        // FMP answers newest first.
        bars.sort_by_key(|b| b.date);
        if let Some(pair) = bars.windows(2).find(|w| w[0].date == w[1].date) {
            return Err(self.http.malformed(
                ENDPOINT,
                symbol,
                format!("two bars for {}", pair[0].date),
            ));
        }
        self.http.add_rows(bars.len());
        Ok(bars)
    }

    async fn splits(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Split>, ProviderError> {
        let rows: Vec<FmpSplit> = self
            .list("splits", symbol, &[("symbol", &fmp_symbol(symbol))])
            .await?;
        self.to_splits("splits", Some(symbol), rows, from, to)
    }

    async fn dividends(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Dividend>, ProviderError> {
        let rows: Vec<FmpDividend> = self
            .list("dividends", symbol, &[("symbol", &fmp_symbol(symbol))])
            .await?;
        self.to_dividends("dividends", Some(symbol), rows, from, to)
    }

    async fn all_splits(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Vec<Split>>, ProviderError> {
        let rows = self
            .calendar::<FmpSplit>("splits-calendar", from, to)
            .await?;
        self.to_splits("splits-calendar", None, rows, from, to)
            .map(Some)
    }

    async fn all_dividends(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Vec<Dividend>>, ProviderError> {
        let rows = self
            .calendar::<FmpDividend>("dividends-calendar", from, to)
            .await?;
        self.to_dividends("dividends-calendar", None, rows, from, to)
            .map(Some)
    }

    async fn life_events(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<LifeListing>, ProviderError> {
        self.life_listing(from, to).await.map(Some)
    }

    async fn security(&self, symbol: &str) -> Result<Option<SecurityInfo>, ProviderError> {
        const ENDPOINT: &str = "profile";
        let asked = fmp_symbol(symbol);
        let rows: Vec<Profile> = self.list(ENDPOINT, symbol, &[("symbol", &asked)]).await?;
        let Some(profile) = rows
            .into_iter()
            .find(|p| p.symbol.eq_ignore_ascii_case(&asked))
        else {
            return Ok(None);
        };
        self.http.add_rows(1);
        Ok(Some(SecurityInfo {
            symbol: symbol.to_owned(),
            name: non_empty(profile.company_name),
            exchange: non_empty(profile.exchange),
            sector: non_empty(profile.sector),
            industry: non_empty(profile.industry),
            listed_date: profile.ipo_date,
            delisted_date: None,
        }))
    }

    fn disabled(&self) -> Option<String> {
        self.http.disabled()
    }

    fn stats(&self) -> ProviderStats {
        self.http.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_classified() {
        let problem = |s: &str| body_problem(s.as_bytes());
        assert!(matches!(
            problem(r#"{"Error Message": "Invalid API KEY. Feel free to create a Free API Key"}"#),
            Some(BodyProblem::Unauthorized(_))
        ));
        assert!(matches!(
            problem(r#"{"Error Message": "Limit Reach . Please upgrade your plan"}"#),
            Some(BodyProblem::RateLimited(_))
        ));
        assert!(matches!(
            problem(
                r#"{"Error Message": "Restricted Endpoint: This endpoint is not available under your current subscription"}"#
            ),
            Some(BodyProblem::Unauthorized(_))
        ));
        assert!(matches!(
            problem(r#"{"Error Message": "something odd"}"#),
            Some(BodyProblem::Other(_))
        ));
        assert_eq!(problem(r#"[{"symbol":"AAPL"}]"#), None);
        assert_eq!(problem("[]"), None);
    }
}
