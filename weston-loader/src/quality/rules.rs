//! The rules themselves, each appending its findings. Bars are sorted by date.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde_json::json;

use super::{rule, Finding, History, Thresholds};
use crate::calendar;
use crate::model::DailyBar;

fn finding(
    rule: &'static str,
    history: &History,
    date: chrono::NaiveDate,
    details: serde_json::Value,
) -> Finding {
    Finding {
        rule,
        symbol: history.symbol.clone(),
        date,
        subject: String::new(),
        details,
    }
}

/// `a / b`, `None` when `b` is zero.
fn ratio(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_div(b)
}

/// Whether `value` is within `tolerance` (relative) of `target`.
fn near(value: Decimal, target: Decimal, tolerance: Decimal) -> bool {
    ratio(value, target).is_some_and(|r| (r - Decimal::ONE).abs() <= tolerance)
}

/// Sessions missing between the first and last bar, and bars on days the NYSE was closed.
pub(super) fn sessions(history: &History, out: &mut Vec<Finding>) {
    let (Some(first), Some(last)) = (history.bars.first(), history.bars.last()) else {
        return;
    };
    let have: BTreeSet<_> = history.bars.iter().map(|b| b.date).collect();
    for day in calendar::trading_days(first.date, last.date) {
        if !have.contains(&day) {
            out.push(finding(
                rule::MISSING_SESSION,
                history,
                day,
                json!({"first_bar": first.date, "last_bar": last.date}),
            ));
        }
    }
    for bar in &history.bars {
        if !calendar::is_trading_day(bar.date) {
            out.push(finding(
                rule::NON_SESSION_BAR,
                history,
                bar.date,
                json!({"close": bar.close, "volume": bar.volume}),
            ));
        }
    }
}

/// The split ratio (before/after price) `jump` is near, if any: the configured ratios and
/// their inverses.
fn split_ratio_near(jump: Decimal, t: &Thresholds) -> Option<Decimal> {
    t.split_ratios
        .iter()
        .flat_map(|&r| [Some(r), ratio(Decimal::ONE, r)])
        .flatten()
        .find(|&r| near(jump, r, t.split_tolerance))
}

/// Whether the volume moved the other way by at least `split_volume_share` of the move a
/// split of `split` (before/after price ratio) makes: a 2:1 split needs the volume up by half
/// at least, a 1:8 reverse split needs it down to 1/4.5 at most.
fn volume_confirms(before: &DailyBar, after: &DailyBar, split: Decimal, t: &Thresholds) -> bool {
    let Some(volume_ratio) = ratio(after.volume, before.volume) else {
        return false;
    };
    let needed = |r: Decimal| Decimal::ONE + (r - Decimal::ONE) * t.split_volume_share;
    if split > Decimal::ONE {
        volume_ratio >= needed(split)
    } else {
        ratio(Decimal::ONE, split).is_some_and(|r| volume_ratio * needed(r) <= Decimal::ONE)
    }
}

/// Price jumps near a split ratio, with the volume confirming, that no recorded split
/// explains; and recorded splits the prices do not show.
pub(super) fn splits(history: &History, t: &Thresholds, out: &mut Vec<Finding>) {
    let recorded_near = |date: chrono::NaiveDate| {
        history
            .splits
            .iter()
            .any(|s| (s.date - date).num_days().abs() <= t.split_window_days)
    };
    for pair in history.bars.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let Some(jump) = ratio(before.close, after.open) else {
            continue;
        };
        if let Some(split) = split_ratio_near(jump, t) {
            if volume_confirms(before, after, split, t) && !recorded_near(after.date) {
                out.push(finding(
                    rule::UNRECORDED_SPLIT,
                    history,
                    after.date,
                    json!({"close_before": before.close, "open": after.open, "price_ratio": jump.round_dp(4),
                           "near_ratio": split.round_dp(4), "volume_before": before.volume, "volume": after.volume,
                           "tolerance": t.split_tolerance, "window_days": t.split_window_days}),
                ));
            }
        }
    }
    for split in &history.splits {
        let Some(i) = history.bars.iter().position(|b| b.date >= split.date) else {
            continue;
        };
        if i == 0 {
            continue;
        }
        let (before, after) = (&history.bars[i - 1], &history.bars[i]);
        let (Some(expected), Some(jump)) = (
            ratio(split.numerator, split.denominator),
            ratio(before.close, after.open),
        ) else {
            continue;
        };
        if !near(jump, expected, t.split_tolerance) {
            out.push(finding(
                rule::SPLIT_WITHOUT_JUMP,
                history,
                split.date,
                json!({"numerator": split.numerator, "denominator": split.denominator,
                       "close_before": before.close, "open": after.open, "price_ratio": jump.round_dp(4),
                       "tolerance": t.split_tolerance}),
            ));
        }
    }
}

fn median(mut values: Vec<Decimal>) -> Option<Decimal> {
    values.sort();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / Decimal::TWO),
    }
}

/// Closes about 100× (or 1/100×) the median of their neighbours: a currency-unit mix-up.
pub(super) fn unit_errors(history: &History, t: &Thresholds, out: &mut Vec<Finding>) {
    let closes: Vec<Decimal> = history.bars.iter().map(|b| b.close).collect();
    for (i, bar) in history.bars.iter().enumerate() {
        let lo = i.saturating_sub(t.unit_window);
        let hi = (i + t.unit_window + 1).min(closes.len());
        let neighbours: Vec<Decimal> = (lo..hi).filter(|&j| j != i).map(|j| closes[j]).collect();
        let Some(factor) = median(neighbours).and_then(|m| ratio(bar.close, m)) else {
            continue;
        };
        let inverse = ratio(Decimal::ONE, factor).unwrap_or(Decimal::ZERO);
        let in_band = |f: Decimal| f >= t.unit_factor_low && f <= t.unit_factor_high;
        if in_band(factor) || in_band(inverse) {
            out.push(finding(
                rule::UNIT_ERROR,
                history,
                bar.date,
                json!({"close": bar.close, "factor_to_neighbours": factor.round_dp(4),
                       "band": [t.unit_factor_low, t.unit_factor_high], "window": t.unit_window}),
            ));
        }
    }
}

fn same_prices(a: &DailyBar, b: &DailyBar) -> bool {
    (a.open, a.high, a.low, a.close) == (b.open, b.high, b.low, b.close)
}

/// Runs of repeated bars without volume, a close that moved on no volume, and a VWAP
/// outside the bar's range.
pub(super) fn stale_and_volume(history: &History, t: &Thresholds, out: &mut Vec<Finding>) {
    let bars = &history.bars;
    let mut run_start: Option<usize> = None;
    let close_run = |start: Option<usize>, end: usize, out: &mut Vec<Finding>| {
        if let Some(s) = start {
            let sessions = end - s;
            if sessions >= t.stale_sessions {
                out.push(finding(
                    rule::STALE_BARS,
                    history,
                    bars[s].date,
                    json!({"until": bars[end - 1].date, "sessions": sessions, "close": bars[s].close,
                           "min_sessions": t.stale_sessions}),
                ));
            }
        }
    };
    for i in 1..bars.len() {
        let (before, bar) = (&bars[i - 1], &bars[i]);
        let repeated = bar.volume.is_zero() && same_prices(before, bar);
        if repeated {
            run_start.get_or_insert(i);
        } else {
            close_run(run_start.take(), i, out);
        }
        if bar.volume.is_zero() && bar.close != before.close {
            out.push(finding(
                rule::ZERO_VOLUME_MOVE,
                history,
                bar.date,
                json!({"close_before": before.close, "close": bar.close}),
            ));
        }
    }
    close_run(run_start, bars.len(), out);
    for bar in bars {
        if let Some(vwap) = bar.vwap {
            if vwap < bar.low || vwap > bar.high {
                out.push(finding(
                    rule::VWAP_OUTSIDE_RANGE,
                    history,
                    bar.date,
                    json!({"vwap": vwap, "low": bar.low, "high": bar.high}),
                ));
            }
        }
    }
}

/// Dividends too large for the price before them, and two within a few days.
pub(super) fn dividends(history: &History, t: &Thresholds, out: &mut Vec<Finding>) {
    let mut dividends = history.dividends.clone();
    dividends.sort_by_key(|d| d.ex_date);
    for d in &dividends {
        let before = history.bars.iter().rev().find(|b| b.date < d.ex_date);
        if let Some(share) = before.and_then(|b| ratio(d.amount, b.close)) {
            if share > t.dividend_max_share {
                out.push(finding(
                    rule::DIVIDEND_TOO_LARGE,
                    history,
                    d.ex_date,
                    json!({"amount": d.amount, "close_before": before.map(|b| b.close),
                           "share": share.round_dp(4), "max_share": t.dividend_max_share}),
                ));
            }
        }
    }
    for pair in dividends.windows(2) {
        let days = (pair[1].ex_date - pair[0].ex_date).num_days();
        if days <= t.dividend_duplicate_days {
            out.push(finding(
                rule::DIVIDEND_DUPLICATE,
                history,
                pair[1].ex_date,
                json!({"other_ex_date": pair[0].ex_date, "amounts": [pair[0].amount, pair[1].amount],
                       "days_apart": days, "max_days": t.dividend_duplicate_days}),
            ));
        }
    }
}
