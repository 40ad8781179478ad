//! The chain's bars: each provider asked only for the (symbol, session) pairs still missing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;

use super::{Member, ProviderChain};
use crate::model::{DailyBar, Sourced};
use crate::providers::ProviderError;

/// Bars for a set of symbols and sessions.
#[derive(Debug, Default)]
pub struct BarsOutcome {
    /// At most one bar per (symbol, session), from the first provider that had it.
    pub bars: Vec<Sourced<DailyBar>>,
    /// Sessions no provider supplied, per symbol (a halt, a listing after the session, or
    /// every provider failing).
    pub missing: BTreeMap<String, Vec<NaiveDate>>,
    /// Failures met on the way (a later provider may have filled in): what was asked (a
    /// symbol, or a session date for grouped calls) and the error.
    pub failures: Vec<(String, ProviderError)>,
}

impl ProviderChain {
    /// Raw bars of `symbols` for `sessions` (the trading dates wanted; bars on other dates
    /// are ignored). Each provider in turn is asked only for the (symbol, session) pairs still
    /// missing, in the way that costs it the fewest calls: one grouped call per missing
    /// session when it has grouped daily and that is fewer calls than one per symbol.
    pub async fn bars(&self, symbols: &[String], sessions: &[NaiveDate]) -> BarsOutcome {
        let sessions: BTreeSet<NaiveDate> = sessions.iter().copied().collect();
        let mut missing: BTreeMap<String, BTreeSet<NaiveDate>> = symbols
            .iter()
            .map(|s| (s.clone(), sessions.clone()))
            .filter(|(_, dates)| !dates.is_empty())
            .collect();
        let mut outcome = BarsOutcome::default();
        for member in &self.members {
            missing.retain(|_, dates| !dates.is_empty());
            if missing.is_empty() {
                break;
            }
            if let Some(refusal) = member.dropped() {
                let asked = missing
                    .keys()
                    .map(|symbol| (symbol.clone(), refusal.clone()));
                outcome.failures.extend(asked);
                continue;
            }
            let dates: BTreeSet<NaiveDate> = missing.values().flatten().copied().collect();
            let found = if member.provider.has_grouped_daily() && dates.len() < missing.len() {
                self.bars_grouped(member, &dates, &missing, &mut outcome)
                    .await
            } else {
                self.bars_per_symbol(member, &missing, &mut outcome).await
            };
            self.supplied(member, found.len());
            for bar in found {
                if let Some(dates) = missing.get_mut(&bar.symbol) {
                    dates.remove(&bar.date);
                }
                outcome.bars.push(Sourced {
                    provider: member.provider.name(),
                    row: bar,
                });
            }
        }
        outcome.missing = missing
            .into_iter()
            .filter(|(_, dates)| !dates.is_empty())
            .map(|(symbol, dates)| (symbol, dates.into_iter().collect()))
            .collect();
        outcome
            .bars
            .sort_by(|a, b| (&a.row.symbol, a.row.date).cmp(&(&b.row.symbol, b.row.date)));
        outcome
    }

    /// The wanted bars out of one grouped call per session.
    async fn bars_grouped(
        &self,
        member: &Member,
        dates: &BTreeSet<NaiveDate>,
        missing: &BTreeMap<String, BTreeSet<NaiveDate>>,
        outcome: &mut BarsOutcome,
    ) -> Vec<DailyBar> {
        let mut found = Vec::new();
        for &date in dates {
            match member.provider.grouped_daily(date).await {
                Ok(Some(bars)) => found.extend(bars.into_iter().filter(|b| {
                    b.date == date && missing.get(&b.symbol).is_some_and(|d| d.contains(&date))
                })),
                // Documented as available by has_grouped_daily; treat a refusal as a gap.
                Ok(None) => break,
                Err(e) => {
                    self.note_failure(member, &e);
                    let stop = matches!(e, ProviderError::Unauthorized { .. });
                    outcome.failures.push((date.to_string(), e));
                    if stop {
                        break;
                    }
                }
            }
        }
        found
    }

    /// The wanted bars out of one ranged call per symbol, a few in flight at once.
    async fn bars_per_symbol(
        &self,
        member: &Member,
        missing: &BTreeMap<String, BTreeSet<NaiveDate>>,
        outcome: &mut BarsOutcome,
    ) -> Vec<DailyBar> {
        let permits = Arc::new(tokio::sync::Semaphore::new(self.concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        for (symbol, dates) in missing {
            let (Some(&from), Some(&to)) = (dates.first(), dates.last()) else {
                continue;
            };
            let provider = Arc::clone(&member.provider);
            let permits = Arc::clone(&permits);
            let symbol = symbol.clone();
            let dates = dates.clone();
            tasks.spawn(async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .expect("semaphore never closed");
                let answer = provider.daily_bars(&symbol, from, to).await;
                let answer = answer.map(|bars| {
                    bars.into_iter()
                        .filter(|b| b.symbol == symbol && dates.contains(&b.date))
                        .collect::<Vec<_>>()
                });
                (symbol, answer)
            });
        }
        let mut found = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (symbol, answer) = joined.expect("a provider call panicked");
            match answer {
                Ok(bars) => found.extend(bars),
                Err(e) => {
                    self.note_failure(member, &e);
                    outcome.failures.push((symbol, e));
                }
            }
        }
        found
    }
}
