//! `weston-loader run`: the nightly job.
//!
//! One connection holds a session advisory lock for the whole run (a second loader records
//! a `skipped` run and exits 75) and writes every batch; failures are recorded through a
//! fresh pool connection, because the run's own connection may be the thing that broke.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{Connection, PgConnection, PgPool};

use crate::calendar;
use crate::cli::{ProviderName, RunArgs};
use crate::ingest::{self, Rejection, SymbolLoad, Written};
use crate::providers::{self, BarsOutcome, Provider, ProviderChain, ProviderStats, Sourced};
use crate::LoaderError;

/// The `job_name` of the nightly run in `etl_run`.
pub const JOB_NAME: &str = "weston-loader run";
/// Key of the session advisory lock that admits one loader run per database.
pub const RUN_LOCK_KEY: i64 = 0x7765_7374_6f6e_0001;
/// Days re-read before a symbol's last stored bar, so providers' corrections land.
pub const OVERLAP_DAYS: i64 = 7;
/// Calendar days loaded for a symbol with no stored bars.
pub const NEW_SYMBOL_DAYS: i64 = 180;
/// Symbols per batch (one transaction): `WESTON_BATCH_SYMBOLS`, default 50.
pub const BATCH_ENV: &str = "WESTON_BATCH_SYMBOLS";
/// Days over which the metadata of every described symbol is asked again, a share of the
/// symbols each night: `WESTON_METADATA_REFRESH_DAYS`, default 30; 0 never asks again.
pub const METADATA_REFRESH_ENV: &str = "WESTON_METADATA_REFRESH_DAYS";
/// Symbol metadata requests in flight at once (each provider's rate limiter paces them).
const SECURITY_CONCURRENCY: usize = 8;
/// Bars held in memory per fetch: symbols sharing a window are fetched together (so a
/// grouped-daily call serves all of them) up to this many symbol-sessions, then written
/// in batches of `WESTON_BATCH_SYMBOLS`.
const MAX_BARS_PER_FETCH: usize = 500_000;

/// What one run did, stored in `etl_run.stats`.
#[derive(Debug, Default, Serialize)]
pub struct RunStats {
    pub symbols: usize,
    pub batches: usize,
    pub written: Written,
    /// Per provider: rows supplied, HTTP calls, retries, 429s, and why it was dropped.
    pub providers: BTreeMap<String, ProviderStats>,
    pub rejected: usize,
    /// The first rejections, for `status`; every one is logged.
    pub rejections: Vec<String>,
    pub failed_symbols: Vec<String>,
}

#[derive(Debug)]
pub struct RunOutcome {
    pub run_id: i64,
    pub stats: RunStats,
    pub seconds: f64,
}

/// The window to load for one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolWindow {
    pub symbol: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The contract's default window: from the last stored date minus the overlap, or
/// 180 days back for a symbol with no data; `--from` overrides the start for all.
pub fn symbol_window(
    symbol: &str,
    last_stored: Option<NaiveDate>,
    from: Option<NaiveDate>,
    to: NaiveDate,
    today: NaiveDate,
) -> SymbolWindow {
    let start = from.unwrap_or_else(|| match last_stored {
        Some(last) => last - Duration::days(OVERLAP_DAYS),
        None => today - Duration::days(NEW_SYMBOL_DAYS),
    });
    SymbolWindow {
        symbol: symbol.to_string(),
        from: start,
        to,
    }
}

fn metadata_refresh_days() -> Result<u32, LoaderError> {
    match std::env::var(METADATA_REFRESH_ENV) {
        Err(_) => Ok(30),
        Ok(v) => v.trim().parse::<u32>().map_err(|_| {
            LoaderError::Config(format!(
                "{METADATA_REFRESH_ENV}={v:?}: expected a number of days (0: never)"
            ))
        }),
    }
}

/// Whether the metadata of `symbol` is asked again on `day`: on one day in every
/// `period_days`, which day chosen by the symbol, so a universe is refreshed evenly rather
/// than all on one night (750 symbols, 30 days: about 25 calls a night).
pub fn metadata_refresh_due(symbol: &str, day: NaiveDate, period_days: u32) -> bool {
    if period_days == 0 {
        return false;
    }
    let period = u64::from(period_days);
    let day_number = u64::try_from(day.num_days_from_ce()).unwrap_or(0);
    crate::stable_hash(symbol.as_bytes()) % period == day_number % period
}

fn batch_size() -> Result<usize, LoaderError> {
    match std::env::var(BATCH_ENV) {
        Err(_) => Ok(50),
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                LoaderError::Config(format!("{BATCH_ENV}={v:?}: expected a positive number"))
            }),
    }
}

pub async fn run(pool: &PgPool, args: RunArgs) -> Result<RunOutcome, LoaderError> {
    let started = Instant::now();
    let now = Utc::now();
    let today = calendar::new_york_today(now);
    if let (Some(f), Some(t)) = (args.from, args.to) {
        if f > t {
            return Err(LoaderError::Config(format!("--from {f} is after --to {t}")));
        }
    }
    if let Some(t) = args.to {
        if t > today {
            return Err(LoaderError::Config(format!(
                "--to {t} is in the future (today is {today} in New York)"
            )));
        }
    }
    let mut requested = Vec::new();
    for s in &args.symbols {
        let s = s.trim().to_uppercase();
        if !ingest::valid_symbol(&s) {
            return Err(LoaderError::Config(format!(
                "--symbols: {s:?} is not a valid symbol"
            )));
        }
        if !requested.contains(&s) {
            requested.push(s);
        }
    }
    let batch_size = batch_size()?;
    let refresh_days = metadata_refresh_days()?;
    let providers = providers::build(&args.providers)?;
    if crate::migrate::applied_versions(pool).await?.is_empty() {
        return Err(LoaderError::Config(
            "this database has no pg_weston schema yet: run `weston-loader migrate` first".into(),
        ));
    }

    let mut conn = pool.acquire().await?.detach();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(RUN_LOCK_KEY)
        .fetch_one(&mut conn)
        .await?;
    if !locked {
        return Err(record_skip(pool).await);
    }
    // Holding the lock proves no other loader is alive here: every `running` row is dead.
    let reaped: i32 = sqlx::query_scalar("SELECT weston_etl_reap('0 seconds')")
        .fetch_one(&mut conn)
        .await?;
    if reaped > 0 {
        tracing::warn!(reaped, "marked runs whose loader died as abandoned");
    }

    let to = args
        .to
        .unwrap_or_else(|| calendar::last_completed_session(now));
    let symbols = if requested.is_empty() {
        universe(&mut conn, &providers).await?
    } else {
        requested
    };
    let last_dates: HashMap<String, NaiveDate> = sqlx::query_as::<_, (String, Option<NaiveDate>)>(
        "SELECT s, (SELECT max(date) FROM prices_daily WHERE symbol = s) FROM unnest($1::text[]) s",
    )
    .bind(&symbols)
    .fetch_all(&mut conn)
    .await?
    .into_iter()
    .filter_map(|(s, d)| d.map(|d| (s, d)))
    .collect();
    // Metadata is asked until a provider names the symbol, then again once every
    // `refresh_days`, not every night: on Polygon's free plan one call per symbol would take
    // hours for the universe.
    let described: HashSet<String> = sqlx::query_scalar(
        "SELECT symbol FROM securities WHERE symbol = ANY($1) AND name IS NOT NULL",
    )
    .bind(&symbols)
    .fetch_all(&mut conn)
    .await?
    .into_iter()
    .filter(|symbol: &String| !metadata_refresh_due(symbol, today, refresh_days))
    .collect();
    let windows: Vec<SymbolWindow> = symbols
        .iter()
        .map(|s| symbol_window(s, last_dates.get(s).copied(), args.from, to, today))
        .filter(|w| w.from <= w.to)
        .collect();
    let window_start = windows.iter().map(|w| w.from).min().unwrap_or(to);

    let run_id: i64 = sqlx::query_scalar("SELECT weston_etl_begin($1, $2, $3)")
        .bind(JOB_NAME)
        .bind(window_start)
        .bind(to)
        .fetch_one(&mut conn)
        .await?;
    tracing::info!(run_id, symbols = windows.len(), %window_start, window_end = %to, "run started");

    let mut stats = RunStats {
        symbols: windows.len(),
        ..RunStats::default()
    };
    let chain = Arc::new(ProviderChain::new(providers));
    tracing::info!(
        providers = %chain.order().iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","),
        "provider order"
    );
    let result = load(
        &mut conn, run_id, &windows, &chain, &described, batch_size, today, &mut stats,
    )
    .await;
    // Recorded whether the run succeeded or not: a failed run's calls are the interesting ones.
    chain.log_stats();
    stats.providers = chain
        .stats()
        .into_iter()
        .map(|s| (s.provider.clone(), s))
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    let stats_json = serde_json::to_value(&stats).unwrap_or_default();
    let failure = match result {
        Err(e) => Some(crate::error::describe(&*e)),
        Ok(()) if !stats.failed_symbols.is_empty() => Some(format!(
            "no provider could serve {} of {} symbols: {}",
            stats.failed_symbols.len(),
            stats.symbols,
            stats
                .failed_symbols
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Ok(()) => None,
    };
    let failure = match failure {
        Some(message) => Some(message),
        None => match finish(&mut conn, run_id, &stats_json).await {
            Ok(()) => None,
            Err(e) => Some(format!("finishing the run: {}", crate::error::describe(&e))),
        },
    };
    match failure {
        None => {
            // Released before exiting, not when the server notices the closed connection:
            // a run started right after this one must find the lock free.
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(RUN_LOCK_KEY)
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
            Ok(RunOutcome {
                run_id,
                stats,
                seconds,
            })
        }
        Some(message) => {
            drop(conn); // possibly broken; closing it also frees the lock
            let recorded = record_failure(pool, run_id, &message, &stats_json).await;
            let message = match recorded {
                Ok(()) => format!("run {run_id} failed: {message}"),
                Err(e) => format!(
                    "run {run_id} failed: {message} (and recording the failure failed too: {})",
                    crate::error::describe(&*e)
                ),
            };
            Err(LoaderError::Failed(anyhow::anyhow!(message)))
        }
    }
}

async fn finish(
    conn: &mut PgConnection,
    run_id: i64,
    stats: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("UPDATE etl_run SET stats = $2 WHERE run_id = $1")
        .bind(run_id)
        .bind(stats)
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT weston_etl_finish($1)")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// The universe: securities not delisted; an empty one is seeded from a provider that
/// defines its own market (the mock), otherwise the operator names symbols.
async fn universe(
    conn: &mut PgConnection,
    providers: &[Arc<dyn Provider>],
) -> Result<Vec<String>, LoaderError> {
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT symbol FROM securities WHERE delisted_date IS NULL ORDER BY symbol",
    )
    .fetch_all(&mut *conn)
    .await?;
    if !stored.is_empty() {
        return Ok(stored);
    }
    if let Some(seed) = providers.iter().find_map(|p| p.seed_universe()) {
        tracing::info!(
            symbols = seed.len(),
            "the universe is empty: seeding it from the mock market"
        );
        return Ok(seed);
    }
    Err(LoaderError::Config(
        "the universe is empty (no securities without delisted_date): name symbols with --symbols"
            .into(),
    ))
}

async fn record_skip(pool: &PgPool) -> LoaderError {
    let holder: Option<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database =
                (SELECT oid FROM pg_database WHERE datname = current_database())
            AND ((classid::bigint << 32) | objid::bigint) = $1 LIMIT 1",
    )
    .bind(RUN_LOCK_KEY)
    .fetch_optional(pool)
    .await
    .ok()
    .flatten();
    let reason = match holder {
        Some(pid) => format!("another weston-loader run holds the run lock (backend pid {pid})"),
        None => "another weston-loader run holds the run lock".to_string(),
    };
    let recorded = sqlx::query(
        "INSERT INTO etl_run (job_name, status, finished_at, error) VALUES ($1, 'skipped', clock_timestamp(), $2)",
    )
    .bind(JOB_NAME)
    .bind(&reason)
    .execute(pool)
    .await;
    match recorded {
        Ok(_) => LoaderError::Locked(reason),
        Err(e) => LoaderError::Locked(format!("{reason}; recording the skipped run failed: {e}")),
    }
}

async fn record_failure(
    pool: &PgPool,
    run_id: i64,
    message: &str,
    stats: &serde_json::Value,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE etl_run SET stats = $2 WHERE run_id = $1")
        .bind(run_id)
        .bind(stats)
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT weston_etl_fail($1, $2)")
        .bind(run_id)
        .bind(message)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn load(
    conn: &mut PgConnection,
    run_id: i64,
    windows: &[SymbolWindow],
    chain: &Arc<ProviderChain>,
    described: &HashSet<String>,
    batch_size: usize,
    today: NaiveDate,
    stats: &mut RunStats,
) -> anyhow::Result<()> {
    if let Some(start) = windows.iter().map(|w| w.from).min() {
        let end = windows.iter().map(|w| w.to).max().unwrap_or(start);
        let created: i32 = sqlx::query_scalar("SELECT weston_ensure_partitions($1, $2)")
            .bind(start)
            .bind(end)
            .fetch_one(&mut *conn)
            .await
            .context("creating the partitions of the window")?;
        if created > 0 {
            tracing::info!(created, %start, %end, "created monthly partitions for the window");
        }
    }
    ingest::prepare_staging(conn)
        .await
        .context("creating staging tables")?;

    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(windows.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} symbols {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Symbols sharing a window (on a nightly run, nearly all) are asked for together.
    let mut groups: BTreeMap<(NaiveDate, NaiveDate), Vec<String>> = BTreeMap::new();
    for w in windows {
        groups
            .entry((w.from, w.to))
            .or_default()
            .push(w.symbol.clone());
    }
    for ((from, to), symbols) in groups {
        let sessions = calendar::trading_days(from, to);
        let per_fetch = batch_size.max(MAX_BARS_PER_FETCH / sessions.len().max(1));
        for fetch_symbols in symbols.chunks(per_fetch) {
            let mut fetched = fetch(chain, fetch_symbols, from, to, &sessions, described).await;
            for (symbol, error) in &fetched.failed {
                tracing::error!(%symbol, %error, "no provider could serve the symbol");
                stats.failed_symbols.push(format!("{symbol}: {error}"));
            }
            if fetched.loads.is_empty() && !fetched.failed.is_empty() {
                anyhow::bail!(
                    "no provider could serve any of the {} symbols {}..{} for {from}..{to}; \
                     stopping the run: {}",
                    fetch_symbols.len(),
                    fetch_symbols.first().map_or("", |s| s.as_str()),
                    fetch_symbols.last().map_or("", |s| s.as_str()),
                    fetched.failed[0].1
                );
            }
            for chunk in fetch_symbols.chunks(batch_size) {
                let mut batch: Vec<SymbolLoad> = chunk
                    .iter()
                    .filter_map(|s| fetched.loads.remove(s))
                    .flatten()
                    .collect();
                let rejections: Vec<Rejection> = ingest::validate(&mut batch, today);
                for r in &rejections {
                    tracing::warn!(symbol = %r.symbol, date = ?r.date, rule = r.rule, detail = %r.detail, "rejected: {r}");
                    if stats.rejections.len() < 100 {
                        stats.rejections.push(r.to_string());
                    }
                }
                stats.rejected += rejections.len();
                let written = ingest::write_batch(conn, run_id, &batch)
                    .await
                    .with_context(|| {
                        format!(
                            "writing the batch {}..{} (rolled back whole)",
                            chunk.first().map_or("", |s| s.as_str()),
                            chunk.last().map_or("", |s| s.as_str())
                        )
                    })?;
                stats.written.add(written);
                stats.batches += 1;
                progress.inc(chunk.len() as u64);
                progress.set_message(format!("{} rows", stats.written.total()));
                tracing::debug!(
                    batch = stats.batches,
                    rows = written.total(),
                    "batch committed"
                );
            }
        }
    }
    progress.finish_and_clear();
    tracing::info!(
        run_id,
        rows = stats.written.total(),
        bars = stats.written.prices_daily,
        rejected = stats.rejected,
        batches = stats.batches,
        "all batches committed"
    );
    Ok(())
}

/// What the providers supplied for some symbols sharing one window.
struct Fetched {
    /// Per symbol, one load per provider that supplied something (a symbol's bars may
    /// come from two providers when the first lacked some sessions); every served symbol
    /// has at least one load, so it gets its `securities` row.
    loads: HashMap<String, Vec<SymbolLoad>>,
    /// Symbols left out whole, because every provider failed for some of their data.
    failed: Vec<(String, String)>,
}

/// Bars, corporate actions and (for symbols not yet described) metadata of `symbols`
/// through the provider chain, which asks each provider only for what is still missing.
async fn fetch(
    chain: &Arc<ProviderChain>,
    symbols: &[String],
    from: NaiveDate,
    to: NaiveDate,
    sessions: &[NaiveDate],
    described: &HashSet<String>,
) -> Fetched {
    let mut failed: BTreeMap<String, String> = BTreeMap::new();

    let bars = chain.bars(symbols, sessions).await;
    for (symbol, error) in unserved_bars(chain, &bars) {
        failed.entry(symbol).or_insert(error);
    }
    let splits = chain.splits_many(symbols, from, to).await;
    for (symbol, error) in splits.failures {
        failed.entry(symbol).or_insert_with(|| error.to_string());
    }
    let dividends = chain.dividends_many(symbols, from, to).await;
    for (symbol, error) in dividends.failures {
        failed.entry(symbol).or_insert_with(|| error.to_string());
    }
    let mut securities = HashMap::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(SECURITY_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for symbol in symbols.iter().filter(|s| !described.contains(*s)) {
        let (chain, permits, symbol) = (Arc::clone(chain), Arc::clone(&permits), symbol.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let answer = chain.security(&symbol).await;
            (symbol, answer)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((symbol, Ok(Some(info)))) => {
                securities.insert(symbol, info);
            }
            Ok((_, Ok(None))) => {}
            Ok((symbol, Err(e))) => {
                failed.entry(symbol).or_insert_with(|| e.to_string());
            }
            Err(e) => tracing::error!("a metadata request panicked: {e}"),
        }
    }

    let first = chain.order().first().copied().unwrap_or(ProviderName::Mock);
    let mut loads: HashMap<String, Vec<SymbolLoad>> = HashMap::new();
    fn load_of<'a>(
        loads: &'a mut HashMap<String, Vec<SymbolLoad>>,
        symbol: &str,
        provider: ProviderName,
    ) -> &'a mut SymbolLoad {
        let list = loads.entry(symbol.to_string()).or_default();
        match list.iter().position(|l| l.provider == provider) {
            Some(i) => &mut list[i],
            None => {
                list.push(SymbolLoad {
                    provider,
                    symbol: symbol.to_string(),
                    security: None,
                    bars: Vec::new(),
                    splits: Vec::new(),
                    dividends: Vec::new(),
                });
                list.last_mut().expect("just pushed")
            }
        }
    }
    for symbol in symbols.iter().filter(|s| !failed.contains_key(*s)) {
        match securities.remove(symbol) {
            Some(Sourced { provider, row }) => {
                load_of(&mut loads, symbol, provider).security = Some(row)
            }
            None => {
                load_of(&mut loads, symbol, first);
            }
        }
    }
    for Sourced { provider, row } in bars.bars {
        if !failed.contains_key(&row.symbol) {
            load_of(&mut loads, &row.symbol.clone(), provider)
                .bars
                .push(row);
        }
    }
    for Sourced { provider, row } in splits.rows {
        if !failed.contains_key(&row.symbol) {
            load_of(&mut loads, &row.symbol.clone(), provider)
                .splits
                .push(row);
        }
    }
    for Sourced { provider, row } in dividends.rows {
        if !failed.contains_key(&row.symbol) {
            load_of(&mut loads, &row.symbol.clone(), provider)
                .dividends
                .push(row);
        }
    }
    // A load without rows only exists to give a symbol its `securities` row.
    for list in loads.values_mut() {
        if list.len() > 1 {
            list.retain(|l| {
                l.security.is_some()
                    || !l.bars.is_empty()
                    || !l.splits.is_empty()
                    || !l.dividends.is_empty()
            });
        }
    }
    Fetched {
        loads,
        failed: failed.into_iter().collect(),
    }
}

/// Symbols with a missing session that every provider failed to answer (or was dropped
/// before being asked): a gap no provider explained. A session simply absent from a
/// provider that answered (a halt, a later listing) is not a failure.
fn unserved_bars(chain: &ProviderChain, outcome: &BarsOutcome) -> Vec<(String, String)> {
    let disabled: HashSet<String> = chain
        .stats()
        .into_iter()
        .filter(|s| s.disabled.is_some())
        .map(|s| s.provider)
        .collect();
    let order = chain.order();
    let mut unserved = Vec::new();
    for (symbol, dates) in &outcome.missing {
        for date in dates {
            let date = date.to_string();
            let errors: Vec<_> = outcome
                .failures
                .iter()
                .filter(|(what, _)| what == symbol || *what == date)
                .map(|(_, e)| e)
                .collect();
            let every_provider_failed = order.iter().all(|p| {
                disabled.contains(p.as_str()) || errors.iter().any(|e| e.provider() == *p)
            });
            if every_provider_failed {
                let message = if errors.is_empty() {
                    "every provider is disabled for this run".to_string()
                } else {
                    let mut text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                    text.dedup();
                    text.join("; ")
                };
                unserved.push((symbol.clone(), format!("bars of {date}: {message}")));
                break;
            }
        }
    }
    unserved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn metadata_is_refreshed_once_per_period_and_evenly_over_a_universe() {
        let universe: Vec<String> = (1..=750).map(crate::providers::mock::mock_symbol).collect();
        let start = d(2026, 11, 24);
        let nights: Vec<NaiveDate> = (0..30).map(|i| start + Duration::days(i)).collect();
        for symbol in &universe {
            let due = nights
                .iter()
                .filter(|night| metadata_refresh_due(symbol, **night, 30))
                .count();
            assert_eq!(due, 1, "{symbol} is due once in any 30 consecutive nights");
        }
        let per_night: Vec<usize> = nights
            .iter()
            .map(|night| {
                universe
                    .iter()
                    .filter(|s| metadata_refresh_due(s, *night, 30))
                    .count()
            })
            .collect();
        // 25 a night on average; no night takes a large share of the universe.
        assert!(
            per_night.iter().all(|n| (5..=50).contains(n)),
            "{per_night:?}"
        );
        assert!(universe.iter().all(|s| metadata_refresh_due(s, start, 1)));
        assert!(!universe.iter().any(|s| metadata_refresh_due(s, start, 0)));
    }

    #[test]
    fn default_window_overlaps_stored_data_or_takes_180_days() {
        let today = d(2026, 11, 24);
        let to = d(2026, 11, 23);
        assert_eq!(
            symbol_window("A", Some(d(2026, 11, 20)), None, to, today).from,
            d(2026, 11, 13)
        );
        assert_eq!(
            symbol_window("A", None, None, to, today).from,
            d(2026, 5, 28)
        );
        assert_eq!(
            symbol_window("A", Some(d(2026, 11, 20)), Some(d(2020, 1, 1)), to, today).from,
            d(2020, 1, 1)
        );
    }
}
