//! The data-quality rules, pure: one security's stored bars, splits and dividends in, the
//! findings out. Nothing here reads or writes the database; the thresholds are data
//! (`Thresholds`, deserialisable from a rule's `params` jsonb), each default justified
//! where it is declared.
//! The database side is `crate::findings` (storing) and `crate::audit` (reading, running).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{DailyBar, Dividend, Split};

mod rules;
#[cfg(test)]
mod tests;

/// The rules' names, as stored in `quality_findings.rule`.
pub mod rule {
    pub const MISSING_SESSION: &str = "missing_session";
    pub const NON_SESSION_BAR: &str = "non_session_bar";
    pub const UNRECORDED_SPLIT: &str = "unrecorded_split";
    pub const SPLIT_WITHOUT_JUMP: &str = "split_without_jump";
    pub const UNIT_ERROR: &str = "unit_error";
    pub const STALE_BARS: &str = "stale_bars";
    pub const ZERO_VOLUME_MOVE: &str = "zero_volume_move";
    pub const VWAP_OUTSIDE_RANGE: &str = "vwap_outside_range";
    pub const DIVIDEND_TOO_LARGE: &str = "dividend_too_large";
    pub const DIVIDEND_DUPLICATE: &str = "dividend_duplicate";
    /// Not an audit rule: a provider gave a stored ticker to another security (identity).
    pub const TICKER_REUSED: &str = "ticker_reused";
    /// Not an audit rule: a reported ticker change onto another live security's ticker,
    /// recorded for a DBA's decision instead of the change (identity).
    pub const TICKER_CONFLICT: &str = "ticker_conflict";
    /// Reconciliation: the stored bar and a second provider's disagree.
    pub const PROVIDER_DISAGREEMENT: &str = "provider_disagreement";
    /// Not an audit rule: a provider restated a stored split or dividend (the deep re-check).
    pub const EVENT_RESTATED: &str = "event_restated";
}

/// What the rules flag and when. Defaults follow yfinance's price repair where it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Split ratios looked for in price jumps (and their inverses, for reverse splits): the
    /// ratios US issuers actually use; a 1000:31-like odd ratio is caught as an unexplained
    /// jump only when it is near one of these.
    pub split_ratios: Vec<Decimal>,
    /// How far (relative) a close-to-open jump may be from a split ratio and still count as
    /// that split. yfinance accepts about 5-10 % around the ratio; 10 % keeps a 2:1 split on a
    /// day the stock also moved 8 % while a 30 % daily move (≈ 1.43) is never a 2:1 split.
    pub split_tolerance: Decimal,
    /// The volume must move the other way by at least this share of the split's move (a 4:1
    /// split roughly quadruples the shares traded: half of that is ×2.5): half, because
    /// volume varies a lot day to day, yet a plain price drop on ordinary volume is no split.
    pub split_volume_share: Decimal,
    /// A recorded split within this many calendar days of a jump explains it (a provider's
    /// ex-date may be a session off).
    pub split_window_days: i64,
    /// A close this many times the median of its neighbours (or its inverse) is a unit error
    /// (yfinance's 100× repair looks for exactly 100 with a ±~30 % band: 70..130).
    pub unit_factor_low: Decimal,
    pub unit_factor_high: Decimal,
    /// Neighbours on each side for that median (yfinance uses a small centred window).
    pub unit_window: usize,
    /// Identical OHLC with zero volume for at least this many sessions in a row is stale
    /// (one such session happens on thin names; three in a row is a feed that stopped).
    pub stale_sessions: usize,
    /// A dividend above this share of the close before its ex-date is implausible (the
    /// largest regular US dividends are a few percent a quarter; special dividends above
    /// half the price are rare enough to review).
    pub dividend_max_share: Decimal,
    /// Two dividends within this many calendar days are a duplicate (quarterly and monthly
    /// payers are at least about four weeks apart).
    pub dividend_duplicate_days: i64,
    /// Reconciliation: a close differing from a second provider's by more than this many
    /// basis points (beyond `close_rounding`) is a disagreement; a real one (an adjusted
    /// close, another session's bar) is percents, rounding is far below.
    pub close_max_bps: Decimal,
    /// Absolute close difference that is rounding whatever the price: one cent (FMP rounds
    /// to the cent where Polygon gives 131.2636).
    pub close_rounding: Decimal,
    /// Volumes whose larger is more than this times the smaller disagree (providers'
    /// consolidated volumes differ by a few percent from late trade reports).
    pub volume_max_ratio: Decimal,
    /// Absolute volume difference that is rounding: FMP rounds volumes to the hundred.
    pub volume_rounding: Decimal,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            split_ratios: [2, 3, 4, 5, 8, 10, 15, 20, 25, 30, 50]
                .into_iter()
                .map(Decimal::from)
                .chain([Decimal::new(15, 1)]) // 3-for-2
                .collect(),
            split_tolerance: Decimal::new(10, 2),
            split_volume_share: Decimal::new(5, 1),
            split_window_days: 5,
            unit_factor_low: Decimal::from(70),
            unit_factor_high: Decimal::from(130),
            unit_window: 5,
            stale_sessions: 3,
            dividend_max_share: Decimal::new(5, 1),
            dividend_duplicate_days: 7,
            close_max_bps: Decimal::from(25),
            close_rounding: Decimal::new(1, 2),
            volume_max_ratio: Decimal::new(12, 1),
            volume_rounding: Decimal::from(100),
        }
    }
}

impl Thresholds {
    /// The thresholds from `quality_thresholds` rows (rule, params object): the rows'
    /// keys merged over the defaults. An unknown key, a key two rows set, or a value of
    /// the wrong type is an error naming the row.
    pub fn from_rows(rows: &[(String, serde_json::Value)]) -> Result<Thresholds, String> {
        let mut merged = serde_json::Map::new();
        let mut set_by: std::collections::BTreeMap<String, &str> = Default::default();
        for (rule, params) in rows {
            let object = params
                .as_object()
                .ok_or_else(|| format!("quality_thresholds {rule:?}: params is not an object"))?;
            serde_json::from_value::<Thresholds>(params.clone())
                .map_err(|e| format!("quality_thresholds {rule:?}: {e}"))?;
            for (key, value) in object {
                if let Some(other) = set_by.insert(key.clone(), rule) {
                    return Err(format!(
                        "quality_thresholds: {key:?} is set by both {other:?} and {rule:?}"
                    ));
                }
                merged.insert(key.clone(), value.clone());
            }
        }
        serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| format!("quality_thresholds: {e}"))
    }
}

/// One security's stored history, oldest first, as the rules read it.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub symbol: String,
    pub bars: Vec<DailyBar>,
    pub splits: Vec<Split>,
    pub dividends: Vec<Dividend>,
}

/// What a rule found: the rule, the date it concerns, the values and thresholds that
/// triggered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub symbol: String,
    pub date: NaiveDate,
    /// Tells two findings of one rule on one day apart (reconciliation's field and
    /// provider pair); empty when the rule needs none.
    pub subject: String,
    pub details: serde_json::Value,
}

/// Every rule over `history`, findings on dates in `[from, to]` only (the rules look at the
/// bars before `from` for context, so an incremental audit passes a few sessions more).
pub fn audit(
    history: &History,
    (from, to): (NaiveDate, NaiveDate),
    thresholds: &Thresholds,
) -> Vec<Finding> {
    // Stored histories come sorted: copied only when one is not.
    let sorted;
    let history = if history.bars.is_sorted_by_key(|b| b.date) {
        history
    } else {
        let mut bars = history.bars.clone();
        bars.sort_by_key(|b| b.date);
        sorted = History {
            bars,
            ..history.clone()
        };
        &sorted
    };
    let mut findings = Vec::new();
    rules::sessions(history, &mut findings);
    rules::splits(history, thresholds, &mut findings);
    rules::unit_errors(history, thresholds, &mut findings);
    rules::stale_and_volume(history, thresholds, &mut findings);
    rules::dividends(history, thresholds, &mut findings);
    findings.retain(|f| (from..=to).contains(&f.date));
    findings.sort_by(|a, b| (a.date, a.rule).cmp(&(b.date, b.rule)));
    findings
}
