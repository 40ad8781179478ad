//! A deterministic stand-in for a market-data provider, used only when asked for
//! (`--provider mock`). Every value is a pure function of the symbol and the trading day:
//! prices walk in integer arithmetic with steps drawn from a stable hash of (symbol, day),
//! in blocks of sessions each anchored at a hashed level, so any machine, any window and any
//! run order gives the same bars, and a window is generated from its own block on.

use chrono::NaiveDate;
use rust_decimal::Decimal;

pub mod life;
pub mod planted;
mod walk;

pub use walk::{epoch, mock_symbol, Session};
use walk::{mix, Market, BLOCK};

use super::{Provider, ProviderError};
use crate::calendar;
use crate::model::{
    DailyBar, Dividend, LifeListing, ProviderName, SecurityInfo, Split, TickerIdentity,
};

/// Every session from the epoch to the end of 2099, computed once per process.
fn mock_sessions() -> &'static [NaiveDate] {
    static SESSIONS: std::sync::OnceLock<Vec<NaiveDate>> = std::sync::OnceLock::new();
    SESSIONS.get_or_init(|| {
        calendar::trading_days(
            epoch(),
            NaiveDate::from_ymd_opt(2099, 12, 31).expect("valid date"),
        )
    })
}

const SECTORS: &[&str] = &[
    "Technology",
    "Health Care",
    "Financials",
    "Consumer Discretionary",
    "Industrials",
    "Energy",
    "Materials",
    "Utilities",
    "Real Estate",
    "Communication Services",
    "Consumer Staples",
];

pub struct MockProvider {
    universe: usize,
    /// Whether the audit's test errors are planted (`planted`).
    planted: bool,
}

impl MockProvider {
    /// A mock market of `universe` symbols (MOCK0001…).
    pub fn new(universe: usize) -> MockProvider {
        MockProvider {
            universe,
            planted: false,
        }
    }

    /// The same market with the audit's test errors planted (`planted` true).
    pub fn with_planted_errors(self, planted: bool) -> MockProvider {
        MockProvider { planted, ..self }
    }

    /// The sessions of `symbol` from `from` to `to`, with their events: generated from the
    /// start of the block (`BLOCK`) holding `from`, so the cost follows the window, not its
    /// distance from the epoch; any window gives the same sessions.
    pub fn sessions(symbol: &str, from: NaiveDate, to: NaiveDate) -> Vec<Session> {
        let all = mock_sessions();
        let start = all.partition_point(|d| *d < from);
        let end = all.partition_point(|d| *d <= to);
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        if start >= end {
            return out;
        }
        let market = Market::of(symbol);
        for block in start / BLOCK..=(end - 1) / BLOCK {
            let first = block * BLOCK;
            let closes = market.closes(block, BLOCK.min(all.len() - first));
            let mut prev = market.anchor(block);
            for (index, &close) in (first..end).zip(&closes) {
                if index >= start {
                    out.push(market.session(symbol, index, all[index], prev, close));
                }
                prev = close;
            }
        }
        out
    }

    /// The sessions of ticker `symbol` in `[from, to]`: each date from the security that
    /// held the ticker that day (`life`), under the ticker; with the planted errors
    /// when asked for (planted on the security's whole series, as a feed's errors are).
    fn window(&self, symbol: &str, from: NaiveDate, to: NaiveDate) -> Vec<Session> {
        let mut out = Vec::new();
        for holding in life::holdings_of(symbol) {
            let start = holding.from.map_or(from, |f| f.max(from));
            let end = holding.to.map_or(to, |t| t.min(to));
            if start > end {
                continue;
            }
            // A planted error can reach past its session (an unrecorded split halves every
            // later price): those few securities are generated from the epoch, then planted.
            let planted = self.planted && planted::has_plants(&holding.security);
            let first = if planted { epoch() } else { start };
            let mut sessions = MockProvider::sessions(&holding.security, first, end);
            if planted {
                planted::apply(&holding.security, &mut sessions);
            }
            out.extend(
                sessions
                    .into_iter()
                    .filter(|s| s.date >= start)
                    .map(|mut s| {
                        symbol.clone_into(&mut s.bar.symbol);
                        s
                    }),
            );
        }
        out
    }
}

#[async_trait::async_trait]
impl Provider for MockProvider {
    fn name(&self) -> ProviderName {
        ProviderName::Mock
    }

    fn seed_universe(&self) -> Option<Vec<String>> {
        Some((1..=self.universe).map(mock_symbol).collect())
    }

    async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyBar>, ProviderError> {
        Ok(self
            .window(symbol, from, to)
            .into_iter()
            .map(|s| s.bar)
            .collect())
    }

    async fn splits(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Split>, ProviderError> {
        Ok(self
            .window(symbol, from, to)
            .into_iter()
            .filter_map(|s| {
                s.split.map(|(n, d)| Split {
                    symbol: symbol.to_string(),
                    date: s.date,
                    numerator: Decimal::from(n),
                    denominator: Decimal::from(d),
                })
            })
            .collect())
    }

    async fn dividends(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Dividend>, ProviderError> {
        Ok(self
            .window(symbol, from, to)
            .into_iter()
            .filter_map(|s| {
                s.dividend.map(|amount| Dividend {
                    symbol: symbol.to_string(),
                    ex_date: s.date,
                    amount,
                    currency: "USD".to_string(),
                })
            })
            .collect())
    }

    async fn life_events(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<LifeListing>, ProviderError> {
        Ok(Some(LifeListing {
            events: life::events(from, to),
            rejected: Vec::new(),
        }))
    }

    fn has_ticker_identity(&self) -> bool {
        true
    }

    async fn ticker_identity(&self, symbol: &str) -> Result<Option<TickerIdentity>, ProviderError> {
        Ok(Some(life::identity(symbol)))
    }

    async fn security(&self, symbol: &str) -> Result<Option<SecurityInfo>, ProviderError> {
        let seed = crate::stable_hash(symbol.as_bytes());
        let life = life::identity(symbol);
        let name = match symbol.strip_prefix("MOCK") {
            Some(n) if n.chars().all(|c| c.is_ascii_digit()) => format!("Mock Corp {n}"),
            _ => format!("Mock {symbol} Inc."),
        };
        Ok(Some(SecurityInfo {
            symbol: symbol.to_string(),
            name: Some(name),
            exchange: Some(
                if mix(seed, 5).is_multiple_of(3) {
                    "XNAS"
                } else {
                    "XNYS"
                }
                .to_string(),
            ),
            sector: Some(SECTORS[(mix(seed, 6) % SECTORS.len() as u64) as usize].to_string()),
            industry: None,
            listed_date: life.listed,
            delisted_date: life.last_day,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[tokio::test]
    async fn bars_are_fixed_values_and_window_independent() {
        let p = MockProvider::new(10);
        let wide = p
            .daily_bars("MOCK0042", d(2024, 1, 1), d(2024, 6, 30))
            .await
            .unwrap();
        let narrow = p
            .daily_bars("MOCK0042", d(2024, 3, 1), d(2024, 3, 31))
            .await
            .unwrap();
        let in_march: Vec<_> = wide
            .iter()
            .filter(|b| b.date.month() == 3)
            .cloned()
            .collect();
        assert_eq!(in_march, narrow);
        // Pinned values: a change to the generator must be deliberate (it changes demos).
        let first = &narrow[0];
        assert_eq!(first.date, d(2024, 3, 1));
        assert_eq!(
            format!(
                "{} {} {} {} {}",
                first.open, first.high, first.low, first.close, first.volume
            ),
            PINNED_MOCK0042_2024_03_01
        );
    }

    const PINNED_MOCK0042_2024_03_01: &str = "443.40 454.22 442.38 452.55 1293143";

    #[tokio::test]
    async fn bars_are_realistic_and_on_trading_days_only() {
        let p = MockProvider::new(10);
        for symbol in ["MOCK0001", "MOCK0002", "MOCK0003", "MOCK0500", "ZZZ"] {
            let bars = p
                .daily_bars(symbol, d(2020, 1, 1), d(2025, 12, 31))
                .await
                .unwrap();
            assert_eq!(
                bars.len(),
                calendar::trading_days(d(2020, 1, 1), d(2025, 12, 31)).len()
            );
            for b in &bars {
                assert!(calendar::is_trading_day(b.date));
                assert!(
                    b.low > Decimal::ZERO && b.low <= b.open && b.low <= b.close,
                    "{b:?}"
                );
                assert!(b.high >= b.open && b.high >= b.close, "{b:?}");
                let vwap = b.vwap.unwrap();
                assert!(vwap >= b.low && vwap <= b.high, "{b:?}");
                assert!(b.volume > Decimal::ZERO);
                assert!(b.close.scale() <= 4);
            }
        }
    }

    #[tokio::test]
    async fn split_symbols_have_forward_and_reverse_splits_in_any_half_year() {
        let p = MockProvider::new(3);
        for symbol in ["MOCK0001", "MOCK0002", "MOCK0003"] {
            let splits = p
                .splits(symbol, d(2025, 6, 1), d(2025, 11, 28))
                .await
                .unwrap();
            assert!(!splits.is_empty(), "{symbol}");
            if symbol != "MOCK0003" {
                assert!(
                    splits.iter().any(|s| s.numerator < s.denominator),
                    "{symbol}: reverse"
                );
                assert!(
                    splits.iter().any(|s| s.numerator > s.denominator),
                    "{symbol}: forward"
                );
            }
            let divs = p
                .dividends(symbol, d(2025, 6, 1), d(2025, 11, 28))
                .await
                .unwrap();
            assert!(!divs.is_empty(), "{symbol}");
        }
        assert!(p
            .splits("MOCK0004", d(2000, 1, 1), d(2025, 12, 31))
            .await
            .unwrap()
            .is_empty());
    }

    /// A window is generated from its first block only, yet equals the same sessions
    /// generated from the epoch, across block boundaries too.
    #[test]
    fn any_window_equals_the_series_from_the_epoch() {
        let to = d(2026, 11, 2);
        for symbol in ["MOCK0001", "MOCK0002", "MOCK0003", "MOCK0042", "MOCK0750"] {
            let whole = MockProvider::sessions(symbol, epoch(), to);
            let boundary = mock_sessions()[BLOCK * 20];
            for from in [
                d(2016, 10, 29),
                boundary,
                boundary - chrono::Days::new(1),
                d(2026, 10, 29),
            ] {
                let window = MockProvider::sessions(symbol, from, to);
                let expected: Vec<_> = whole.iter().filter(|s| s.date >= from).collect();
                assert_eq!(window.len(), expected.len(), "{symbol} from {from}");
                for (a, b) in window.iter().zip(expected) {
                    assert_eq!(
                        (a.date, &a.bar, a.split, a.dividend),
                        (b.date, &b.bar, b.split, b.dividend)
                    );
                }
            }
        }
    }

    /// Blocks join without a jump: outside split days, no close moves more than a day's
    /// step (3 %, 0.4 % for a dividend) plus the share of the bend toward the next anchor.
    #[test]
    fn blocks_join_without_a_jump() {
        for symbol in ["MOCK0001", "MOCK0003", "MOCK0042", "MOCK0500", "MOCK0750"] {
            let sessions = MockProvider::sessions(symbol, epoch(), d(2026, 11, 2));
            for pair in sessions.windows(2) {
                if pair[1].split.is_some() {
                    continue;
                }
                let ratio = pair[1].bar.close / pair[0].bar.close;
                assert!(
                    ratio > Decimal::new(88, 2) && ratio < Decimal::new(112, 2),
                    "{symbol} {}: {} -> {}",
                    pair[1].date,
                    pair[0].bar.close,
                    pair[1].bar.close
                );
            }
        }
    }

    #[test]
    fn universe_is_named_deterministically() {
        let u = MockProvider::new(750).seed_universe().unwrap();
        assert_eq!(u.len(), 750);
        assert_eq!(u[0], "MOCK0001");
        assert_eq!(u[749], "MOCK0750");
    }
}
