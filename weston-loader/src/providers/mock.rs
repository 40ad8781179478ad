//! A deterministic stand-in for a market-data provider, used only when asked for
//! (`--provider mock`). Every value is a pure function of the symbol and the trading day:
//! prices walk in integer arithmetic with steps drawn from a stable hash of (symbol, day),
//! in blocks of sessions each anchored at a hashed level, so any machine, any window and any
//! run order gives the same bars, and a window is generated from its own block on.

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
            // A planted error can reach past its session (an unrecorded split halves every
            // later price): those few securities are generated from the epoch, then planted.
            let planted = self.planted && super::planted::has_plants(&holding.security);
            let first = if planted { epoch() } else { start };
            let mut sessions = MockProvider::sessions(&holding.security, first, end);
            if planted {
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

/// Sessions per block of the walk. Each block starts from a price level that is a pure
/// function of (symbol, block) and is bent to end exactly on the next block's, so a window
/// is generated from the start of its first block only: a call costs at most a block more
/// than its window, however far from the epoch it lies.
const BLOCK: usize = 252;

/// Price levels are in 1e-4 cents per original share (before any split): a split changes the
/// raw price, not the level, so the walk needs no knowledge of the splits before its block.
const LEVEL_PER_CENT: i64 = 10_000;

/// The lowest level of a close: $1 per original share.
const MIN_LEVEL: i64 = 100 * LEVEL_PER_CENT;

/// The hash counters of the block anchors (the day steps use 1_000 + session index).
const ANCHOR_COUNTER: u64 = 1 << 40;

/// One symbol's market: everything but the walk is a pure function of the symbol.
struct Market {
    seed: u64,
    base_cents: i64,
    base_volume: i64,
    pays_dividends: bool,
    dividend_offset: u64,
    /// (every n sessions, first at session, first ratio), from `SPLIT_SCHEDULE`.
    split: Option<(u64, u64, (i64, i64))>,
}

impl Market {
    fn of(symbol: &str) -> Market {
        let seed = crate::stable_hash(symbol.as_bytes());
        let schedule = SPLIT_SCHEDULE.iter().find(|s| s.0 == symbol);
        Market {
            seed,
            base_cents: 1_000 + (mix(seed, 1) % 49_000) as i64, // $10 .. $500
            base_volume: 200_000 + (mix(seed, 2) % 4_800_000) as i64,
            pays_dividends: mix(seed, 3).is_multiple_of(4) || schedule.is_some(),
            dividend_offset: mix(seed, 4) % 63,
            split: schedule.map(|&(_, every, first, ratio)| (every, first, ratio)),
        }
    }

    fn base_level(&self) -> i64 {
        self.base_cents * LEVEL_PER_CENT
    }

    /// The level of the close before the block's first session: the base at the epoch,
    /// then half to twice the base, drawn from the hash.
    fn anchor(&self, block: usize) -> i64 {
        if block == 0 {
            return self.base_level();
        }
        let share = 5_000 + (mix(self.seed, ANCHOR_COUNTER + block as u64) % 15_001) as i64;
        self.base_level() * share / 10_000
    }

    /// The split (n-for-d) on session `index`: the schedule alternates a ratio and its inverse.
    fn split_on(&self, index: u64) -> Option<(i64, i64)> {
        let (every, first, (n, d)) = self.split?;
        if index < first || !(index - first).is_multiple_of(every) {
            return None;
        }
        Some(if ((index - first) / every).is_multiple_of(2) {
            (n, d)
        } else {
            (d, n)
        })
    }

    /// Shares per original share after the splits on or before session `index`: the first
    /// ratio after an odd number of them, 1 after an even number.
    fn shares(&self, index: u64) -> (i64, i64) {
        match self.split {
            Some((every, first, ratio))
                if index >= first && ((index - first) / every).is_multiple_of(2) =>
            {
                ratio
            }
            _ => (1, 1),
        }
    }

    fn dividend_on(&self, index: u64) -> bool {
        self.pays_dividends && index > 0 && index % 63 == self.dividend_offset
    }

    /// The walk's closing levels over the first `sessions` sessions of `block`: steps drawn
    /// from the hash, a dividend's drop on its ex-date, then bent so that the last close is
    /// the next block's anchor (no jump between blocks).
    fn closes(&self, block: usize, sessions: usize) -> Vec<i64> {
        let first = block * BLOCK;
        let mut closes = Vec::with_capacity(sessions);
        let mut level = self.anchor(block);
        let base = self.base_level();
        for index in first..first + sessions {
            let index = index as u64;
            if self.dividend_on(index) {
                level -= level * 4 / 1_000;
            }
            // Mean reversion keeps every symbol between a third and three times its base.
            let bias = if level < base / 3 {
                40
            } else if level > base * 3 {
                -40
            } else {
                0
            };
            let step_bps = (mix(self.seed, 1_000 + index) % 601) as i64 - 300 + bias;
            level = (level * (10_000 + step_bps) / 10_000).max(MIN_LEVEL);
            closes.push(level);
        }
        // Bent by a factor growing linearly from 1 to anchor / free end: multiplicative, so a
        // day's move stays a few percent at any level; the last close lands on the anchor.
        let end = i128::from(closes.last().copied().unwrap_or(level));
        let target = i128::from(self.anchor(block + 1));
        let n = sessions as i128;
        for (j, close) in closes.iter_mut().enumerate() {
            let j = j as i128 + 1;
            let bent = i128::from(*close) * (end * (n - j) + target * j) / (end * n);
            *close = i64::try_from(bent).unwrap_or(i64::MAX).max(MIN_LEVEL);
        }
        closes
    }

    /// Session `index` on `date`, from the levels of the close before it and of its own.
    fn session(
        &self,
        symbol: &str,
        index: usize,
        date: NaiveDate,
        prev: i64,
        close: i64,
    ) -> Session {
        let index = index as u64;
        let (num, den) = self.shares(index);
        // Raw cents in the day's share basis, at least $1.
        let raw = |level: i64| (level * den / (num * LEVEL_PER_CENT)).max(100);
        let mut prev = prev;
        let dividend = self.dividend_on(index).then(|| {
            // 0.4% of the last close, in 1e-4 dollars; the price drops by it on the ex-date.
            let amount = raw(prev) * 4 / 10;
            prev -= prev * 4 / 1_000;
            Decimal::new(amount, 4)
        });
        let h = mix(self.seed, 1_000 + index);
        let gap_bps = ((h >> 16) % 101) as i64 - 50;
        let up_bps = ((h >> 24) % 151) as i64;
        let down_bps = ((h >> 32) % 151) as i64;
        let close = raw(close);
        let open = raw(prev * (10_000 + gap_bps) / 10_000);
        let high = open.max(close) * (10_000 + up_bps) / 10_000;
        let low = (open.min(close) * (10_000 - down_bps) / 10_000).max(50);
        let volume = self.base_volume * (50 + ((h >> 40) % 100) as i64) / 100 * num / den;
        // Typical price in 1e-4 dollars: always within [low, high].
        let vwap = (high + low + close) * 100 / 3;
        Session {
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
            split: self.split_on(index),
            dividend,
        }
    }
}

/// One mock session of one symbol.
pub struct Session {
    pub date: NaiveDate,
    pub bar: DailyBar,
    pub split: Option<(i64, i64)>,
    pub dividend: Option<Decimal>,
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
