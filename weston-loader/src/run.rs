//! `weston-loader run`: the nightly job.
//!
//! One connection holds a session advisory lock for the whole run (a second loader records
//! a `skipped` run and exits 75) and writes every batch; failures are recorded through a
//! fresh pool connection, because the run's own connection may be the thing that broke.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{Connection, PgConnection, PgPool};

use crate::calendar;
use crate::cli::{ProviderName, RunArgs};
use crate::ingest::{self, Rejection, SymbolLoad, Written};
use crate::providers::{self, Provider, ProviderError};
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
/// Provider requests in flight at once.
const FETCH_CONCURRENCY: usize = 16;

/// What one run did, stored in `etl_run.stats`.
#[derive(Debug, Default, Serialize)]
pub struct RunStats {
    pub symbols: usize,
    pub batches: usize,
    pub written: Written,
    pub providers: BTreeMap<String, ProviderStats>,
    pub rejected: usize,
    /// The first rejections, for `status`; every one is logged.
    pub rejections: Vec<String>,
    pub failed_symbols: Vec<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ProviderStats {
    pub calls: u64,
    pub errors: u64,
    pub symbols: u64,
    pub bars: u64,
    pub splits: u64,
    pub dividends: u64,
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
    let result = load(
        &mut conn, run_id, &windows, &providers, batch_size, today, &mut stats,
    )
    .await;
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

async fn load(
    conn: &mut PgConnection,
    run_id: i64,
    windows: &[SymbolWindow],
    providers: &[Arc<dyn Provider>],
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
    let fetcher = Fetcher::new(providers);
    for chunk in windows.chunks(batch_size) {
        let (mut batch, failures) = fetcher.fetch(chunk).await;
        for (symbol, error) in failures {
            tracing::error!(%symbol, %error, "no provider could serve the symbol");
            stats.failed_symbols.push(format!("{symbol}: {error}"));
        }
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
                    chunk.first().map_or("", |w| w.symbol.as_str()),
                    chunk.last().map_or("", |w| w.symbol.as_str())
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
    progress.finish_and_clear();
    stats.providers = fetcher.stats();
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

/// Fetches symbols from the providers in order of preference; a provider that refuses
/// our key is dropped for the rest of the run, other errors fall through to the next one.
struct Fetcher {
    providers: Vec<Arc<dyn Provider>>,
    unauthorized: Arc<Mutex<HashSet<ProviderName>>>,
    stats: Arc<Mutex<BTreeMap<String, ProviderStats>>>,
    limit: Arc<tokio::sync::Semaphore>,
}

impl Fetcher {
    fn new(providers: &[Arc<dyn Provider>]) -> Fetcher {
        Fetcher {
            providers: providers.to_vec(),
            unauthorized: Arc::default(),
            stats: Arc::default(),
            limit: Arc::new(tokio::sync::Semaphore::new(FETCH_CONCURRENCY)),
        }
    }

    fn stats(&self) -> BTreeMap<String, ProviderStats> {
        self.stats.lock().expect("stats lock").clone()
    }

    async fn fetch(&self, chunk: &[SymbolWindow]) -> (Vec<SymbolLoad>, Vec<(String, String)>) {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, window) in chunk.iter().cloned().enumerate() {
            let providers = self.providers.clone();
            let unauthorized = self.unauthorized.clone();
            let stats = self.stats.clone();
            let limit = self.limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let mut errors = Vec::new();
                for provider in &providers {
                    let name = provider.name();
                    if unauthorized.lock().expect("lock").contains(&name) {
                        continue;
                    }
                    let mut calls = 0;
                    let result = fetch_one(provider.as_ref(), &window, &mut calls).await;
                    let mut s = stats.lock().expect("stats lock");
                    let entry = s.entry(name.as_str().to_string()).or_default();
                    entry.calls += calls;
                    match result {
                        Ok(load) => {
                            entry.symbols += 1;
                            entry.bars += load.bars.len() as u64;
                            entry.splits += load.splits.len() as u64;
                            entry.dividends += load.dividends.len() as u64;
                            return (i, Ok(load));
                        }
                        Err(e) => {
                            entry.errors += 1;
                            if matches!(e, ProviderError::Unauthorized { .. }) {
                                unauthorized.lock().expect("lock").insert(name);
                            }
                            errors.push(e.to_string());
                        }
                    }
                }
                if errors.is_empty() {
                    errors.push("every provider was disabled for this run (not authorised)".into());
                }
                (i, Err((window.symbol.clone(), errors.join("; "))))
            });
        }
        let mut results: Vec<(usize, Result<SymbolLoad, (String, String)>)> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(r) => results.push(r),
                Err(e) => results.push((
                    usize::MAX,
                    Err(("?".into(), format!("fetch task panicked: {e}"))),
                )),
            }
        }
        results.sort_by_key(|(i, _)| *i);
        let mut loads = Vec::new();
        let mut failures = Vec::new();
        for (_, r) in results {
            match r {
                Ok(load) => loads.push(load),
                Err(f) => failures.push(f),
            }
        }
        (loads, failures)
    }
}

/// One symbol from one provider; `calls` counts the requests made, failed ones included.
async fn fetch_one(
    provider: &dyn Provider,
    w: &SymbolWindow,
    calls: &mut u64,
) -> Result<SymbolLoad, ProviderError> {
    *calls += 1;
    let security = provider.security(&w.symbol).await?;
    *calls += 1;
    let bars = provider.daily_bars(&w.symbol, w.from, w.to).await?;
    *calls += 1;
    let splits = provider.splits(&w.symbol, w.from, w.to).await?;
    *calls += 1;
    let dividends = provider.dividends(&w.symbol, w.from, w.to).await?;
    Ok(SymbolLoad {
        provider: provider.name(),
        symbol: w.symbol.clone(),
        security,
        bars,
        splits,
        dividends,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
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
