//! The chain's side of detection: the first provider whose listing of ticker changes and
//! delistings answers, and the first that knows a ticker's identity. A failed listing is
//! never read as "no changes": the caller gets the failures.

use chrono::NaiveDate;

use super::{ChainError, ProviderChain};
use crate::model::{LifeEvent, Sourced, TickerIdentity};
use crate::providers::Provider;

/// A listing of life events: the answering provider's events, or why none answered.
#[derive(Debug)]
pub struct LifeEventsOutcome {
    /// Events of the first provider whose listing answered; empty when none did.
    pub events: Vec<Sourced<LifeEvent>>,
    /// Whether some provider's listing answered (its answer may be "no changes").
    pub answered: bool,
    /// Every listing that failed (also when a later provider answered).
    pub failures: Vec<String>,
    /// Malformed rows of the answering listing, each with its reason.
    pub rejected: Vec<String>,
}

impl ProviderChain {
    /// Ticker changes and delistings effective in `[from, to]`, from the first usable
    /// provider whose listing answers; a provider without a listing is skipped.
    pub async fn life_events(&self, from: NaiveDate, to: NaiveDate) -> LifeEventsOutcome {
        let mut outcome = LifeEventsOutcome {
            events: Vec::new(),
            answered: false,
            failures: Vec::new(),
            rejected: Vec::new(),
        };
        for member in &self.members {
            if let Some(refusal) = member.dropped() {
                outcome.failures.push(refusal.to_string());
                continue;
            }
            match member.provider.life_events(from, to).await {
                Ok(Some(listing)) => {
                    let provider = member.provider.name();
                    outcome.rejected = listing
                        .rejected
                        .into_iter()
                        .map(|why| format!("{provider} {why}"))
                        .collect();
                    outcome.events = listing
                        .events
                        .into_iter()
                        .map(|row| Sourced { provider, row })
                        .collect();
                    outcome.answered = true;
                    return outcome;
                }
                Ok(None) => {}
                Err(e) => {
                    self.note_failure(member, &e);
                    outcome.failures.push(e.to_string());
                }
            }
        }
        outcome
    }

    /// What the first provider that knows `symbol` says of its holder; `Ok(None)` when every
    /// provider able to answer did and none knows it.
    pub async fn ticker_identity(
        &self,
        symbol: &str,
    ) -> Result<Option<Sourced<TickerIdentity>>, ChainError> {
        let mut failures = Vec::new();
        let mut answered = false;
        for member in self
            .members
            .iter()
            .filter(|m| m.provider.has_ticker_identity())
        {
            if let Some(refusal) = member.dropped() {
                failures.push(refusal);
                continue;
            }
            let provider: &dyn Provider = member.provider.as_ref();
            match provider.ticker_identity(symbol).await {
                Ok(Some(row)) => {
                    return Ok(Some(Sourced {
                        provider: provider.name(),
                        row,
                    }));
                }
                Ok(None) => answered = true,
                Err(e) => {
                    self.note_failure(member, &e);
                    failures.push(e);
                }
            }
        }
        if answered || failures.is_empty() {
            Ok(None)
        } else {
            Err(ChainError {
                what: format!("identity of {symbol}"),
                failures,
            })
        }
    }
}
