//! Errors planted into the mock market (`WESTON_MOCK_PLANTED_ERRORS`, mock only), so the
//! audit can be proven to find each rule's case in an otherwise clean market: `PER_RULE`
//! cases of each rule, each in a symbol of its own (MOCK0100…MOCK0192), on a fixed date.
//!
//! Bars on non-sessions are not planted here: the provider chain never asks for them (it
//! keeps only the sessions it wanted), so such a bar reaches the database only by hand; the
//! tests insert one directly.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::walk::{mock_symbol, Session};
use crate::calendar;
use crate::quality::rule;

/// Cases of each rule.
pub const PER_RULE: usize = 3;

/// The rules planted, in the order their symbols are numbered.
const RULES: [&str; 9] = [
    rule::MISSING_SESSION,
    rule::UNRECORDED_SPLIT,
    rule::SPLIT_WITHOUT_JUMP,
    rule::UNIT_ERROR,
    rule::STALE_BARS,
    rule::ZERO_VOLUME_MOVE,
    rule::VWAP_OUTSIDE_RANGE,
    rule::DIVIDEND_TOO_LARGE,
    rule::DIVIDEND_DUPLICATE,
];

/// Sessions of a planted stale run (more than the default three, so it is unmistakable).
const STALE_RUN: usize = 4;

/// One planted error: the finding the audit must report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plant {
    pub rule: &'static str,
    pub symbol: String,
    /// The session the error is planted on.
    pub date: NaiveDate,
    /// The date of the finding it must cause (a duplicate dividend is reported on the later one).
    pub finding_date: NaiveDate,
}

/// Every planted error: case `k` of rule `r` in MOCK0(100 + 10r + k), on the first session
/// of March 2021 + k years (a year apart, so a five-year market holds them all).
pub fn plants() -> Vec<Plant> {
    let mut out = Vec::new();
    for (r, &rule) in RULES.iter().enumerate() {
        for k in 0..PER_RULE {
            let first_of_march = NaiveDate::from_ymd_opt(2021 + k as i32, 3, 1).expect("date");
            let date =
                calendar::trading_days(first_of_march, first_of_march + chrono::Days::new(9))[0];
            let finding_date = if rule == rule::DIVIDEND_DUPLICATE {
                calendar::trading_days(date, date + chrono::Days::new(9))[2]
            } else {
                date
            };
            out.push(Plant {
                rule,
                symbol: mock_symbol(100 + 10 * r + k),
                date,
                finding_date,
            });
        }
    }
    out
}

/// Whether `symbol` has planted errors.
pub fn has_plants(symbol: &str) -> bool {
    static SYMBOLS: std::sync::OnceLock<std::collections::BTreeSet<String>> =
        std::sync::OnceLock::new();
    SYMBOLS
        .get_or_init(|| plants().into_iter().map(|p| p.symbol).collect())
        .contains(symbol)
}

/// Plants `symbol`'s errors (if it has any) into its sessions from the epoch, oldest first.
pub fn apply(symbol: &str, sessions: &mut Vec<Session>) {
    for plant in plants().into_iter().filter(|p| p.symbol == symbol) {
        let Some(i) = sessions.iter().position(|s| s.date == plant.date) else {
            continue; // the window ends before the planted session
        };
        if i == 0 {
            continue;
        }
        plant_one(plant.rule, sessions, i);
    }
}

fn plant_one(rule: &str, sessions: &mut Vec<Session>, i: usize) {
    let before = sessions[i - 1].bar.clone();
    match rule {
        rule::MISSING_SESSION => {
            sessions.remove(i);
        }
        rule::UNRECORDED_SPLIT => {
            // A 2-for-1 split nobody recorded: prices halve, volumes double from here on,
            // and the day itself trades twice the shares of the day before.
            for s in &mut sessions[i..] {
                let bar = &mut s.bar;
                for price in [&mut bar.open, &mut bar.high, &mut bar.low, &mut bar.close] {
                    *price /= Decimal::TWO;
                }
                bar.vwap = bar.vwap.map(|v| v / Decimal::TWO);
                bar.volume *= Decimal::TWO;
                s.dividend = s.dividend.map(|d| d / Decimal::TWO);
            }
            sessions[i].bar.volume = before.volume * Decimal::from(3);
        }
        rule::SPLIT_WITHOUT_JUMP => sessions[i].split = Some((2, 1)),
        rule::UNIT_ERROR => {
            let hundred = Decimal::ONE_HUNDRED;
            let bar = &mut sessions[i].bar;
            for price in [&mut bar.open, &mut bar.high, &mut bar.low, &mut bar.close] {
                *price *= hundred;
            }
            bar.vwap = bar.vwap.map(|v| v * hundred);
        }
        rule::STALE_BARS => {
            for s in sessions.iter_mut().skip(i).take(STALE_RUN) {
                let date = s.date;
                s.bar = before.clone();
                s.bar.date = date;
                s.bar.volume = Decimal::ZERO;
                s.dividend = None;
                s.split = None;
            }
        }
        rule::ZERO_VOLUME_MOVE => sessions[i].bar.volume = Decimal::ZERO,
        rule::VWAP_OUTSIDE_RANGE => {
            let bar = &mut sessions[i].bar;
            bar.vwap = Some(bar.high + Decimal::ONE);
        }
        rule::DIVIDEND_TOO_LARGE => {
            sessions[i].dividend = Some((before.close * Decimal::new(6, 1)).round_dp(4));
        }
        rule::DIVIDEND_DUPLICATE => {
            // The same dividend announced twice, two sessions apart.
            let amount = Decimal::new(10, 2);
            sessions[i].dividend = Some(amount);
            if let Some(s) = sessions.get_mut(i + 2) {
                s.dividend = Some(amount);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::mock::MockProvider;
    use crate::providers::Provider;
    use crate::quality::{audit, History, Thresholds};

    async fn history(provider: &MockProvider, symbol: &str) -> History {
        let (from, to) = (d("2020-01-02"), d("2024-12-31"));
        History {
            symbol: symbol.to_string(),
            bars: provider.daily_bars(symbol, from, to).await.unwrap(),
            splits: provider.splits(symbol, from, to).await.unwrap(),
            dividends: provider.dividends(symbol, from, to).await.unwrap(),
        }
    }

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// Each planted symbol yields exactly its planted findings, and nothing without them.
    #[tokio::test]
    async fn each_plant_is_found_and_nothing_else() {
        let planted = MockProvider::new(750).with_planted_errors(true);
        let clean = MockProvider::new(750);
        let all = plants();
        assert_eq!(all.len(), RULES.len() * PER_RULE);
        let symbols: std::collections::BTreeSet<_> = all.iter().map(|p| p.symbol.clone()).collect();
        for symbol in symbols {
            let window = (d("2020-01-02"), d("2024-12-31"));
            let h = history(&clean, &symbol).await;
            assert_eq!(
                audit(&h, window, &Thresholds::default()),
                [],
                "{symbol} clean"
            );
            let h = history(&planted, &symbol).await;
            let found: Vec<_> = audit(&h, window, &Thresholds::default())
                .into_iter()
                .map(|f| (f.rule, f.date))
                .collect();
            let expected: Vec<_> = all
                .iter()
                .filter(|p| p.symbol == symbol)
                .map(|p| (p.rule, p.finding_date))
                .collect();
            assert_eq!(found, expected, "{symbol}");
        }
    }
}
