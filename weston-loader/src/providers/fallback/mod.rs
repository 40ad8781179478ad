//! The providers of a run, in order of preference: each asks only for what the ones before
//! it did not supply, and every row says who supplied it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;

mod bars;
mod identity;

use super::{Provider, ProviderError};
use crate::model::{Dividend, ProviderName, ProviderStats, SecurityInfo, Sourced, Split};
pub use bars::BarsOutcome;
pub use identity::LifeEventsOutcome;

/// Every provider failed (or none was usable) for `what`.
#[derive(Debug, thiserror::Error)]
#[error("{what}: no provider could answer ({})", describe_failures(.failures))]
pub struct ChainError {
    pub what: String,
    pub failures: Vec<ProviderError>,
}

fn describe_failures(failures: &[ProviderError]) -> String {
    if failures.is_empty() {
        // A dropped provider answers with its refusal: empty only without any provider.
        "no provider in this run".to_owned()
    } else {
        failures
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Corporate actions (splits or dividends) for a set of symbols.
#[derive(Debug)]
pub struct ActionsOutcome<T> {
    pub rows: Vec<Sourced<T>>,
    /// Symbols no provider could answer for.
    pub failures: Vec<(String, ChainError)>,
}

struct Member {
    provider: Arc<dyn Provider>,
    rows_supplied: AtomicU64,
    /// Whether the log has said this provider was dropped (said once).
    drop_logged: AtomicBool,
}

impl Member {
    /// The refusal that dropped this provider earlier in the run, standing for the answer
    /// of a call it is no longer asked: a failure names every provider of the chain and
    /// why, a dropped one too (it is never silently absent).
    fn dropped(&self) -> Option<ProviderError> {
        self.provider
            .disabled()
            .map(|message| ProviderError::Unauthorized {
                provider: self.provider.name(),
                message,
            })
    }
}

pub struct ProviderChain {
    members: Vec<Member>,
    concurrency: usize,
}

impl ProviderChain {
    /// `providers` in order of preference.
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Self {
        let members = providers
            .into_iter()
            .map(|provider| Member {
                provider,
                rows_supplied: AtomicU64::new(0),
                drop_logged: AtomicBool::new(false),
            })
            .collect();
        // Calls in flight per provider; the rate limiter paces them.
        ProviderChain {
            members,
            concurrency: 8,
        }
    }

    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    pub fn order(&self) -> Vec<ProviderName> {
        self.members.iter().map(|m| m.provider.name()).collect()
    }

    /// Counters per provider, in order, for the run's log and `etl_run.stats`.
    pub fn stats(&self) -> Vec<ProviderStats> {
        self.members
            .iter()
            .map(|m| {
                let mut stats = m.provider.stats();
                stats.rows_supplied = m.rows_supplied.load(Ordering::Relaxed);
                stats
            })
            .collect()
    }

    /// One log line per provider: HTTP calls, rows, and why it was dropped if it was.
    pub fn log_stats(&self) {
        for s in self.stats() {
            tracing::info!(
                provider = %s.provider,
                http_calls = s.http_calls,
                retries = s.retries,
                rate_limited = s.rate_limited,
                rows_returned = s.rows_returned,
                rows_supplied = s.rows_supplied,
                disabled = s.disabled.as_deref().unwrap_or(""),
                "{}: {} HTTP calls, {} rows supplied",
                s.provider,
                s.http_calls,
                s.rows_supplied
            );
        }
    }

    /// The providers still asked: those not dropped earlier in the run.
    fn usable(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.dropped().is_none())
    }

    /// A refused key drops the provider for the rest of the run (its client says so and
    /// `Member::dropped` then stands for its answer); a refused endpoint or parameter only
    /// fails this call, which the next provider fills.
    fn note_failure(&self, member: &Member, error: &ProviderError) {
        let name = member.provider.name();
        match error {
            ProviderError::Unauthorized { message, .. } if member.provider.disabled().is_some() => {
                if !member.drop_logged.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                    provider = %name,
                    "{name}: not authorised ({message}); the next provider takes over for the rest of this run"
                    );
                }
            }
            _ => tracing::warn!(provider = %name, "{error}"),
        }
    }

    fn supplied(&self, member: &Member, rows: usize) {
        member
            .rows_supplied
            .fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// Splits from the first provider that answers.
    pub async fn splits(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Sourced<Vec<Split>>, ChainError> {
        self.first_answer("splits", symbol, async |p: &dyn Provider| {
            p.splits(symbol, from, to).await
        })
        .await
    }

    /// Dividends from the first provider that answers.
    pub async fn dividends(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Sourced<Vec<Dividend>>, ChainError> {
        self.first_answer("dividends", symbol, async |p: &dyn Provider| {
            p.dividends(symbol, from, to).await
        })
        .await
    }

    /// `call`'s rows from the first usable provider that answers; `kind` and `symbol` name
    /// the request in the error when none does.
    async fn first_answer<T>(
        &self,
        kind: &str,
        symbol: &str,
        call: impl AsyncFn(&dyn Provider) -> Result<Vec<T>, ProviderError>,
    ) -> Result<Sourced<Vec<T>>, ChainError> {
        let mut failures = Vec::new();
        for member in &self.members {
            if let Some(refusal) = member.dropped() {
                failures.push(refusal);
                continue;
            }
            match call(member.provider.as_ref()).await {
                Ok(rows) => {
                    self.supplied(member, rows.len());
                    return Ok(Sourced {
                        provider: member.provider.name(),
                        row: rows,
                    });
                }
                Err(e) => {
                    self.note_failure(member, &e);
                    failures.push(e);
                }
            }
        }
        Err(ChainError {
            what: format!("{kind} of {symbol}"),
            failures,
        })
    }

    /// Metadata from the first provider that knows the symbol; `Ok(None)` when every
    /// usable provider answered and none knows it.
    pub async fn security(
        &self,
        symbol: &str,
    ) -> Result<Option<Sourced<SecurityInfo>>, ChainError> {
        let mut failures = Vec::new();
        let mut answered = false;
        for member in &self.members {
            if let Some(refusal) = member.dropped() {
                failures.push(refusal);
                continue;
            }
            match member.provider.security(symbol).await {
                Ok(Some(info)) => {
                    self.supplied(member, 1);
                    return Ok(Some(Sourced {
                        provider: member.provider.name(),
                        row: info,
                    }));
                }
                Ok(None) => answered = true,
                Err(e) => {
                    self.note_failure(member, &e);
                    failures.push(e);
                }
            }
        }
        if answered {
            Ok(None)
        } else {
            Err(ChainError {
                what: format!("security {symbol}"),
                failures,
            })
        }
    }

    /// Splits of `symbols` with ex-date in `[from, to]`. For more than one symbol, the first
    /// provider able to list every symbol's splits by date answers in a few calls (Polygon:
    /// one paged listing; FMP: one calendar call per 90 days); otherwise one call per symbol,
    /// each with its own fallback.
    pub async fn splits_many(
        &self,
        symbols: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> ActionsOutcome<Split> {
        self.actions_many(
            symbols,
            |s: &Split| &s.symbol,
            async |p: &dyn Provider| p.all_splits(from, to).await,
            async |symbol: &str| self.splits(symbol, from, to).await,
        )
        .await
    }

    /// Dividends of `symbols` with ex-date in `[from, to]`, like [`Self::splits_many`].
    pub async fn dividends_many(
        &self,
        symbols: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> ActionsOutcome<Dividend> {
        self.actions_many(
            symbols,
            |d: &Dividend| &d.symbol,
            async |p: &dyn Provider| p.all_dividends(from, to).await,
            async |symbol: &str| self.dividends(symbol, from, to).await,
        )
        .await
    }

    /// Corporate actions of `symbols`: from the first provider's listing of every symbol
    /// when there is more than one symbol, else (or when no listing answers) per symbol.
    async fn actions_many<T>(
        &self,
        symbols: &[String],
        symbol_of: impl Fn(&T) -> &String,
        list_all: impl AsyncFn(&dyn Provider) -> Result<Option<Vec<T>>, ProviderError>,
        per_symbol: impl AsyncFn(&str) -> Result<Sourced<Vec<T>>, ChainError>,
    ) -> ActionsOutcome<T> {
        if symbols.len() > 1 {
            for member in self.usable() {
                match list_all(member.provider.as_ref()).await {
                    Ok(Some(rows)) => return self.keep_listed(member, symbols, rows, symbol_of),
                    Ok(None) => {}
                    // A listing outside the plan is an optimisation lost, not the provider.
                    Err(e) => {
                        tracing::warn!(provider = %member.provider.name(), "listing every symbol failed, asking per symbol: {e}")
                    }
                }
            }
        }
        let mut outcome = ActionsOutcome {
            rows: Vec::new(),
            failures: Vec::new(),
        };
        for symbol in symbols {
            match per_symbol(symbol).await {
                Ok(sourced) => outcome
                    .rows
                    .extend(sourced.row.into_iter().map(|row| Sourced {
                        provider: sourced.provider,
                        row,
                    })),
                Err(e) => outcome.failures.push((symbol.clone(), e)),
            }
        }
        outcome
    }

    /// The rows of a listing of every symbol that belong to `symbols`.
    fn keep_listed<T>(
        &self,
        member: &Member,
        symbols: &[String],
        rows: Vec<T>,
        symbol_of: impl Fn(&T) -> &String,
    ) -> ActionsOutcome<T> {
        let wanted: BTreeSet<&String> = symbols.iter().collect();
        let rows: Vec<Sourced<T>> = rows
            .into_iter()
            .filter(|row| wanted.contains(symbol_of(row)))
            .map(|row| Sourced {
                provider: member.provider.name(),
                row,
            })
            .collect();
        self.supplied(member, rows.len());
        ActionsOutcome {
            rows,
            failures: Vec::new(),
        }
    }
}
