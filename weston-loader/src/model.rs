//! The ground floor: the words every module of the loader shares. Rows as traded, who
//! supplied them, what a write did and what a run did. It imports nothing of the loader's,
//! so every other module may import it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A market-data provider, as named on the command line and stored in `provider` columns.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    clap::ValueEnum,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ProviderName {
    Fmp,
    Polygon,
    Mock,
}

impl ProviderName {
    /// The value stored in the `provider` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderName::Fmp => "fmp",
            ProviderName::Polygon => "polygon",
            ProviderName::Mock => "mock",
        }
    }
}

impl std::fmt::Display for ProviderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One raw daily bar, as traded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyBar {
    pub symbol: String,
    pub date: NaiveDate,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub vwap: Option<Decimal>,
}

/// A split by ex-date: `numerator`-for-`denominator` (4-for-1 is (4, 1)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub symbol: String,
    pub date: NaiveDate,
    pub numerator: Decimal,
    pub denominator: Decimal,
}

/// Cash per share paid on `ex_date`, as declared (not split-adjusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dividend {
    pub symbol: String,
    pub ex_date: NaiveDate,
    pub amount: Decimal,
    pub currency: String,
}

/// A row of `securities`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityInfo {
    pub symbol: String,
    pub name: Option<String>,
    pub exchange: Option<String>,
    pub sector: Option<String>,
    pub industry: Option<String>,
    pub listed_date: Option<NaiveDate>,
    pub delisted_date: Option<NaiveDate>,
}

/// A row and the provider that supplied it (stored in the `provider` column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub provider: ProviderName,
    pub row: T,
}

/// What one transaction writes: every table's rows, each in the shape it has from the
/// provider to the database. Every symbol of the batch has one `securities` row: its
/// metadata when a provider described it, else a bare row (the bars' foreign key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub described: Vec<Sourced<SecurityInfo>>,
    /// Symbols without metadata this run; a stored description is kept.
    pub undescribed: Vec<Sourced<String>>,
    pub bars: Vec<Sourced<DailyBar>>,
    pub splits: Vec<Sourced<Split>>,
    pub dividends: Vec<Sourced<Dividend>>,
}

/// Rows actually written (inserted or changed) per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Written {
    pub securities: u64,
    pub prices_daily: u64,
    pub splits: u64,
    pub dividends: u64,
}

impl Written {
    pub fn total(&self) -> u64 {
        self.securities + self.prices_daily + self.splits + self.dividends
    }

    pub fn add(&mut self, other: Written) {
        self.securities += other.securities;
        self.prices_daily += other.prices_daily;
        self.splits += other.splits;
        self.dividends += other.dividends;
    }
}

/// Counters of one provider for the run's log and `etl_run.stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderStats {
    pub provider: String,
    /// Requests sent (every attempt, retries and pages included).
    pub http_calls: u64,
    /// Attempts that were retried (transient failures and 429s).
    pub retries: u64,
    /// HTTP 429 answers received.
    pub rate_limited: u64,
    /// Rows parsed from the provider's answers.
    pub rows_returned: u64,
    /// Rows the fallback chain took from this provider (what gets stored).
    pub rows_supplied: u64,
    /// Why the provider was dropped for the rest of the run, if it was.
    pub disabled: Option<String>,
}

/// What one run did, stored in `etl_run.stats` and read back by `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunStats {
    pub symbols: usize,
    pub batches: usize,
    pub written: Written,
    /// Per provider: rows supplied, HTTP calls, retries, 429s, and why it was dropped.
    pub providers: BTreeMap<String, ProviderStats>,
    pub rejected: usize,
    /// The first rejections, for `status`; every one is logged.
    pub rejections: Vec<String>,
    /// Symbols some of whose data no provider could answer for (the run is `partial`).
    pub unserved: Vec<Unserved>,
    /// Renames, delistings and identity conflicts learned from the providers.
    pub identity: IdentityStats,
    /// What the data-quality audit of the run found (`None`: no audit ran).
    pub audit: Option<AuditStats>,
    /// The comparison of a sample with a second provider (`None`: not configured or off).
    pub reconciliation: Option<ReconcileStats>,
    /// The deep re-check of corporate actions (`None`: off, or the run stopped before it).
    pub events_recheck: Option<EventsRecheck>,
}

/// One night's deep re-check of corporate actions (`recheck`): the symbols due asked their
/// splits and dividends since their first stored bar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventsRecheck {
    /// `WESTON_EVENTS_RECHECK_DAYS`: each symbol is due once in this many days.
    pub period_days: u32,
    /// Symbols due tonight (with stored bars) whose history was asked.
    pub symbols: usize,
    pub splits_added: u64,
    pub dividends_added: u64,
    /// The events added: "AAPL split 2014-06-09 7:1 (fmp)" (the first 100).
    pub added: Vec<String>,
    /// Stored events a provider now states otherwise, replaced (each an `event_restated`
    /// finding): "AAPL dividend 2020-08-07: 0.82 USD (fmp) now 0.83 USD (fmp)".
    pub restated: Vec<String>,
    /// Symbols no provider could answer for, with the errors (asked again a period later).
    pub failed: Vec<String>,
    /// Re-checked events that broke a row rule.
    pub rejected: Vec<String>,
}

/// One night's reconciliation with a second provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReconcileStats {
    /// Securities whose latest stored bar was sampled.
    pub sampled: usize,
    /// Of those, the ones a second provider answered for and that were compared.
    pub compared: usize,
    pub disagreements: u64,
    /// Sampled symbols no second provider gave the session for (never counted as agreeing).
    pub unanswered: Vec<String>,
    /// The second providers' failures.
    pub errors: Vec<String>,
}

/// One audit: securities and bars read, findings per rule, how many were new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditStats {
    pub symbols: usize,
    /// Of a run's window, securities it changed nothing of: not read again.
    pub unchanged: usize,
    pub bars: u64,
    /// Findings per rule this audit saw (new or seen before).
    pub findings: BTreeMap<String, u64>,
    /// Findings no earlier run had seen.
    pub new: u64,
    pub seen_again: u64,
    pub millis: u64,
}

/// A kind of data a run asks the providers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataKind {
    Bars,
    Splits,
    Dividends,
    Metadata,
}

impl DataKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DataKind::Bars => "bars",
            DataKind::Splits => "splits",
            DataKind::Dividends => "dividends",
            DataKind::Metadata => "metadata",
        }
    }
}

/// A symbol whose `kinds` no provider could answer for (a failure, never an empty answer).
/// Its rows are left out of the run whole, so the next run asks again from its last
/// stored date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unserved {
    pub symbol: String,
    pub kinds: Vec<DataKind>,
    /// The providers' errors, for the operator.
    pub error: String,
}

impl std::fmt::Display for Unserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
        write!(f, "{} ({}): {}", self.symbol, kinds.join(", "), self.error)
    }
}

/// A change in a ticker's life that a provider's listing reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifeEvent {
    /// The security trading as `old` trades as `new` from `effective` (its first day).
    Renamed {
        old: String,
        new: String,
        effective: NaiveDate,
    },
    /// The security trading as `symbol` was delisted after `last_day` (its last session).
    Delisted { symbol: String, last_day: NaiveDate },
}

/// A provider's listing of life events: the rows it read, and each malformed row with the
/// reason it was rejected (one bad row costs only itself, never the listing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifeListing {
    pub events: Vec<LifeEvent>,
    pub rejected: Vec<String>,
}

/// What a provider knows of the security holding a ticker now (or that held it last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickerIdentity {
    pub symbol: String,
    pub composite_figi: Option<String>,
    pub share_class_figi: Option<String>,
    pub cik: Option<String>,
    /// Its first day under this ticker, when known.
    pub listed: Option<NaiveDate>,
    /// Its last day under this ticker when it no longer trades under it.
    pub last_day: Option<NaiveDate>,
    /// The ticker it trades under now and its first day under it, after a ticker change.
    pub renamed_to: Option<(String, NaiveDate)>,
}

/// What a run learned of its securities' lives (`etl_run.stats.identity`, shown by `status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityStats {
    /// Ticker changes recorded: "FB→META from 2022-06-09 (fmp)".
    pub renamed: Vec<String>,
    /// Delistings recorded: "LEH after 2008-09-12 (polygon)".
    pub delisted: Vec<String>,
    /// Stored tickers a provider now describes as another security: a new security each.
    pub reused: Vec<String>,
    /// Tickers that moved to another share class of the same issuer (GOOG in 2014).
    pub share_class_moves: Vec<String>,
    /// What could not be learned (a ticker not investigated, a provider describing another
    /// security without its first day); nothing of them was written.
    pub conflicts: Vec<String>,
    /// Events the database refused, with its reason: nothing of them was written, the run
    /// is `partial`, and later runs try each again (`pending`) until it is recorded.
    pub refused: Vec<String>,
    /// Ticker changes onto a ticker another live security holds: neither history changed,
    /// a `ticker_conflict` finding each waits for a DBA (`weston_decide_ticker_conflict`).
    pub ticker_conflicts: Vec<String>,
    /// The refused events as the next run tries them again; absent when detection did not
    /// run (the next run then takes those of the last run that detected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Vec<PendingEvent>>,
    /// Symbols that stopped receiving bars (or were delisted) and were asked about one by one.
    pub investigated: usize,
    /// Listings of changes that failed at every provider: changes are unknown, not absent.
    pub listing_failed: Vec<String>,
    /// Rows of the listing that were malformed, each with its reason; the rest was used.
    pub rejected: Vec<String>,
    /// Why changes were not detected at all this run (the operator turned detection off).
    pub not_detected: Option<String>,
}

impl IdentityStats {
    /// Whether the run learned anything or failed to.
    pub fn is_empty(&self) -> bool {
        self.renamed.is_empty()
            && self.delisted.is_empty()
            && self.reused.is_empty()
            && self.share_class_moves.is_empty()
            && self.conflicts.is_empty()
            && self.refused.is_empty()
            && self.ticker_conflicts.is_empty()
            && self.listing_failed.is_empty()
            && self.rejected.is_empty()
    }

    /// What makes the run `partial`: changes unknown, and events the database refused.
    pub fn failures(&self) -> Vec<String> {
        let refused = self
            .refused
            .iter()
            .map(|r| format!("life event refused (tried again by the next run): {r}"));
        self.listing_failed.iter().cloned().chain(refused).collect()
    }
}

/// A life event the database refused, as a later run tries it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PendingEvent {
    Renamed {
        provider: ProviderName,
        old: String,
        new: String,
        effective: NaiveDate,
        first_day: Option<NaiveDate>,
    },
    Delisted {
        provider: ProviderName,
        symbol: String,
        last_day: NaiveDate,
        first_day: Option<NaiveDate>,
    },
    /// Learned by asking about the ticker (a new holder, a history to start): asked again,
    /// with the delisting a listing had reported.
    Investigate {
        symbol: String,
        hint: Option<(ProviderName, NaiveDate)>,
    },
}
