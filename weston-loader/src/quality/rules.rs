//! The rules themselves, each appending its findings. Bars are sorted by date.

use rust_decimal::prelude::ToPrimitive;
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
    let days = calendar::trading_days(first.date, last.date);
    let bars = &history.bars;
    for &day in &days {
        if bars.binary_search_by_key(&day, |b| b.date).is_err() {
            out.push(finding(
                rule::MISSING_SESSION,
                history,
                day,
                json!({"first_bar": first.date, "last_bar": last.date}),
            ));
        }
    }
    for bar in bars {
        // Every bar lies within [first, last], the calendar's span.
        if days.binary_search(&bar.date).is_err() {
            out.push(finding(
                rule::NON_SESSION_BAR,
                history,
                bar.date,
                json!({"close": bar.close, "volume": bar.volume}),
            ));
        }
    }
}

/// `d` as a float, to rule cases out before the exact test; NaN when it cannot be had.
fn float(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// Relative slack that floats are given against the exact (`Decimal`) tests: they are off
/// by 1e-15 at most, so a case the floats rule out with this slack the exact test rules out
/// too; anything closer (or a NaN) goes to the exact test. The findings are the exact test's.
const FLOAT_SLACK: f64 = 1e-9;

#[cfg(test)]
thread_local! {
    /// Tests turn the floats' shortcuts off to compare the findings with the exact tests'.
    pub(super) static EXACT_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether every case goes to the exact test (only ever in tests).
fn exact_only() -> bool {
    #[cfg(test)]
    return EXACT_ONLY.with(std::cell::Cell::get);
    #[cfg(not(test))]
    false
}

/// Whether the floats leave `value` possibly within `tolerance` (relative) of `target`.
fn maybe_near(value: f64, target: f64, tolerance: f64) -> bool {
    let q = value / target;
    let ruled_out = (q - 1.0).abs() > tolerance + FLOAT_SLACK * (1.0 + q.abs());
    // A NaN fails the comparison: the case is kept for the exact test.
    !ruled_out
}

/// The split ratios (before/after price) looked for: the configured ratios and their
/// inverses, in the order they are tried, with their floats.
fn split_candidates(t: &Thresholds) -> Vec<(Decimal, f64)> {
    t.split_ratios
        .iter()
        .flat_map(|&r| [Some(r), ratio(Decimal::ONE, r)])
        .flatten()
        .map(|r| (r, float(r)))
        .collect()
}

/// The split ratio `jump` is near, if any (the first of `candidates`).
fn split_ratio_near(
    jump: Decimal,
    candidates: &[(Decimal, f64)],
    t: &Thresholds,
) -> Option<Decimal> {
    candidates
        .iter()
        .map(|&(r, _)| r)
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
    let candidates = split_candidates(t);
    let tolerance = float(t.split_tolerance);
    let mut close_before = history.bars.first().map_or(f64::NAN, |b| float(b.close));
    for pair in history.bars.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        // Most sessions are near no split ratio: the floats say so without a division of
        // decimals per ratio.
        let jump = close_before / float(after.open);
        close_before = float(after.close);
        if !exact_only()
            && !candidates
                .iter()
                .any(|&(_, r)| maybe_near(jump, r, tolerance))
        {
            continue;
        }
        let Some(jump) = ratio(before.close, after.open) else {
            continue;
        };
        if let Some(split) = split_ratio_near(jump, &candidates, t) {
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
        let i = history.bars.partition_point(|b| b.date < split.date);
        if i == 0 || i == history.bars.len() {
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

/// Whether the floats leave a unit error at `close` possible among `neighbours`: the median
/// lies between their least and greatest, so with every price positive a close below
/// `low` times the least and above the greatest over `low` is no unit error either way.
fn maybe_unit_error(close: f64, neighbours: &[f64], low: f64) -> bool {
    let (least, greatest) = neighbours
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let ruled_out = close > 0.0
        && least > 0.0
        && low > 0.0
        && close / least < low * (1.0 - FLOAT_SLACK)
        && greatest / close < low * (1.0 - FLOAT_SLACK);
    // NaNs fail every comparison above, so they keep the case for the exact test.
    !ruled_out || neighbours.iter().any(|x| x.is_nan())
}

/// Closes about 100× (or 1/100×) the median of their neighbours: a currency-unit mix-up.
pub(super) fn unit_errors(history: &History, t: &Thresholds, out: &mut Vec<Finding>) {
    let closes: Vec<Decimal> = history.bars.iter().map(|b| b.close).collect();
    let floats: Vec<f64> = closes.iter().map(|&c| float(c)).collect();
    let low = float(t.unit_factor_low);
    let mut neighbour_floats = Vec::with_capacity(2 * t.unit_window);
    for (i, bar) in history.bars.iter().enumerate() {
        let lo = i.saturating_sub(t.unit_window);
        let hi = (i + t.unit_window + 1).min(closes.len());
        neighbour_floats.clear();
        neighbour_floats.extend((lo..hi).filter(|&j| j != i).map(|j| floats[j]));
        // The exact median (a sort of decimals) only where the floats cannot rule it out.
        if !exact_only()
            && !neighbour_floats.is_empty()
            && !maybe_unit_error(floats[i], &neighbour_floats, low)
        {
            continue;
        }
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
        let before = history
            .bars
            .partition_point(|b| b.date < d.ex_date)
            .checked_sub(1)
            .map(|i| &history.bars[i]);
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
