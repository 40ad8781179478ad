//! Polygon's side of detection: the inactive tickers by delisting date (newest first, one
//! page a night), and one ticker's identity: its details, else its inactive listing row and
//! the ticker changes of its composite FIGI (`/vX/reference/tickers/{figi}/events`).

use chrono::NaiveDate;

use super::wire::{EventsEnvelope, Page, TickerRow};
use super::PolygonProvider;
use crate::model::{LifeEvent, LifeListing, TickerIdentity};
use crate::providers::json::each_row;
use crate::providers::ProviderError;

/// Pages of inactive tickers read at most per listing (1000 rows each, newest first).
const MAX_LISTING_PAGES: usize = 20;

impl PolygonProvider {
    /// Tickers whose last traded day (`delisted_utc`) is in `[from, to]`.
    pub(super) async fn life_listing(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<LifeListing, ProviderError> {
        const ENDPOINT: &str = "/v3/reference/tickers";
        let mut url = self.url(
            &["v3", "reference", "tickers"],
            &[
                ("market", "stocks"),
                ("active", "false"),
                ("sort", "delisted_utc"),
                ("order", "desc"),
                ("limit", "1000"),
            ],
        );
        let mut events = Vec::new();
        let mut rejected = Vec::new();
        for _ in 0..MAX_LISTING_PAGES {
            let page: Page<serde_json::Value> = self.http.get_json(url, ENDPOINT, "*").await?;
            let mut older = false;
            let rows: Vec<TickerRow> =
                each_row(ENDPOINT, page.results.unwrap_or_default(), &mut rejected);
            for row in rows {
                let Some(last_day) = row.delisted_utc else {
                    continue;
                };
                older |= last_day < from;
                if (from..=to).contains(&last_day) {
                    events.push(LifeEvent::Delisted {
                        symbol: row.ticker,
                        last_day,
                    });
                }
            }
            match page.next_url {
                Some(next) if !next.is_empty() && !older => {
                    url = self.next_page_url(&next, ENDPOINT, "*")?;
                }
                _ => break,
            }
        }
        self.http.add_rows(events.len());
        Ok(LifeListing { events, rejected })
    }

    /// The holder of `symbol`: active (details), or its last one with its end and, after a
    /// ticker change, its new ticker; `None` when Polygon knows no holder of it.
    pub(super) async fn identity_of(
        &self,
        symbol: &str,
    ) -> Result<Option<TickerIdentity>, ProviderError> {
        const DETAILS: &str = "/v3/reference/tickers/{T}";
        let url = self.url(&["v3", "reference", "tickers", symbol], &[]);
        let details = self
            .http
            .get_json_or_unknown::<super::wire::DetailsEnvelope>(url, DETAILS, symbol)
            .await?
            .and_then(|d| d.results);
        if let Some(row) = details.filter(|d| d.active != Some(false) && d.delisted_utc.is_none()) {
            return Ok(Some(identity(symbol, row, None)));
        }
        const LISTING: &str = "/v3/reference/tickers";
        let url = self.url(
            &["v3", "reference", "tickers"],
            &[
                ("ticker", symbol),
                ("active", "false"),
                ("sort", "delisted_utc"),
                ("order", "desc"),
                ("limit", "1"),
            ],
        );
        let page: Page<TickerRow> = self.http.get_json(url, LISTING, symbol).await?;
        let Some(row) = page.results.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        let renamed_to = match &row.composite_figi {
            Some(figi) => self.renamed_to(symbol, figi).await?,
            None => None,
        };
        Ok(Some(identity(symbol, row, renamed_to)))
    }

    /// The ticker the entity of `figi` took after `symbol`, and its first day under it.
    async fn renamed_to(
        &self,
        symbol: &str,
        figi: &str,
    ) -> Result<Option<(String, NaiveDate)>, ProviderError> {
        const ENDPOINT: &str = "/vX/reference/tickers/{id}/events";
        let url = self.url(
            &["vX", "reference", "tickers", figi, "events"],
            &[("types", "ticker_change")],
        );
        let Some(envelope) = self
            .http
            .get_json_or_unknown::<EventsEnvelope>(url, ENDPOINT, symbol)
            .await?
        else {
            return Ok(None);
        };
        let mut changes: Vec<(NaiveDate, String)> = envelope
            .results
            .map(|r| r.events)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.kind == "ticker_change")
            .filter_map(|e| Some((e.date?, e.ticker_change?.ticker)))
            .collect();
        changes.sort();
        let since = changes
            .iter()
            .rposition(|(_, t)| t.eq_ignore_ascii_case(symbol));
        Ok(since.and_then(|i| changes.get(i + 1).map(|(d, t)| (t.clone(), *d))))
    }
}

fn identity(
    symbol: &str,
    row: TickerRow,
    renamed_to: Option<(String, NaiveDate)>,
) -> TickerIdentity {
    // The last traded day of a renamed ticker is the day before its new one starts.
    let last_day = match &renamed_to {
        Some((_, first)) => first.pred_opt(),
        None => row.delisted_utc,
    };
    TickerIdentity {
        symbol: symbol.to_owned(),
        composite_figi: row.composite_figi,
        share_class_figi: row.share_class_figi,
        cik: row.cik,
        listed: row.list_date,
        last_day,
        renamed_to,
    }
}
