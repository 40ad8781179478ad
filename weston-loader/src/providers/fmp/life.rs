//! FMP's listings of every recent ticker change and delisting, for detection.

use chrono::NaiveDate;
use serde::Deserialize;

use super::{stored_symbol, FmpProvider};
use crate::model::{LifeEvent, LifeListing};
use crate::providers::json::{each_row, opt_date};
use crate::providers::ProviderError;

/// A row of `symbol-change`: `newSymbol` from `date` (its first day), `oldSymbol` before.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SymbolChange {
    date: NaiveDate,
    old_symbol: String,
    new_symbol: String,
}

/// A row of `delisted-companies`; `delistedDate` is read as the last session.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delisted {
    symbol: String,
    #[serde(default, deserialize_with = "opt_date")]
    delisted_date: Option<NaiveDate>,
}

/// Pages of `delisted-companies` read at most per run (newest first: a night needs one).
const DELISTED_PAGES: usize = 10;
const DELISTED_PAGE_ROWS: usize = 100;

impl FmpProvider {
    /// `symbol-change` (every recent ticker change, one call) and `delisted-companies`
    /// (newest first, paged until the rows are older than `from`).
    pub(super) async fn life_listing(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<LifeListing, ProviderError> {
        let mut events = Vec::new();
        let mut rejected = Vec::new();
        let changes: Vec<SymbolChange> = each_row(
            "symbol-change",
            self.list("symbol-change", "*", &[]).await?,
            &mut rejected,
        );
        for c in changes
            .into_iter()
            .filter(|c| (from..=to).contains(&c.date))
        {
            events.push(LifeEvent::Renamed {
                old: stored_symbol(&c.old_symbol),
                new: stored_symbol(&c.new_symbol),
                effective: c.date,
            });
        }
        let limit = DELISTED_PAGE_ROWS.to_string();
        for page in 0..DELISTED_PAGES {
            let page_text = page.to_string();
            let rows: Vec<serde_json::Value> = self
                .list(
                    "delisted-companies",
                    "*",
                    &[("page", &page_text), ("limit", &limit)],
                )
                .await?;
            let full = rows.len() >= DELISTED_PAGE_ROWS;
            let rows: Vec<Delisted> = each_row("delisted-companies", rows, &mut rejected);
            let mut older = false;
            for row in rows {
                let Some(last_day) = row.delisted_date else {
                    continue;
                };
                older |= last_day < from;
                if (from..=to).contains(&last_day) {
                    events.push(LifeEvent::Delisted {
                        symbol: stored_symbol(&row.symbol),
                        last_day,
                    });
                }
            }
            if !full || older {
                break;
            }
        }
        self.http.add_rows(events.len());
        Ok(LifeListing { events, rejected })
    }
}
