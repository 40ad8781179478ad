//! Reconciliation: with two providers configured, each night a sample of the universe's
//! latest stored sessions is asked of a provider other than the one that supplied it, and
//! close (basis points) and volume (ratio) are compared. Rounding (a cent, a hundred
//! shares) never counts; a disagreement beyond the thresholds is a `provider_disagreement`
//! finding whose subject names the field and the provider pair. A second provider that
//! fails, or answers without the session, is reported (stats, log), never read as agreeing.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::PgConnection;

use crate::audit::Auditor;
use crate::model::{DailyBar, ReconcileStats};
use crate::providers::Provider;
use crate::quality::{rule, Finding, Thresholds};

/// A sampled stored bar: what is compared, and who supplied it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub symbol: String,
    pub date: NaiveDate,
    pub close: Decimal,
    pub volume: Decimal,
    pub provider: String,
}

/// Samples `sample` securities' latest bars, asks the other provider, records the
/// disagreements through `auditor`. `None` with fewer than two providers.
pub async fn reconcile(
    conn: &mut PgConnection,
    auditor: &mut Auditor,
    providers: &[Arc<dyn Provider>],
    sample: usize,
    night: NaiveDate,
) -> anyhow::Result<Option<ReconcileStats>> {
    if providers.len() < 2 {
        return Ok(None);
    }
    let rows: Vec<(String, NaiveDate, Decimal, Decimal, String)> =
        sqlx::query_as(include_str!("../sql/reconcile_sample.sql"))
            .bind(i64::try_from(sample).unwrap_or(i64::MAX))
            .bind(night.to_string())
            .fetch_all(&mut *conn)
            .await
            .context("sampling the latest sessions to reconcile")?;
    let mut stats = ReconcileStats {
        sampled: rows.len(),
        ..ReconcileStats::default()
    };
    // Asked of the first configured provider that did not supply the stored bar.
    let mut asks: BTreeMap<(usize, NaiveDate), Vec<Stored>> = BTreeMap::new();
    for (symbol, date, close, volume, provider) in rows {
        let Some(other) = providers.iter().position(|p| p.name().as_str() != provider) else {
            stats.unanswered.push(symbol);
            continue;
        };
        asks.entry((other, date)).or_default().push(Stored {
            symbol,
            date,
            close,
            volume,
            provider,
        });
    }
    let mut found = Vec::new();
    for ((other, date), stored) in asks {
        let provider = &providers[other];
        let answers = ask(provider.as_ref(), date, &stored, &mut stats.errors).await;
        for s in &stored {
            match answers.get(&s.symbol) {
                Some(bar) => {
                    stats.compared += 1;
                    found.extend(compare(
                        s,
                        bar,
                        provider.name().as_str(),
                        auditor.thresholds(),
                    ));
                }
                None => stats.unanswered.push(s.symbol.clone()),
            }
        }
    }
    for e in &stats.errors {
        tracing::error!(error = %e, "reconciliation: the second provider failed; its sample is unanswered, not agreeing");
    }
    if !stats.unanswered.is_empty() {
        tracing::warn!(unanswered = ?stats.unanswered, "reconciliation: sessions no second provider gave");
    }
    stats.disagreements = found.len() as u64;
    auditor.note(&found);
    let recorded = crate::findings::record(conn, auditor.run_id(), &found)
        .await
        .context("recording the reconciliation's findings")?;
    auditor.add_recorded(recorded);
    Ok(Some(stats))
}

/// The other provider's bars of `stored` on `date`, by symbol: one grouped call when the
/// provider has one and more than one symbol is asked, else a call per symbol.
async fn ask(
    provider: &dyn Provider,
    date: NaiveDate,
    stored: &[Stored],
    errors: &mut Vec<String>,
) -> BTreeMap<String, DailyBar> {
    let mut out = BTreeMap::new();
    let wanted = |b: &DailyBar| b.date == date && stored.iter().any(|s| s.symbol == b.symbol);
    if provider.has_grouped_daily() && stored.len() > 1 {
        match provider.grouped_daily(date).await {
            Ok(Some(bars)) => {
                out.extend(
                    bars.into_iter()
                        .filter(wanted)
                        .map(|b| (b.symbol.clone(), b)),
                );
                return out;
            }
            Ok(None) => {}
            Err(e) => {
                errors.push(format!("{} grouped daily {date}: {e}", provider.name()));
                return out;
            }
        }
    }
    for s in stored {
        match provider.daily_bars(&s.symbol, date, date).await {
            Ok(bars) => out.extend(
                bars.into_iter()
                    .filter(wanted)
                    .map(|b| (b.symbol.clone(), b)),
            ),
            Err(e) => errors.push(format!(
                "{} bars of {} {date}: {e}",
                provider.name(),
                s.symbol
            )),
        }
    }
    out
}

/// The stored bar against another provider's: a finding per field beyond rounding and
/// the thresholds.
pub fn compare(
    stored: &Stored,
    other: &DailyBar,
    other_name: &str,
    t: &Thresholds,
) -> Vec<Finding> {
    let pair = format!("{}/{other_name}", stored.provider);
    let mut out = Vec::new();
    let finding = |field: &str, details: serde_json::Value| Finding {
        rule: rule::PROVIDER_DISAGREEMENT,
        symbol: stored.symbol.clone(),
        date: stored.date,
        subject: format!("{field} {pair}"),
        details,
    };
    let close_diff = (stored.close - other.close).abs();
    let low = stored.close.min(other.close);
    let bps = (close_diff * Decimal::from(10_000))
        .checked_div(low)
        .unwrap_or(Decimal::MAX);
    if close_diff > t.close_rounding && bps > t.close_max_bps {
        out.push(finding(
            "close",
            json!({"stored": stored.close, "other": other.close, "providers": pair,
                   "bps": bps.round_dp(1), "max_bps": t.close_max_bps, "rounding": t.close_rounding}),
        ));
    }
    let volume_diff = (stored.volume - other.volume).abs();
    let (small, large) = (
        stored.volume.min(other.volume),
        stored.volume.max(other.volume),
    );
    let ratio = large.checked_div(small).unwrap_or(Decimal::MAX);
    if volume_diff > t.volume_rounding && ratio > t.volume_max_ratio {
        out.push(finding(
            "volume",
            json!({"stored": stored.volume, "other": other.volume, "providers": pair,
                   "ratio": ratio.round_dp(4), "max_ratio": t.volume_max_ratio, "rounding": t.volume_rounding}),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(close: &str, volume: i64) -> Stored {
        Stored {
            symbol: "AAPL".into(),
            date: "2024-03-11".parse().unwrap(),
            close: close.parse().unwrap(),
            volume: Decimal::from(volume),
            provider: "fmp".into(),
        }
    }

    fn other(close: &str, volume: i64) -> DailyBar {
        let close: Decimal = close.parse().unwrap();
        DailyBar {
            symbol: "AAPL".into(),
            date: "2024-03-11".parse().unwrap(),
            open: close,
            high: close,
            low: close,
            close,
            volume: Decimal::from(volume),
            vwap: None,
        }
    }

    fn subjects(s: &Stored, o: &DailyBar) -> Vec<String> {
        compare(s, o, "polygon", &Thresholds::default())
            .into_iter()
            .map(|f| f.subject)
            .collect::<Vec<_>>()
    }

    #[test]
    fn rounding_is_no_disagreement() {
        // FMP's cents and hundreds against Polygon's four decimals and exact shares.
        assert!(subjects(
            &stored("131.26", 48_734_500),
            &other("131.2636", 48_734_567)
        )
        .is_empty());
        // A penny stock: a cent is 100 bp, still rounding.
        assert!(subjects(&stored("1.01", 1_200), &other("1.0049", 1_157)).is_empty());
        // A few percent of volume is consolidated-tape noise.
        assert!(subjects(&stored("50", 1_000_000), &other("50", 1_080_000)).is_empty());
    }

    #[test]
    fn real_disagreements_are_findings_naming_field_and_pair() {
        // An adjusted close against a raw one, and volume from another session.
        assert_eq!(
            subjects(&stored("499.23", 1_000_000), &other("124.81", 4_000_000)),
            ["close fmp/polygon", "volume fmp/polygon"]
        );
        assert_eq!(
            subjects(&stored("100.00", 1_000), &other("100.40", 1_000)),
            ["close fmp/polygon"]
        );
        assert_eq!(
            subjects(&stored("10", 0), &other("10", 5_000)),
            ["volume fmp/polygon"]
        );
    }
}
