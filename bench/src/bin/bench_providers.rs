//! HTTP calls and wall time of a nightly update (750 symbols, one session) and of a 180-day
//! backfill (750 symbols), per provider, through the fallback chain, against local servers
//! speaking each provider's format. Rate limits are the real plans' (FMP 300/min, Polygon
//! free 5/min) with their period divided by SCALE, so the limiter's waits are real but SCALE
//! times shorter; the "at plan rate" column multiplies the measured time back by SCALE.
//! No PostgreSQL involved. Run: `cargo run --release -p weston-tests --bin bench_providers`;
//! `--smoke`: 20 symbols, a 30-day backfill.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use fake_providers::{Reply, Seen, TestServer};
use weston_loader::model::ProviderName;
use weston_loader::providers::{
    DailyBar, Dividend, FmpProvider, HttpLimits, PolygonProvider, Provider, ProviderChain,
    ProviderError, ProviderStats, RateLimit, SecurityInfo, Split,
};

const SCALE: u32 = 1000;
use weston_tests::BenchSize;

/// How many symbols the universe has (750, or 20 with `--smoke`); set once in `main`, read
/// by the servers' handlers too.
static SYMBOLS: OnceLock<usize> = OnceLock::new();

fn symbol_count() -> usize {
    *SYMBOLS.get().expect("set in main")
}
/// Tickers in a grouped-daily answer besides ours (the real one has ~10,000).
const OTHER_TICKERS: usize = 250;
const LAST_SESSION: &str = "2026-11-20";

fn symbol(i: usize) -> String {
    format!("S{i:03}")
}

/// Weekdays of the `days` calendar days up to LAST_SESSION (holidays are not removed: the
/// trading calendar is the loader's; over 180 days they would take ~4 sessions off).
fn sessions(days: i64) -> Vec<NaiveDate> {
    let last: NaiveDate = LAST_SESSION.parse().unwrap();
    (0..days)
        .rev()
        .map(|back| last - chrono::Duration::days(back))
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect()
}

fn weekdays(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect()
}

fn close_ms(day: NaiveDate) -> i64 {
    chrono_tz::America::New_York
        .from_local_datetime(&day.and_hms_opt(16, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp_millis()
}

fn polygon_bar(ticker: Option<&str>, day: NaiveDate) -> String {
    let t = ticker.map(|t| format!(r#""T":"{t}","#)).unwrap_or_default();
    format!(
        r#"{{{t}"v":1234567.5,"vw":100.0425,"o":100.01,"c":100.5,"h":101.25,"l":99.5,"t":{},"n":8123}}"#,
        close_ms(day)
    )
}

fn polygon_api(seen: &Seen) -> Reply {
    let parts: Vec<&str> = seen.path.split('/').collect();
    match parts.as_slice() {
        ["", "v2", "aggs", "ticker", ticker, "range", "1", "day", from, to] => {
            let days = weekdays(from.parse().unwrap(), to.parse().unwrap());
            let rows: Vec<String> = days.iter().map(|d| polygon_bar(None, *d)).collect();
            Reply::json(format!(
                r#"{{"ticker":"{ticker}","queryCount":{n},"resultsCount":{n},"adjusted":false,"results":[{}],"status":"OK","request_id":"r","count":{n}}}"#,
                rows.join(","),
                n = rows.len()
            ))
        }
        ["", "v2", "aggs", "grouped", "locale", "us", "market", "stocks", day] => {
            let day: NaiveDate = day.parse().unwrap();
            let rows: Vec<String> = (0..symbol_count() + OTHER_TICKERS)
                .map(|i| {
                    if i < symbol_count() {
                        symbol(i)
                    } else {
                        format!("X{i:05}")
                    }
                })
                .map(|t| polygon_bar(Some(&t), day))
                .collect();
            Reply::json(format!(
                r#"{{"queryCount":{n},"resultsCount":{n},"adjusted":false,"results":[{}],"status":"OK","request_id":"r","count":{n}}}"#,
                rows.join(","),
                n = rows.len()
            ))
        }
        // The bench's market has no corporate actions: a reference listing answers an empty
        // page (a 404 is an error, never "no events": a failure must not read as none).
        ["", "v3", "reference", "splits" | "dividends"] => {
            Reply::json(r#"{"results":[],"status":"OK","request_id":"r"}"#)
        }
        _ => Reply::status(
            404,
            r#"{"status":"NOT_FOUND","request_id":"r","message":"Not found."}"#,
        ),
    }
}

fn fmp_api(seen: &Seen) -> Reply {
    if seen.path != "/stable/historical-price-eod/non-split-adjusted" {
        return Reply::json("[]");
    }
    let symbol = seen.param("symbol").unwrap();
    let from = seen.param("from").unwrap().parse().unwrap();
    let to = seen.param("to").unwrap().parse().unwrap();
    let mut days = weekdays(from, to);
    days.reverse(); // newest first, as FMP answers
    let rows: Vec<String> = days
        .iter()
        .map(|d| format!(r#"{{"symbol":"{symbol}","date":"{d}","adjOpen":100.01,"adjHigh":101.25,"adjLow":99.5,"adjClose":100.5,"volume":1234567}}"#))
        .collect();
    Reply::json(format!("[{}]", rows.join(",")))
}

/// The plan's rate with its period divided by SCALE; SCALE 0 means no limit at all.
fn limits(plan: RateLimit, scale: u32) -> HttpLimits {
    let rate = if scale == 0 {
        RateLimit {
            requests: std::num::NonZeroU32::new(1_000_000).unwrap(),
            per: Duration::from_secs(1),
        }
    } else {
        RateLimit {
            requests: plan.requests,
            per: plan.per / scale,
        }
    };
    let mut limits = HttpLimits::with_rate(rate);
    limits.min_backoff = Duration::from_millis(10);
    limits
}

/// Polygon without its grouped endpoint: the one-call-per-symbol alternative.
struct PerSymbolOnly(PolygonProvider);

#[async_trait::async_trait]
impl Provider for PerSymbolOnly {
    fn name(&self) -> ProviderName {
        self.0.name()
    }
    async fn daily_bars(
        &self,
        s: &str,
        f: NaiveDate,
        t: NaiveDate,
    ) -> Result<Vec<DailyBar>, ProviderError> {
        self.0.daily_bars(s, f, t).await
    }
    async fn splits(
        &self,
        s: &str,
        f: NaiveDate,
        t: NaiveDate,
    ) -> Result<Vec<Split>, ProviderError> {
        self.0.splits(s, f, t).await
    }
    async fn dividends(
        &self,
        s: &str,
        f: NaiveDate,
        t: NaiveDate,
    ) -> Result<Vec<Dividend>, ProviderError> {
        self.0.dividends(s, f, t).await
    }
    async fn security(&self, s: &str) -> Result<Option<SecurityInfo>, ProviderError> {
        self.0.security(s).await
    }
    fn stats(&self) -> ProviderStats {
        self.0.stats()
    }
}

struct Servers {
    fmp: TestServer,
    polygon: TestServer,
}

const FMP_PLAN: u32 = 300;
const POLYGON_PLAN: u32 = 5;

impl Servers {
    fn fmp(&self, scale: u32) -> Arc<dyn Provider> {
        let limits = limits(RateLimit::per_minute(FMP_PLAN), scale);
        Arc::new(FmpProvider::new("bench-key", &self.fmp.base_url, limits).unwrap())
    }
    fn polygon(&self, scale: u32) -> PolygonProvider {
        let limits = limits(RateLimit::per_minute(POLYGON_PLAN), scale);
        PolygonProvider::new("bench-key", &self.polygon.base_url, limits).unwrap()
    }
}

/// Runs the chain; its elapsed time and per-provider counters.
async fn run(
    chain: ProviderChain,
    sessions: &[NaiveDate],
    label: &str,
) -> (Duration, Vec<ProviderStats>) {
    let symbols: Vec<String> = (0..symbol_count()).map(symbol).collect();
    let started = Instant::now();
    let outcome = chain.bars(&symbols, sessions).await;
    let elapsed = started.elapsed();
    assert!(
        outcome.failures.is_empty(),
        "{label}: {:?}",
        outcome.failures
    );
    assert!(
        outcome.missing.is_empty(),
        "{label}: every (symbol, session) supplied"
    );
    assert_eq!(
        outcome.bars.len(),
        symbol_count() * sessions.len(),
        "{label}"
    );
    (elapsed, chain.stats())
}

fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

#[derive(Clone, Copy)]
enum Setup {
    Chain,
    Fmp,
    PolygonGrouped,
    PolygonPerSymbol,
}

impl Setup {
    fn chain(self, servers: &Servers, scale: u32) -> ProviderChain {
        ProviderChain::new(match self {
            Setup::Chain => vec![servers.fmp(scale), Arc::new(servers.polygon(scale))],
            Setup::Fmp => vec![servers.fmp(scale)],
            Setup::PolygonGrouped => vec![Arc::new(servers.polygon(scale))],
            Setup::PolygonPerSymbol => vec![Arc::new(PerSymbolOnly(servers.polygon(scale)))],
        })
    }
}

#[tokio::main]
async fn main() {
    let size = BenchSize::from_args();
    SYMBOLS.set(size.pick(750, 20)).expect("set once");
    let servers = Servers {
        fmp: TestServer::start(fmp_api).await,
        polygon: TestServer::start(polygon_api).await,
    };
    let nightly = sessions(1);
    let backfill_days = size.pick(180, 30);
    let backfill = sessions(backfill_days);
    let n = backfill.len();
    let scenarios: Vec<(String, Setup, &[NaiveDate])> = vec![
        (
            "nightly 1 session, chain fmp,polygon".into(),
            Setup::Chain,
            &nightly,
        ),
        (
            "nightly 1 session, polygon grouped".into(),
            Setup::PolygonGrouped,
            &nightly,
        ),
        (
            "nightly 1 session, polygon per symbol".into(),
            Setup::PolygonPerSymbol,
            &nightly,
        ),
        (
            format!("backfill {backfill_days} d ({n} sessions), fmp"),
            Setup::Fmp,
            &backfill,
        ),
        (
            format!("backfill {backfill_days} d ({n} sessions), polygon grouped"),
            Setup::PolygonGrouped,
            &backfill,
        ),
        (
            format!("backfill {backfill_days} d ({n} sessions), polygon per sym"),
            Setup::PolygonPerSymbol,
            &backfill,
        ),
    ];
    println!(
        "bench_providers: {} symbols; limits FMP {FMP_PLAN}/min, Polygon {POLYGON_PLAN}/min (free), calls evenly spaced",
        symbol_count()
    );
    println!("  unlimited: no rate limit (the clients' and local servers' own cost)");
    println!("  scaled:    plan limits with their period divided by {SCALE}");
    println!(
        "  at plan:   projected at the real plan = max((calls - 1) x plan interval, unlimited)"
    );
    println!(
        "{:<46} {:<8} {:>6} {:>7} {:>10} {:>9} {:>9}",
        "scenario", "provider", "calls", "rows", "unlimited", "scaled", "at plan"
    );
    for (label, setup, sessions) in scenarios {
        let (unlimited, _) = run(setup.chain(&servers, 0), sessions, &label).await;
        let (scaled, stats) = run(setup.chain(&servers, SCALE), sessions, &label).await;
        for s in stats.iter().filter(|s| s.http_calls > 0) {
            let plan = if s.provider == "fmp" {
                FMP_PLAN
            } else {
                POLYGON_PLAN
            };
            let interval = RateLimit::per_minute(plan).interval();
            let floor = interval * (s.http_calls.saturating_sub(1) as u32);
            println!(
                "{label:<46} {:<8} {:>6} {:>7} {:>9.2}s {:>8.2}s {:>9}",
                s.provider,
                s.http_calls,
                s.rows_supplied,
                unlimited.as_secs_f64(),
                scaled.as_secs_f64(),
                human(floor.max(unlimited)),
            );
        }
    }
    // Corporate actions of the universe over the nightly overlap window (a week).
    let last = *nightly.last().unwrap();
    let week_ago = last - chrono::Duration::days(7);
    let symbols: Vec<String> = (0..symbol_count()).map(symbol).collect();
    for (label, setup) in [
        ("nightly splits+dividends, fmp (calendars)", Setup::Fmp),
        (
            "nightly splits+dividends, polygon (listings)",
            Setup::PolygonGrouped,
        ),
        (
            "nightly splits+dividends, polygon per symbol",
            Setup::PolygonPerSymbol,
        ),
    ] {
        let chain = setup.chain(&servers, SCALE);
        let started = Instant::now();
        let splits = chain.splits_many(&symbols, week_ago, last).await;
        let dividends = chain.dividends_many(&symbols, week_ago, last).await;
        let scaled = started.elapsed();
        assert!(
            splits.failures.is_empty() && dividends.failures.is_empty(),
            "{label}"
        );
        for s in chain.stats().iter().filter(|s| s.http_calls > 0) {
            let plan = if s.provider == "fmp" {
                FMP_PLAN
            } else {
                POLYGON_PLAN
            };
            let floor =
                RateLimit::per_minute(plan).interval() * (s.http_calls.saturating_sub(1) as u32);
            println!(
                "{label:<46} {:<8} {:>6} {:>7} {:>10} {:>8.2}s {:>9}",
                s.provider,
                s.http_calls,
                s.rows_supplied,
                "-",
                scaled.as_secs_f64(),
                human(floor),
            );
        }
    }
}
