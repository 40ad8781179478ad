//! The deep re-check of corporate actions. Each night asks the providers for splits and
//! dividends only in the run's window, which overlaps the stored data by a few days, so a
//! split or dividend a provider publishes later for an earlier date (a late filing, a
//! restatement) would never be fetched. Once every `WESTON_EVENTS_RECHECK_DAYS` days, on a
//! night chosen by the symbol (the metadata refresh's choice, so the universe is spread
//! evenly), a symbol's splits and dividends over its whole stored history are asked again:
//! what is new is added, a stored event the provider now gives another ratio or amount is
//! replaced and recorded as an `event_restated` finding. What a DBA corrected or deleted
//! stays as the DBA left it (the batch's own rules, `store`).

use std::collections::HashSet;

use anyhow::Context;
use chrono::NaiveDate;
use sqlx::{Connection, PgConnection};

use crate::model::{Batch, EventsRecheck, RunStats, Sourced};
use crate::providers::ProviderChain;
use crate::quality::{rule, Finding};
use crate::store::EventChange;

/// Lines kept per list in `etl_run.stats` (the log has every one).
const KEPT: usize = 100;

/// The symbols among `symbols` whose whole history is due on `today`, every `period_days`.
pub fn due(symbols: &[String], today: NaiveDate, period_days: u32) -> Vec<String> {
    symbols
        .iter()
        .filter(|s| crate::plan::metadata_refresh_due(s, today, period_days))
        .cloned()
        .collect()
}

/// Asks the history of the run's `symbols` due tonight (not those no provider served in this
/// run) and writes what changed, counted in `stats.events_recheck`.
pub async fn recheck(
    conn: &mut PgConnection,
    chain: &ProviderChain,
    run_id: i64,
    symbols: &[String],
    (period_days, today, to): (u32, NaiveDate, NaiveDate),
    stats: &mut RunStats,
) -> anyhow::Result<()> {
    if period_days == 0 {
        return Ok(());
    }
    let unserved: HashSet<&str> = stats.unserved.iter().map(|u| u.symbol.as_str()).collect();
    let wanted: Vec<String> = due(symbols, today, period_days)
        .into_iter()
        .filter(|s| !unserved.contains(s.as_str()))
        .collect();
    let mut summary = EventsRecheck {
        period_days,
        ..EventsRecheck::default()
    };
    // From each symbol's first stored bar: an event before it adjusts nothing stored.
    let histories: Vec<(String, NaiveDate)> = sqlx::query_as(
        "SELECT s, f FROM unnest($1::text[]) s
          CROSS JOIN LATERAL (SELECT min(p.date) AS f FROM prices_daily p WHERE p.symbol = s) m
         WHERE f IS NOT NULL AND f <= $2 ORDER BY s",
    )
    .bind(&wanted)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .context("reading the first stored bar of the symbols whose events are re-checked")?;
    summary.symbols = histories.len();
    let mut batch = ask(chain, histories, to, &mut summary).await;
    for r in crate::validate::validate(&mut batch, today) {
        tracing::warn!(symbol = %r.symbol, date = ?r.date, rule = r.rule, "re-checked event rejected: {r}");
        keep(&mut summary.rejected, r.to_string());
    }
    if !batch.splits.is_empty() || !batch.dividends.is_empty() {
        crate::store::prepare_staging(&mut *conn).await?;
        let mut tx = conn.begin().await?;
        let (written, changes) = crate::store::write_events(&mut tx, run_id, &batch)
            .await
            .context("writing the re-checked splits and dividends")?;
        let findings = note_changes(&changes, &mut summary);
        crate::findings::record(&mut tx, run_id, &findings)
            .await
            .context("recording the restated events")?;
        tx.commit().await?;
        stats.written.add(written);
        stats.batches += 1;
    }
    tracing::info!(
        run_id,
        symbols = summary.symbols,
        splits_added = summary.splits_added,
        dividends_added = summary.dividends_added,
        restated = summary.restated.len(),
        failed = summary.failed.len(),
        "deep re-check of corporate actions done"
    );
    stats.events_recheck = Some(summary);
    Ok(())
}

/// Each symbol's splits and dividends from its first stored bar through `to`; a symbol a
/// provider could not answer for is listed in `summary.failed` (asked again in a period).
/// One symbol after the other: the providers' rate limiters pace the calls anyway, and the
/// symbols due are a small share of the universe.
async fn ask(
    chain: &ProviderChain,
    histories: Vec<(String, NaiveDate)>,
    to: NaiveDate,
    summary: &mut EventsRecheck,
) -> Batch {
    let mut batch = Batch::default();
    for (symbol, from) in histories {
        let splits = chain.splits(&symbol, from, to).await;
        let dividends = chain.dividends(&symbol, from, to).await;
        match (splits, dividends) {
            (Ok(splits), Ok(dividends)) => {
                let (by, rows) = (splits.provider, splits.row);
                let sourced = rows.into_iter().map(|row| Sourced { provider: by, row });
                batch.splits.extend(sourced);
                let (by, rows) = (dividends.provider, dividends.row);
                let sourced = rows.into_iter().map(|row| Sourced { provider: by, row });
                batch.dividends.extend(sourced);
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(symbol = %symbol, "the deep re-check of its events failed: {e}");
                keep(&mut summary.failed, format!("{symbol}: {e}"));
            }
        }
    }
    batch
}

/// Counts what the write added and restated; the findings of the restated events.
fn note_changes(changes: &[EventChange], summary: &mut EventsRecheck) -> Vec<Finding> {
    let mut findings = Vec::new();
    for c in changes {
        if c.stored.is_none() {
            match c.kind.as_str() {
                "split" => summary.splits_added += 1,
                _ => summary.dividends_added += 1,
            }
            tracing::info!(symbol = %c.symbol, date = %c.date, kind = %c.kind, now = %c.now,
                provider = %c.now_by, "re-check: event added");
            keep(
                &mut summary.added,
                format!(
                    "{} {} {} {} ({})",
                    c.symbol, c.kind, c.date, c.now, c.now_by
                ),
            );
            continue;
        }
        let stored = c.stored.as_deref().unwrap_or_default();
        let stored_by = c.stored_by.as_deref().unwrap_or_default();
        tracing::warn!(symbol = %c.symbol, date = %c.date, kind = %c.kind, stored, now = %c.now,
            "re-check: a provider restated a stored event");
        keep(
            &mut summary.restated,
            format!(
                "{} {} {}: {stored} ({stored_by}) now {} ({})",
                c.symbol, c.kind, c.date, c.now, c.now_by
            ),
        );
        findings.push(Finding {
            rule: rule::EVENT_RESTATED,
            symbol: c.symbol.clone(),
            date: c.date,
            subject: c.kind.clone(),
            details: serde_json::json!({
                "stored": stored, "stored_by": stored_by, "now": c.now, "now_by": c.now_by,
            }),
        });
    }
    findings
}

fn keep(list: &mut Vec<String>, line: String) {
    if list.len() < KEPT {
        list.push(line);
    }
}

/// `status`'s lines for a run's re-check.
pub fn render(recheck: &EventsRecheck) -> String {
    let mut out = format!(
        "         events re-checked (every {} days): {} symbols' whole history, {} splits and {} dividends added, {} restated, {} failed\n",
        recheck.period_days,
        recheck.symbols,
        recheck.splits_added,
        recheck.dividends_added,
        recheck.restated.len(),
        recheck.failed.len()
    );
    let lists = [
        ("event added", &recheck.added),
        ("event restated", &recheck.restated),
        ("re-check failed", &recheck.failed),
        ("re-checked event rejected", &recheck.rejected),
    ];
    for (label, lines) in lists {
        for line in lines {
            out.push_str(&format!("         {label}: {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_symbol_is_due_once_a_period_and_the_universe_is_spread() {
        let universe: Vec<String> = (1..=750).map(crate::providers::mock::mock_symbol).collect();
        let start = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let nights: Vec<Vec<String>> = (0..30)
            .map(|i| due(&universe, start + chrono::Duration::days(i), 30))
            .collect();
        let mut seen: Vec<&String> = nights.iter().flatten().collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 750, "every symbol once in 30 nights");
        assert_eq!(nights.iter().map(Vec::len).sum::<usize>(), 750);
        assert!(
            nights.iter().all(|n| n.len() <= 50),
            "no night takes a large share"
        );
        assert!(due(&universe, start, 0).is_empty(), "0: off");
        assert_eq!(due(&universe, start, 1).len(), 750, "1: every night");
    }
}
