//! Detection of ticker changes, delistings and reused tickers, run by `run` before the
//! bars are gathered. Cheap by design: one listing of every recent change (FMP's
//! `symbol-change` and `delisted-companies`, Polygon's inactive tickers by delisting date,
//! the mock's fixed events), then one ticker at a time only for the symbols that stopped
//! receiving bars or whose row says delisted. A failed listing is never read as "no
//! changes": it is recorded in `etl_run.stats.identity.listing_failed` and the run ends
//! `partial`.

mod apply;
mod conflict;
mod settle;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use sqlx::PgConnection;

use crate::model::{IdentityStats, LifeEvent, PendingEvent, ProviderName};
use crate::providers::ProviderChain;
use apply::{holder, Writer};

/// The query that picks the symbols worth asking about (public for the test of its plan).
pub const SUSPECTS_SQL: &str = include_str!("../../sql/identity_suspects.sql");

/// What detection learned, and the tickers that joined the run.
#[derive(Debug, Default)]
pub struct Detected {
    pub stats: IdentityStats,
    /// New tickers of renamed securities and relisted tickers, to load in this run.
    pub added: Vec<String>,
}

/// Detects and records the life events of `symbols` (the run's) effective in `window`.
pub async fn detect(
    conn: &mut PgConnection,
    has: crate::provides::Provides,
    chain: &Arc<ProviderChain>,
    run_id: i64,
    symbols: &[String],
    (from, to): (NaiveDate, NaiveDate),
) -> anyhow::Result<Detected> {
    let mut stats = IdentityStats::default();
    let mut writer = Writer {
        conn,
        run_id,
        window_start: from,
        stats: &mut stats,
        added: Vec::new(),
        pending: Vec::new(),
    };
    let ours: BTreeSet<&str> = symbols.iter().map(String::as_str).collect();
    // Events earlier runs could not record are tried first, whatever this run's window.
    let mut hints: BTreeMap<String, (ProviderName, NaiveDate)> = BTreeMap::new();
    let mut retried: BTreeSet<String> = BTreeSet::new();
    for event in pending(&mut *writer.conn, run_id).await? {
        match event {
            PendingEvent::Renamed {
                provider,
                old,
                new,
                effective,
                first_day,
            } => {
                writer
                    .renamed(provider, &old, &new, effective, first_day)
                    .await
            }
            PendingEvent::Delisted {
                provider,
                symbol,
                last_day,
                first_day,
            } => {
                writer
                    .delisted(provider, &symbol, last_day, first_day)
                    .await
            }
            PendingEvent::Investigate { symbol, hint } => {
                if let Some(hint) = hint {
                    hints.insert(symbol.clone(), hint);
                }
                retried.insert(symbol);
            }
        }
    }
    let listing = chain.life_events(from, to).await;
    for why in &listing.rejected {
        tracing::warn!("{why}");
    }
    writer.stats.rejected.extend(listing.rejected);
    if !listing.answered {
        let why = if listing.failures.is_empty() {
            "no provider of this run lists ticker changes and delistings".to_owned()
        } else {
            listing.failures.join("; ")
        };
        if !listing.failures.is_empty() {
            tracing::error!("ticker changes and delistings for {from}..{to} are unknown: {why}");
            writer
                .stats
                .listing_failed
                .push(format!("ticker changes and delistings {from}..{to}: {why}"));
        }
    }
    // Renames are recorded at once; a listed delisting is checked one ticker at a time
    // where a provider can (Polygon lists a renamed ticker as inactive too), else recorded.
    let (events, rejected) = settle::listed(&mut *writer.conn, listing.events, &ours).await?;
    writer.stats.rejected.extend(rejected);
    for event in events {
        match &event.row {
            LifeEvent::Renamed {
                old,
                new,
                effective,
            } if ours.contains(old.as_str()) => {
                let first_day = first_day_before(&mut writer, chain, old, new, *effective).await?;
                writer
                    .renamed(event.provider, old, new, *effective, first_day)
                    .await;
            }
            LifeEvent::Delisted { symbol, last_day } if ours.contains(symbol.as_str()) => {
                hints.insert(symbol.clone(), (event.provider, *last_day));
            }
            _ => {}
        }
    }
    let suspects_sql = if has.price_last_dates {
        SUSPECTS_SQL
    } else {
        include_str!("../../sql/identity_suspects_probed.sql")
    };
    let mut suspects: BTreeSet<String> = sqlx::query_scalar::<_, String>(suspects_sql)
        .bind(symbols)
        .fetch_all(&mut *writer.conn)
        .await?
        .into_iter()
        .collect();
    suspects.extend(hints.keys().cloned());
    suspects.extend(retried);
    // A renamed ticker is asked about too: a new security may have taken it (GOOG in 2014).
    for symbol in &suspects {
        writer.stats.investigated += 1;
        investigate(&mut writer, chain, symbol, hints.get(symbol).copied()).await?;
    }
    let successors: Vec<String> =
        sqlx::query_scalar(include_str!("../../sql/identity_successors.sql"))
            .bind(symbols)
            .fetch_all(&mut *writer.conn)
            .await?;
    writer.added.extend(successors);
    let mut added = std::mem::take(&mut writer.added);
    added.sort();
    added.dedup();
    stats.pending = Some(std::mem::take(&mut writer.pending));
    Ok(Detected { stats, added })
}

/// The events the last run that detected could not record (`etl_run.stats.identity.pending`).
async fn pending(conn: &mut PgConnection, run_id: i64) -> anyhow::Result<Vec<PendingEvent>> {
    let last: Option<sqlx::types::Json<Vec<PendingEvent>>> = sqlx::query_scalar(
        "SELECT stats->'identity'->'pending' FROM etl_run
          WHERE run_id < $1 AND stats->'identity' ? 'pending'
          ORDER BY run_id DESC LIMIT 1",
    )
    .bind(run_id)
    .fetch_optional(conn)
    .await?
    .flatten();
    Ok(last.map(|j| j.0).unwrap_or_default())
}

/// The first day of the security renamed away from `old`, when its ticker's history is not
/// stored yet and a provider describes that security: the history then starts where it
/// would had the ticker been asked about first (a backfill's stored rows or none alike).
async fn first_day_before(
    writer: &mut Writer<'_>,
    chain: &ProviderChain,
    old: &str,
    new: &str,
    effective: NaiveDate,
) -> anyhow::Result<Option<NaiveDate>> {
    if holder(writer.conn, old).await?.is_some_and(|h| h.tracked) {
        return Ok(None);
    }
    let answer = chain.ticker_identity(old).await.ok().flatten();
    Ok(answer
        .map(|a| a.row)
        .filter(|id| id.renamed_to.as_ref() == Some(&(new.to_owned(), effective)))
        .and_then(|id| id.listed))
}

/// Asks the providers about one ticker and records what changed: a rename, a delisting,
/// or a new security holding it (reused ticker or share-class move). `hint`: a delisting a
/// listing reported, recorded when no provider says more.
async fn investigate(
    writer: &mut Writer<'_>,
    chain: &ProviderChain,
    symbol: &str,
    hint: Option<(ProviderName, NaiveDate)>,
) -> anyhow::Result<()> {
    let answer = match chain.ticker_identity(symbol).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(%symbol, "could not investigate the ticker: {e}");
            writer
                .stats
                .conflicts
                .push(format!("{symbol}: not investigated: {e}"));
            None
        }
    };
    let Some(answer) = answer else {
        if let Some((provider, last_day)) = hint {
            if holder(writer.conn, symbol)
                .await?
                .is_none_or(|h| h.last_day.is_none())
            {
                writer.delisted(provider, symbol, last_day, None).await;
            }
        }
        return Ok(());
    };
    let (provider, id) = (answer.provider, answer.row);
    let ended = id.renamed_to.is_some() || id.last_day.is_some();
    // Not stored yet (a first run), or only as a row (a backfill's) of a holder that ended.
    if holder(writer.conn, symbol)
        .await?
        .is_none_or(|h| !h.tracked && ended)
    {
        // Its history starts before the event is recorded, from the first day the provider
        // gives for this holder (not for a new one).
        writer
            .start_history(provider, symbol, id.listed.filter(|_| ended))
            .await;
    }
    let Some(old) = holder(writer.conn, symbol).await? else {
        return Ok(());
    };
    let open = old.last_day.is_none();
    if let Some((new, effective)) = &id.renamed_to {
        // Open, or closed by a delisting that was in fact this change.
        let closed_by_it = old.continued_from.is_none()
            && old
                .last_day
                .is_some_and(|d| Some(d) >= effective.pred_opt());
        if open || closed_by_it {
            writer
                .renamed(provider, symbol, new, *effective, id.listed)
                .await;
        }
        return Ok(());
    }
    if let Some(last_day) = id.last_day {
        if open {
            writer.delisted(provider, symbol, last_day, id.listed).await;
        }
        return Ok(());
    }
    // The provider describes a current holder: is it the stored one?
    let old_end = old.last_day.or(hint.map(|(_, d)| d));
    let differs =
        |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if a != b);
    let listed_after_end = matches!((id.listed, old_end), (Some(l), Some(e)) if l > e);
    let figi_unknown = id.composite_figi.is_none() || old.composite_figi.is_none();
    let another = differs(&id.composite_figi, &old.composite_figi)
        || (figi_unknown && differs(&id.cik, &old.cik))
        || listed_after_end;
    if another {
        match id.listed {
            Some(listed) => writer.relisted(provider, &id, &old, old_end, listed).await,
            None => writer.stats.conflicts.push(format!(
                "{symbol}: {provider} describes another security (FIGI {}) without its first day; nothing recorded",
                id.composite_figi.as_deref().unwrap_or("unknown")
            )),
        }
    } else if let (Some((provider, last_day)), true) = (hint, open) {
        writer.delisted(provider, symbol, last_day, None).await;
    }
    Ok(())
}
