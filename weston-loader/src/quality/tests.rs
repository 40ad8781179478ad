//! Each rule finds its planted error in an otherwise clean history, and the clean mock
//! market (which has splits and dividends) yields no finding.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::*;
use crate::calendar;
use crate::providers::mock::{mock_symbol, MockProvider};
use crate::providers::Provider;

fn d(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

const YEAR: (&str, &str) = ("2023-01-03", "2023-12-29");

/// A clean year: closes wandering between 99 and 101, a range around them, steady volume.
fn clean() -> History {
    let bars = calendar::trading_days(d(YEAR.0), d(YEAR.1))
        .into_iter()
        .enumerate()
        .map(|(i, date)| {
            let close = Decimal::from(100) + Decimal::new(((i * 37) % 200) as i64 - 100, 2);
            DailyBar {
                symbol: "TEST".into(),
                date,
                open: close,
                high: close + Decimal::ONE,
                low: close - Decimal::ONE,
                close,
                volume: Decimal::from(1_000_000 + (i % 7) as i64 * 10_000),
                vwap: Some(close),
            }
        })
        .collect();
    History {
        symbol: "TEST".into(),
        bars,
        ..History::default()
    }
}

fn run(history: &History) -> Vec<Finding> {
    audit(history, (d(YEAR.0), d(YEAR.1)), &Thresholds::default())
}

fn rules_found(history: &History) -> Vec<(&'static str, NaiveDate)> {
    run(history).into_iter().map(|f| (f.rule, f.date)).collect()
}

fn index(history: &History, date: &str) -> usize {
    history.bars.iter().position(|b| b.date == d(date)).unwrap()
}

#[test]
fn a_clean_history_has_no_finding() {
    assert_eq!(run(&clean()), []);
}

#[test]
fn missing_and_extra_sessions() {
    let mut h = clean();
    let i = index(&h, "2023-06-14");
    h.bars.remove(i);
    let mut saturday = h.bars[10].clone();
    saturday.date = d("2023-07-01");
    h.bars.push(saturday);
    assert_eq!(
        rules_found(&h),
        [
            (rule::MISSING_SESSION, d("2023-06-14")),
            (rule::NON_SESSION_BAR, d("2023-07-01"))
        ]
    );
}

/// Scales every bar from `date` on as a `n`-for-`m` split does.
fn split_at(h: &mut History, date: &str, n: i64, m: i64) {
    let from = index(h, date);
    for bar in &mut h.bars[from..] {
        let f = Decimal::from(m) / Decimal::from(n);
        for p in [&mut bar.open, &mut bar.high, &mut bar.low, &mut bar.close] {
            *p *= f;
        }
        bar.vwap = Some(bar.close);
        bar.volume = bar.volume * Decimal::from(n) / Decimal::from(m);
    }
}

#[test]
fn an_unrecorded_split_and_a_recorded_one_without_jump() {
    let mut h = clean();
    split_at(&mut h, "2023-05-01", 4, 1);
    split_at(&mut h, "2023-09-05", 1, 8);
    assert_eq!(
        rules_found(&h),
        [
            (rule::UNRECORDED_SPLIT, d("2023-05-01")),
            (rule::UNRECORDED_SPLIT, d("2023-09-05"))
        ]
    );
    // Recorded, they explain the jumps; a recorded split the prices never made is flagged.
    for (date, n, m) in [
        ("2023-05-01", 4, 1),
        ("2023-09-05", 1, 8),
        ("2023-11-01", 2, 1),
    ] {
        h.splits.push(Split {
            symbol: "TEST".into(),
            date: d(date),
            numerator: Decimal::from(n),
            denominator: Decimal::from(m),
        });
    }
    assert_eq!(
        rules_found(&h),
        [(rule::SPLIT_WITHOUT_JUMP, d("2023-11-01"))]
    );
}

#[test]
fn a_jump_without_the_volume_move_is_not_a_split() {
    let mut h = clean();
    let from = index(&h, "2023-05-01");
    for bar in &mut h.bars[from..] {
        for p in [&mut bar.open, &mut bar.high, &mut bar.low, &mut bar.close] {
            *p /= Decimal::TWO;
        }
        bar.vwap = Some(bar.close);
    }
    assert_eq!(rules_found(&h), []);
}

#[test]
fn hundredfold_and_hundredth_bars() {
    let mut h = clean();
    for (date, factor) in [
        ("2023-03-15", Decimal::from(100)),
        ("2023-08-15", Decimal::new(1, 2)),
    ] {
        let bar = &mut h.bars[index(&clean(), date)];
        for p in [&mut bar.open, &mut bar.high, &mut bar.low, &mut bar.close] {
            *p *= factor;
        }
        bar.vwap = Some(bar.close);
    }
    assert_eq!(
        rules_found(&h),
        [
            (rule::UNIT_ERROR, d("2023-03-15")),
            (rule::UNIT_ERROR, d("2023-08-15"))
        ]
    );
}

#[test]
fn stale_bars_zero_volume_moves_and_vwap() {
    let mut h = clean();
    let i = index(&h, "2023-04-03");
    for j in i..i + 3 {
        h.bars[j] = DailyBar {
            date: h.bars[j].date,
            volume: Decimal::ZERO,
            ..h.bars[i - 1].clone()
        };
    }
    let k = index(&h, "2023-10-02");
    h.bars[k].volume = Decimal::ZERO;
    let m = index(&h, "2023-11-15");
    h.bars[m].vwap = Some(h.bars[m].high + Decimal::ONE);
    assert_eq!(
        rules_found(&h),
        [
            (rule::STALE_BARS, d("2023-04-03")),
            (rule::ZERO_VOLUME_MOVE, d("2023-10-02")),
            (rule::VWAP_OUTSIDE_RANGE, d("2023-11-15"))
        ]
    );
    // Two repeated sessions are not yet stale (the default asks for three).
    let mut h = clean();
    for j in i..i + 2 {
        h.bars[j] = DailyBar {
            date: h.bars[j].date,
            volume: Decimal::ZERO,
            ..h.bars[i - 1].clone()
        };
    }
    assert_eq!(rules_found(&h), []);
}

#[test]
fn implausible_and_duplicated_dividends() {
    let mut h = clean();
    let dividend = |date: &str, amount: Decimal| Dividend {
        symbol: "TEST".into(),
        ex_date: d(date),
        amount,
        currency: "USD".into(),
    };
    h.dividends = vec![
        dividend("2023-02-10", Decimal::new(24, 2)),
        dividend("2023-05-10", Decimal::new(24, 2)),
        dividend("2023-05-12", Decimal::new(24, 2)),
        dividend("2023-08-10", Decimal::from(60)),
    ];
    assert_eq!(
        rules_found(&h),
        [
            (rule::DIVIDEND_DUPLICATE, d("2023-05-12")),
            (rule::DIVIDEND_TOO_LARGE, d("2023-08-10"))
        ]
    );
}

#[test]
fn thresholds_are_data() {
    let t: Thresholds = serde_json::from_value(serde_json::json!({"stale_sessions": 2})).unwrap();
    assert_eq!(t.stale_sessions, 2);
    assert_eq!(t.split_tolerance, Thresholds::default().split_tolerance);
}

/// The mock market's first 50 symbols over five years, with their splits and dividends:
/// no finding (the false-positive count is zero).
#[tokio::test]
async fn the_clean_mock_market_has_no_finding() {
    let (from, to) = (d("2019-01-02"), d("2023-12-29"));
    let mock = MockProvider::new(50);
    let mut findings = Vec::new();
    for i in 1..=50 {
        let symbol = mock_symbol(i);
        let history = History {
            bars: mock.daily_bars(&symbol, from, to).await.unwrap(),
            splits: mock.splits(&symbol, from, to).await.unwrap(),
            dividends: mock.dividends(&symbol, from, to).await.unwrap(),
            symbol,
        };
        findings.extend(audit(&history, (from, to), &Thresholds::default()));
    }
    assert_eq!(findings, [], "false positives on the clean mock market");
}

#[test]
fn thresholds_rows_merge_over_the_defaults_exactly() {
    let rows = vec![
        (
            "unrecorded_split".to_string(),
            serde_json::json!({"split_tolerance": 0.10, "split_ratios": [2, 1.5]}),
        ),
        (
            "stale_bars".to_string(),
            serde_json::json!({"stale_sessions": 4}),
        ),
    ];
    let t = Thresholds::from_rows(&rows).unwrap();
    assert_eq!(t.split_tolerance, Decimal::new(10, 2));
    assert_eq!(t.split_ratios, [Decimal::TWO, Decimal::new(15, 1)]);
    assert_eq!(t.stale_sessions, 4);
    assert_eq!(t.unit_window, Thresholds::default().unit_window);
    let unknown = vec![("x".to_string(), serde_json::json!({"stale_session": 4}))];
    assert!(Thresholds::from_rows(&unknown)
        .unwrap_err()
        .contains("stale_session"));
    let twice = vec![
        ("a".to_string(), serde_json::json!({"unit_window": 4})),
        ("b".to_string(), serde_json::json!({"unit_window": 4})),
    ];
    assert!(Thresholds::from_rows(&twice)
        .unwrap_err()
        .contains("both \"a\" and \"b\""));
}

/// The findings with the floats' shortcuts equal those of the exact decimal tests alone
/// (the rules before the shortcuts), on histories made to sit on the thresholds' edges:
/// jumps at a split ratio's tolerance exactly and a hair either side, closes at 70x and
/// 130x their neighbours and a hair either side, under the defaults and other thresholds.
#[test]
fn the_float_shortcuts_find_what_the_exact_tests_find() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let edges = [
        "1",
        "1.1",
        "0.9",
        "1.1000001",
        "0.8999999",
        "1.0999999",
        "0.9000001",
    ];
    let units = [
        "70",
        "130",
        "69.99999",
        "130.00001",
        "70.00001",
        "100",
        "0.5",
    ];
    let mut found = 0;
    for case in 0..300 {
        let mut h = clean();
        for _ in 0..12 {
            let i = 1 + (next() % (h.bars.len() as u64 - 2)) as usize;
            let bar = &mut h.bars[i];
            if next() % 2 == 0 {
                // A jump from the close before: a split ratio (or its inverse) times an edge.
                let t = Thresholds::default();
                let r = t.split_ratios[(next() % t.split_ratios.len() as u64) as usize];
                let edge: Decimal = edges[(next() % edges.len() as u64) as usize]
                    .parse()
                    .unwrap();
                let before = h.bars[i - 1].close;
                let jump = if next() % 2 == 0 { r * edge } else { edge / r };
                let bar = &mut h.bars[i];
                bar.open = (before / jump).round_dp(6);
                bar.volume *= Decimal::from(1 + next() % 12);
            } else {
                let factor: Decimal = units[(next() % units.len() as u64) as usize]
                    .parse()
                    .unwrap();
                let factor = if next() % 2 == 0 {
                    factor
                } else {
                    Decimal::ONE / factor
                };
                bar.close = (bar.close * factor).round_dp(8);
            }
        }
        let mut t = Thresholds::default();
        if case % 3 == 1 {
            t.unit_factor_low = Decimal::new(5, 1);
            t.split_tolerance = Decimal::new(25, 2);
        }
        let fast = audit(&h, (d(YEAR.0), d(YEAR.1)), &t);
        rules::EXACT_ONLY.with(|e| e.set(true));
        let exact = audit(&h, (d(YEAR.0), d(YEAR.1)), &t);
        rules::EXACT_ONLY.with(|e| e.set(false));
        assert_eq!(fast, exact, "case {case}");
        found += exact.len();
    }
    assert!(found > 300, "the cases find things: {found}");
}
