//! Polygon.io REST API: raw daily aggregates (per ticker, and grouped per session for every
//! ticker), splits, dividends and ticker details. The key goes in the `apiKey` parameter.

mod life;
mod wire;

use chrono::NaiveDate;
use reqwest::Url;
use serde::de::DeserializeOwned;

use super::http::{
    default_refusal, join_url, keyed_api, without_key, ApiSpec, HttpClient, HttpLimits,
};
use super::json::new_york_date;
use super::{Provider, ProviderError};
use crate::model::{
    DailyBar, Dividend, LifeListing, ProviderName, ProviderStats, SecurityInfo, Split,
    TickerIdentity,
};
use wire::{body_problem, Agg, DetailsEnvelope, Page, PolygonDividend, PolygonSplit};

/// Cursor pages followed at most per call (a daily history never needs more than a few).
const MAX_PAGES: usize = 1000;

pub struct PolygonProvider {
    http: HttpClient,
    base: Url,
}

static API: ApiSpec = ApiSpec {
    provider: ProviderName::Polygon,
    key_param: "apiKey",
    body_check: body_problem,
    refusal: default_refusal,
};

impl PolygonProvider {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.polygon.io";

    pub fn new(
        api_key: impl Into<String>,
        base_url: &str,
        limits: HttpLimits,
    ) -> Result<Self, String> {
        let (http, base) = keyed_api(
            &API,
            "the Polygon base URL",
            api_key.into(),
            base_url,
            limits,
        )?;
        Ok(PolygonProvider { http, base })
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        join_url(&self.base, segments.iter().copied(), query)
    }

    /// A `next_url` resolved against our base URL (so the key never goes to another host),
    /// without any key it might carry; the key is re-attached when sending.
    fn next_page_url(
        &self,
        next_url: &str,
        endpoint: &str,
        symbol: &str,
    ) -> Result<Url, ProviderError> {
        let next = Url::parse(next_url).map_err(|e| {
            self.http
                .malformed(endpoint, symbol, format!("bad next_url: {e}"))
        })?;
        let base_path = self.base.path().trim_end_matches('/');
        let mut url = self.base.clone();
        url.set_path(&format!("{base_path}{}", next.path()));
        url.set_query(without_key(&next).query());
        Ok(url)
    }

    /// Every page's `results`, following `next_url`. Aggregates and reference listings
    /// answer HTTP 200 without `results` for a ticker without rows, so a 404 is an error.
    async fn paged<T: DeserializeOwned>(
        &self,
        first: Url,
        endpoint: &str,
        symbol: &str,
    ) -> Result<Vec<T>, ProviderError> {
        let mut rows = Vec::new();
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let page = self.http.get_json::<Page<T>>(url, endpoint, symbol).await?;
            if page.adjusted == Some(true) {
                return Err(self.http.malformed(
                    endpoint,
                    symbol,
                    "adjusted bars returned for adjusted=false",
                ));
            }
            rows.extend(page.results.unwrap_or_default());
            match page.next_url {
                Some(next) if !next.is_empty() => {
                    url = self.next_page_url(&next, endpoint, symbol)?
                }
                _ => return Ok(rows),
            }
        }
        Err(self
            .http
            .malformed(endpoint, symbol, format!("more than {MAX_PAGES} pages")))
    }

    /// The rows of the reference listing at `endpoint` (`/v3/reference/…`) whose
    /// `date_field` is in `[from, to]`: of `ticker`, or of every ticker when `None`.
    async fn reference_listing<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        date_field: &str,
        ticker: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<T>, ProviderError> {
        let (gte_field, lte_field) = (format!("{date_field}.gte"), format!("{date_field}.lte"));
        let (gte, lte) = (from.to_string(), to.to_string());
        let mut query = vec![
            (gte_field.as_str(), gte.as_str()),
            (lte_field.as_str(), lte.as_str()),
            ("limit", "1000"),
        ];
        query.extend(ticker.map(|t| ("ticker", t)));
        let segments: Vec<&str> = endpoint.trim_start_matches('/').split('/').collect();
        let url = self.url(&segments, &query);
        self.paged(url, endpoint, ticker.unwrap_or("*")).await
    }

    /// Splits of `ticker`, or of every ticker (one paged listing) when `None`.
    async fn fetch_splits(
        &self,
        ticker: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Split>, ProviderError> {
        const ENDPOINT: &str = "/v3/reference/splits";
        let rows: Vec<PolygonSplit> = self
            .reference_listing(ENDPOINT, "execution_date", ticker, from, to)
            .await?;
        let mut splits = Vec::with_capacity(rows.len());
        for row in rows {
            let symbol = self.row_ticker(ENDPOINT, ticker, row.ticker.as_deref())?;
            let date = row.execution_date.ok_or_else(|| {
                self.http
                    .malformed(ENDPOINT, &symbol, "a split without execution_date")
            })?;
            // A zero or negative side is rejected by validation, which keeps the rest.
            if (from..=to).contains(&date) {
                // split_from 1, split_to 4 is a 4-for-1 split.
                splits.push(Split {
                    symbol,
                    date,
                    numerator: row.split_to,
                    denominator: row.split_from,
                });
            }
        }
        splits.sort_by(|a, b| (&a.symbol, a.date).cmp(&(&b.symbol, b.date)));
        self.http.add_rows(splits.len());
        Ok(splits)
    }

    /// Cash dividends of `ticker`, or of every ticker when `None`.
    async fn fetch_dividends(
        &self,
        ticker: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Dividend>, ProviderError> {
        const ENDPOINT: &str = "/v3/reference/dividends";
        let rows: Vec<PolygonDividend> = self
            .reference_listing(ENDPOINT, "ex_dividend_date", ticker, from, to)
            .await?;
        let mut dividends = Vec::with_capacity(rows.len());
        for row in rows {
            let symbol = self.row_ticker(ENDPOINT, ticker, row.ticker.as_deref())?;
            let ex_date = row.ex_dividend_date.ok_or_else(|| {
                self.http
                    .malformed(ENDPOINT, &symbol, "a dividend without ex_dividend_date")
            })?;
            if (from..=to).contains(&ex_date) {
                dividends.push(Dividend {
                    symbol,
                    ex_date,
                    amount: row.cash_amount,
                    currency: row
                        .currency
                        .unwrap_or_else(|| "USD".to_owned())
                        .to_ascii_uppercase(),
                });
            }
        }
        dividends.sort_by(|a, b| (&a.symbol, a.ex_date).cmp(&(&b.symbol, b.ex_date)));
        self.http.add_rows(dividends.len());
        Ok(dividends)
    }

    /// The symbol a reference row belongs to: the one asked for, or the row's own ticker in
    /// a listing of every ticker.
    fn row_ticker(
        &self,
        endpoint: &str,
        asked: Option<&str>,
        row: Option<&str>,
    ) -> Result<String, ProviderError> {
        match (asked, row) {
            (Some(asked), _) => Ok(asked.to_owned()),
            (None, Some(row)) if !row.is_empty() => Ok(row.to_owned()),
            (None, _) => Err(self
                .http
                .malformed(endpoint, "*", "a row without its ticker")),
        }
    }

    fn bar(&self, endpoint: &str, symbol: &str, agg: Agg) -> Result<DailyBar, ProviderError> {
        let date = new_york_date(agg.t).ok_or_else(|| {
            self.http.malformed(
                endpoint,
                symbol,
                format!("timestamp {} out of range", agg.t),
            )
        })?;
        Ok(DailyBar {
            symbol: symbol.to_owned(),
            date,
            open: agg.o,
            high: agg.h,
            low: agg.l,
            close: agg.c,
            volume: agg.v,
            vwap: agg.vw,
        })
    }
}

#[async_trait::async_trait]
impl Provider for PolygonProvider {
    fn name(&self) -> ProviderName {
        ProviderName::Polygon
    }

    async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyBar>, ProviderError> {
        const ENDPOINT: &str = "/v2/aggs/ticker/{T}/range/1/day";
        let (from_text, to_text) = (from.to_string(), to.to_string());
        let url = self.url(
            &[
                "v2", "aggs", "ticker", symbol, "range", "1", "day", &from_text, &to_text,
            ],
            &[("adjusted", "false"), ("sort", "asc"), ("limit", "50000")],
        );
        let aggs: Vec<Agg> = self.paged(url, ENDPOINT, symbol).await?;
        let mut bars = aggs
            .into_iter()
            .map(|agg| self.bar(ENDPOINT, symbol, agg))
            .collect::<Result<Vec<_>, _>>()?;
        bars.retain(|b| (from..=to).contains(&b.date));
        bars.sort_by_key(|b| b.date);
        self.http.add_rows(bars.len());
        Ok(bars)
    }

    async fn grouped_daily(&self, date: NaiveDate) -> Result<Option<Vec<DailyBar>>, ProviderError> {
        const ENDPOINT: &str = "/v2/aggs/grouped/locale/us/market/stocks";
        let day = date.to_string();
        let url = self.url(
            &[
                "v2", "aggs", "grouped", "locale", "us", "market", "stocks", &day,
            ],
            &[("adjusted", "false")],
        );
        let aggs: Vec<Agg> = self.paged(url, ENDPOINT, &day).await?;
        let mut bars = Vec::with_capacity(aggs.len());
        for agg in aggs {
            let Some(ticker) = agg.ticker.clone() else {
                return Err(self
                    .http
                    .malformed(ENDPOINT, &day, "a result without its ticker `T`"));
            };
            let bar = self.bar(ENDPOINT, &ticker, agg)?;
            // The stamp marks the session (its start or its close): it must be that day.
            if bar.date != date {
                return Err(self.http.malformed(
                    ENDPOINT,
                    &ticker,
                    format!("bar stamped {} in the grouped answer for {date}", bar.date),
                ));
            }
            bars.push(bar);
        }
        self.http.add_rows(bars.len());
        Ok(Some(bars))
    }

    fn has_grouped_daily(&self) -> bool {
        true
    }

    async fn splits(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Split>, ProviderError> {
        self.fetch_splits(Some(symbol), from, to).await
    }

    async fn dividends(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Dividend>, ProviderError> {
        self.fetch_dividends(Some(symbol), from, to).await
    }

    async fn all_splits(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Vec<Split>>, ProviderError> {
        self.fetch_splits(None, from, to).await.map(Some)
    }

    async fn all_dividends(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Vec<Dividend>>, ProviderError> {
        self.fetch_dividends(None, from, to).await.map(Some)
    }

    async fn security(&self, symbol: &str) -> Result<Option<SecurityInfo>, ProviderError> {
        const ENDPOINT: &str = "/v3/reference/tickers/{T}";
        let url = self.url(&["v3", "reference", "tickers", symbol], &[]);
        // The one endpoint whose 404 (`NOT_FOUND`) means "no such ticker".
        let Some(envelope) = self
            .http
            .get_json_or_unknown::<DetailsEnvelope>(url, ENDPOINT, symbol)
            .await?
        else {
            return Ok(None);
        };
        let Some(details) = envelope.results else {
            return Ok(None);
        };
        if !details.ticker.eq_ignore_ascii_case(symbol) {
            return Err(self.http.malformed(
                ENDPOINT,
                symbol,
                format!("details of {} instead", details.ticker),
            ));
        }
        self.http.add_rows(1);
        Ok(Some(SecurityInfo {
            symbol: symbol.to_owned(),
            name: details.name,
            exchange: details.primary_exchange,
            sector: None,
            industry: details.sic_description,
            listed_date: details.list_date,
            delisted_date: details.delisted_utc,
        }))
    }

    async fn life_events(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<LifeListing>, ProviderError> {
        self.life_listing(from, to).await.map(Some)
    }

    fn has_ticker_identity(&self) -> bool {
        true
    }

    async fn ticker_identity(&self, symbol: &str) -> Result<Option<TickerIdentity>, ProviderError> {
        self.identity_of(symbol).await
    }

    fn disabled(&self) -> Option<String> {
        self.http.disabled()
    }

    fn stats(&self) -> ProviderStats {
        self.http.stats()
    }
}
