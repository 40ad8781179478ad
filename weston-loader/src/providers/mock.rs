//! A deterministic stand-in for a market-data provider, used only when asked for
//! (`--provider mock`). Every value is a pure function of the symbol and the trading day:
//! prices walk in integer cents from a fixed epoch with steps drawn from a stable hash of
//! (symbol, day), so any machine, any window and any run order gives the same bars.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{mock_life, Provider, ProviderError};
use crate::calendar;
use crate::model::{
    DailyBar, Dividend, LifeEvent, ProviderName, SecurityInfo, Split, TickerIdentity,
};

/// The mock market opens on the first session of 2000; nothing exists before it.
pub fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 3).expect("valid date")
}

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

/// Symbols with a recurring split: (symbol, every n sessions, first at session, first ratio).
/// Each alternates its ratio with the inverse so raw prices stay in a realistic range (far
/// more often than real companies split: a demo's 180-day window of about 125 sessions
/// then holds a forward and a reverse split of MOCK0001 and MOCK0002, and one of MOCK0003).
const SPLIT_SCHEDULE: &[(&str, u64, u64, (i64, i64))] = &[
    ("MOCK0001", 60, 20, (4, 1)),
    ("MOCK0002", 55, 40, (2, 1)),
    ("MOCK0003", 110, 80, (1, 8)), // reverse split first
];

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

/// The universe a mock provider announces: MOCK0001 … MOCKnnnn.
pub fn mock_symbol(i: usize) -> String {
    format!("MOCK{i:04}")
}

pub struct MockProvider {
    universe: usize,
    /// Whether the audit's test errors are planted (`super::planted`).
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

    /// Every session of `symbol` from the epoch to `to`, with its events.
    pub fn sessions(symbol: &str, to: NaiveDate) -> Vec<Session> {
        let seed = crate::stable_hash(symbol.as_bytes());
        let base_cents = 1_000 + (mix(seed, 1) % 49_000) as i64; // $10 .. $500
        let base_volume = 200_000 + (mix(seed, 2) % 4_800_000) as i64;
        let pays_dividends =
            mix(seed, 3).is_multiple_of(4) || SPLIT_SCHEDULE.iter().any(|s| s.0 == symbol);
        let dividend_offset = mix(seed, 4) % 63;
        let split = SPLIT_SCHEDULE.iter().find(|s| s.0 == symbol);

        let mut out = Vec::new();
        let mut prev_close = base_cents;
        // Cumulative shares per original share, as a fraction, for raw volumes.
        let (mut shares_num, mut shares_den) = (1i64, 1i64);
        let mut splits_done = 0u64;
        for (index, &date) in mock_sessions().iter().take_while(|d| **d <= to).enumerate() {
            let index = index as u64;
            let h = mix(seed, 1_000 + index);
            let mut split_today = None;
            if let Some(&(_, every, first, (n, d))) = split {
                if index >= first && (index - first).is_multiple_of(every) {
                    let ratio = if splits_done.is_multiple_of(2) {
                        (n, d)
                    } else {
                        (d, n)
                    };
                    splits_done += 1;
                    prev_close = (prev_close * ratio.1 / ratio.0).max(100);
                    shares_num *= ratio.0;
                    shares_den *= ratio.1;
                    let g = gcd(shares_num, shares_den);
                    (shares_num, shares_den) = (shares_num / g, shares_den / g);
                    split_today = Some(ratio);
                }
            }
            let mut dividend_today = None;
            if pays_dividends && index % 63 == dividend_offset && index > 0 {
                // 0.4% of the last close, in 1e-4 dollars; the price drops by it on the ex-date.
                let amount = prev_close * 4 / 10;
                dividend_today = Some(Decimal::new(amount, 4));
                prev_close -= amount / 100;
            }
            // Mean reversion keeps every symbol between a third and three times its base.
            let bias = if prev_close * shares_num < base_cents * shares_den / 3 {
                40
            } else if prev_close * shares_num > base_cents * shares_den * 3 {
                -40
            } else {
                0
            };
            let step_bps = (h % 601) as i64 - 300 + bias;
            let gap_bps = ((h >> 16) % 101) as i64 - 50;
            let up_bps = ((h >> 24) % 151) as i64;
            let down_bps = ((h >> 32) % 151) as i64;
            let close = (prev_close * (10_000 + step_bps) / 10_000).max(100);
            let open = (prev_close * (10_000 + gap_bps) / 10_000).max(100);
            let high = open.max(close) * (10_000 + up_bps) / 10_000;
            let low = (open.min(close) * (10_000 - down_bps) / 10_000).max(50);
            let volume =
                base_volume * (50 + ((h >> 40) % 100) as i64) / 100 * shares_num / shares_den;
            // Typical price in 1e-4 dollars: always within [low, high].
            let vwap = (high + low + close) * 100 / 3;
            out.push(Session {
                date,
                bar: DailyBar {
                    symbol: symbol.to_string(),
                    date,
                    open: Decimal::new(open, 2),
                    high: Decimal::new(high, 2),
                    low: Decimal::new(low, 2),
                    close: Decimal::new(close, 2),
                    volume: Decimal::from(volume),
                    vwap: Some(Decimal::new(vwap, 4)),
                },
                split: split_today,
                dividend: dividend_today,
            });
            prev_close = close;
        }
        out
    }

    /// The sessions of ticker `symbol` in `[from, to]`: each date from the security that
    /// held the ticker that day (`mock_life`), under the ticker; with the planted errors
    /// when asked for (planted on the security's whole series, as a feed's errors are).
    fn window(&self, symbol: &str, from: NaiveDate, to: NaiveDate) -> Vec<Session> {
        let mut out = Vec::new();
        for holding in mock_life::holdings_of(symbol) {
            let start = holding.from.map_or(from, |f| f.max(from));
            let end = holding.to.map_or(to, |t| t.min(to));
            if start > end {
                continue;
            }
            let mut sessions = MockProvider::sessions(&holding.security, end);
            if self.planted {
                super::planted::apply(&holding.security, &mut sessions);
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

/// One mock session of one symbol.
pub struct Session {
    pub date: NaiveDate,
    pub bar: DailyBar,
    pub split: Option<(i64, i64)>,
    pub dividend: Option<Decimal>,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// SplitMix64's finaliser over (seed, counter): well-spread bits from a counter.
fn mix(seed: u64, counter: u64) -> u64 {
    let mut z = seed ^ counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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
    ) -> Result<Option<Vec<LifeEvent>>, ProviderError> {
        Ok(Some(mock_life::events(from, to)))
    }

    fn has_ticker_identity(&self) -> bool {
        true
    }

    async fn ticker_identity(&self, symbol: &str) -> Result<Option<TickerIdentity>, ProviderError> {
        Ok(Some(mock_life::identity(symbol)))
    }

    async fn security(&self, symbol: &str) -> Result<Option<SecurityInfo>, ProviderError> {
        let seed = crate::stable_hash(symbol.as_bytes());
        let life = mock_life::identity(symbol);
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

    const PINNED_MOCK0042_2024_03_01: &str = "195.05 199.50 194.60 198.77 1293143";

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

    #[test]
    fn universe_is_named_deterministically() {
        let u = MockProvider::new(750).seed_universe().unwrap();
        assert_eq!(u.len(), 750);
        assert_eq!(u[0], "MOCK0001");
        assert_eq!(u[749], "MOCK0750");
    }
}
