//! Gathering from the provider chain: bars, corporate actions and (for symbols not yet
//! described) metadata of symbols sharing one window, into the batch shape they are
//! written in. A symbol for which every provider failed is left out whole.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;

use crate::model::{Batch, DataKind, ProviderName, Sourced, Unserved};
use crate::providers::{BarsOutcome, ProviderChain};

/// Symbol metadata requests in flight at once (each provider's rate limiter paces them).
const SECURITY_CONCURRENCY: usize = 8;

/// What the providers supplied for some symbols sharing one window.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Every served symbol's rows; each has its `securities` row (described or bare).
    pub rows: Batch,
    /// Symbols left out whole, because every provider failed for some of their data.
    pub failed: Vec<Unserved>,
}

impl Gathered {
    /// The rows of `symbols`, taken out of what was gathered.
    pub fn take(&mut self, symbols: &[String]) -> Batch {
        let wanted: HashSet<&str> = symbols.iter().map(String::as_str).collect();
        fn take_of<T>(rows: &mut Vec<Sourced<T>>, keep: impl Fn(&T) -> bool) -> Vec<Sourced<T>> {
            let (taken, rest) = std::mem::take(rows).into_iter().partition(|r| keep(&r.row));
            *rows = rest;
            taken
        }
        let rows = &mut self.rows;
        Batch {
            described: take_of(&mut rows.described, |s| wanted.contains(s.symbol.as_str())),
            undescribed: take_of(&mut rows.undescribed, |s| wanted.contains(s.as_str())),
            bars: take_of(&mut rows.bars, |b| wanted.contains(b.symbol.as_str())),
            splits: take_of(&mut rows.splits, |s| wanted.contains(s.symbol.as_str())),
            dividends: take_of(&mut rows.dividends, |d| wanted.contains(d.symbol.as_str())),
        }
    }
}

/// Bars of `sessions`, corporate actions in `[from, to]` and metadata of `symbols` not in
/// `described`, through the chain, which asks each provider only for what is still missing.
pub async fn gather(
    chain: &Arc<ProviderChain>,
    symbols: &[String],
    (from, to): (NaiveDate, NaiveDate),
    sessions: &[NaiveDate],
    described: &HashSet<String>,
) -> Gathered {
    let mut failed = Failures::default();

    let bars = chain.bars(symbols, sessions).await;
    for (symbol, error) in unserved_bars(chain, &bars) {
        failed.add(symbol, DataKind::Bars, error);
    }
    let splits = chain.splits_many(symbols, from, to).await;
    for (symbol, error) in splits.failures {
        failed.add(symbol, DataKind::Splits, error.to_string());
    }
    let dividends = chain.dividends_many(symbols, from, to).await;
    for (symbol, error) in dividends.failures {
        failed.add(symbol, DataKind::Dividends, error.to_string());
    }
    let mut securities = BTreeMap::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(SECURITY_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for symbol in symbols.iter().filter(|s| !described.contains(*s)) {
        let (chain, permits, symbol) = (Arc::clone(chain), Arc::clone(&permits), symbol.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let answer = chain.security(&symbol).await;
            (symbol, answer)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((symbol, Ok(Some(info)))) => {
                securities.insert(symbol, info);
            }
            Ok((_, Ok(None))) => {}
            Ok((symbol, Err(e))) => failed.add(symbol, DataKind::Metadata, e.to_string()),
            Err(e) => tracing::error!("a metadata request panicked: {e}"),
        }
    }

    let served = |symbol: &str| !failed.0.contains_key(symbol);
    let mut rows = Batch {
        bars: bars
            .bars
            .into_iter()
            .filter(|b| served(&b.row.symbol))
            .collect(),
        splits: splits
            .rows
            .into_iter()
            .filter(|s| served(&s.row.symbol))
            .collect(),
        dividends: dividends
            .rows
            .into_iter()
            .filter(|d| served(&d.row.symbol))
            .collect(),
        ..Batch::default()
    };
    // A symbol no provider described still gets its row, under the name of a provider that
    // supplied its rows (else the first).
    let first = chain.order().first().copied().unwrap_or(ProviderName::Mock);
    let mut supplier: BTreeMap<&str, ProviderName> = BTreeMap::new();
    let suppliers = (rows
        .bars
        .iter()
        .map(|b| (b.row.symbol.as_str(), b.provider)))
    .chain(
        rows.splits
            .iter()
            .map(|s| (s.row.symbol.as_str(), s.provider)),
    )
    .chain(
        rows.dividends
            .iter()
            .map(|d| (d.row.symbol.as_str(), d.provider)),
    );
    for (symbol, provider) in suppliers {
        supplier.entry(symbol).or_insert(provider);
    }
    let (mut described, mut undescribed) = (Vec::new(), Vec::new());
    for symbol in symbols.iter().filter(|s| served(s)) {
        match securities.remove(symbol) {
            Some(info) => described.push(info),
            None => undescribed.push(Sourced {
                provider: supplier.get(symbol.as_str()).copied().unwrap_or(first),
                row: symbol.clone(),
            }),
        }
    }
    (rows.described, rows.undescribed) = (described, undescribed);
    Gathered {
        rows,
        failed: failed
            .0
            .into_iter()
            .map(|(symbol, (kinds, errors))| Unserved {
                symbol,
                kinds: kinds.into_iter().collect(),
                error: errors.join("; "),
            })
            .collect(),
    }
}

/// Per symbol, the kinds of data no provider answered for and the errors.
#[derive(Default)]
struct Failures(BTreeMap<String, (BTreeSet<DataKind>, Vec<String>)>);

impl Failures {
    fn add(&mut self, symbol: String, kind: DataKind, error: String) {
        let (kinds, errors) = self.0.entry(symbol).or_default();
        kinds.insert(kind);
        errors.push(error);
    }
}

/// Symbols with a missing session that every provider failed to answer (a provider dropped
/// earlier in the run answers with the refusal that dropped it): a gap no provider
/// explained. A session simply absent from a provider that answered (a halt, a later
/// listing) is not a failure.
fn unserved_bars(chain: &ProviderChain, outcome: &BarsOutcome) -> Vec<(String, String)> {
    let order = chain.order();
    let mut unserved = Vec::new();
    for (symbol, dates) in &outcome.missing {
        for date in dates {
            let date = date.to_string();
            let errors: Vec<_> = outcome
                .failures
                .iter()
                .filter(|(what, _)| what == symbol || *what == date)
                .map(|(_, e)| e)
                .collect();
            let every_provider_failed = order
                .iter()
                .all(|p| errors.iter().any(|e| e.provider() == *p));
            if every_provider_failed {
                let mut text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                text.dedup();
                let message = text.join("; ");
                unserved.push((symbol.clone(), format!("bars of {date}: {message}")));
                break;
            }
        }
    }
    unserved
}
