//! The mock market's price walk: blocks of sessions, each anchored at a hashed level and bent
//! to end on the next block's, so a window is generated from its own block on; splits and
//! dividends on schedules computed from the session number.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::DailyBar;

/// The mock market opens on the first session of 2000; nothing exists before it.
pub fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 3).expect("valid date")
}

/// The universe a mock provider announces: MOCK0001 … MOCKnnnn.
pub fn mock_symbol(i: usize) -> String {
    format!("MOCK{i:04}")
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

/// Sessions per block of the walk. Each block starts from a price level that is a pure
/// function of (symbol, block) and is bent to end exactly on the next block's, so a window
/// is generated from the start of its first block only: a call costs at most a block more
/// than its window, however far from the epoch it lies.
pub(super) const BLOCK: usize = 252;

/// Price levels are in 1e-4 cents per original share (before any split): a split changes the
/// raw price, not the level, so the walk needs no knowledge of the splits before its block.
const LEVEL_PER_CENT: i64 = 10_000;

/// The lowest level of a close: $1 per original share.
const MIN_LEVEL: i64 = 100 * LEVEL_PER_CENT;

/// The hash counters of the block anchors (the day steps use 1_000 + session index).
const ANCHOR_COUNTER: u64 = 1 << 40;

/// One symbol's market: everything but the walk is a pure function of the symbol.
pub(super) struct Market {
    seed: u64,
    base_cents: i64,
    base_volume: i64,
    pays_dividends: bool,
    dividend_offset: u64,
    /// (every n sessions, first at session, first ratio), from `SPLIT_SCHEDULE`.
    split: Option<(u64, u64, (i64, i64))>,
}

impl Market {
    pub(super) fn of(symbol: &str) -> Market {
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
    pub(super) fn anchor(&self, block: usize) -> i64 {
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
    pub(super) fn closes(&self, block: usize, sessions: usize) -> Vec<i64> {
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
    pub(super) fn session(
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
pub(super) fn mix(seed: u64, counter: u64) -> u64 {
    let mut z = seed ^ counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
