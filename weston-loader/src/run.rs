//! `weston-loader run`, the nightly job: the conductor. It checks the request
//! (`plan`), takes the run lock and records the run (`provenance`), gathers each window's
//! rows through the provider chain (`gather`), validates them (`validate`) and writes them
//! in batches (`store`), then audits what it loaded (`audit`) and, with two providers,
//! reconciles a sample of the latest sessions (`reconcile`).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use sqlx::{PgConnection, PgPool};

use crate::audit::Auditor;
use crate::calendar;
use crate::gather::{gather, Gathered};
use crate::job::{self, Job};
use crate::model::{ProviderName, RunStats};
use crate::plan::{Plan, Request};
use crate::providers::{self, Provider, ProviderChain, ProviderSettings};
use crate::provides::Provides;
use crate::{identity, migrate, provenance, reconcile, store, validate, LoaderError};

/// Bars held in memory per fetch: symbols sharing a window are fetched together (so a
/// grouped-daily call serves all of them) up to this many symbol-sessions, then written
/// in batches of `WESTON_BATCH_SYMBOLS`.
const MAX_BARS_PER_FETCH: usize = 500_000;
/// Rejection messages kept in `etl_run.stats` (every one is logged).
const REJECTIONS_KEPT: usize = 100;

/// Counts one rejected row; the first REJECTIONS_KEPT are kept for `status`.
fn keep_rejection(stats: &mut RunStats, why: String) {
    stats.rejected += 1;
    if stats.rejections.len() < REJECTIONS_KEPT {
        stats.rejections.push(why);
    }
}

/// A checked `run`: what `cli.rs` builds from the command line (or a test builds itself).
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The window and symbols asked for, checked against the calendar and bounds.
    pub request: Request,
    /// Providers in order of preference (empty: those with keys).
    pub providers: Vec<ProviderName>,
    pub provider_settings: ProviderSettings,
    /// Symbols per batch (one transaction).
    pub batch_symbols: usize,
    /// Days over which every symbol's events are asked again (0: never).
    pub events_recheck_days: u32,
    /// Whether renames and delistings are detected.
    pub identity_detection: bool,
    /// Securities the audit of the loaded windows reads at once.
    pub audit_batch_symbols: usize,
    /// Securities whose latest session a second provider is asked for (0: none).
    pub reconcile_sample: usize,
}

#[derive(Debug)]
pub struct RunOutcome {
    pub run_id: i64,
    pub stats: RunStats,
    pub seconds: f64,
}

pub async fn run(pool: &PgPool, args: RunRequest) -> Result<RunOutcome, LoaderError> {
    let started = Instant::now();
    let request = &args.request;
    let providers = providers::build(&args.providers, &args.provider_settings)?;
    migrate::require_schema(pool).await?;

    let has = Provides::probe(pool).await?;
    let mut session = job::lock(pool, has).await?;
    let plan = crate::plan::plan(session.connection(), has, request, &providers).await?;
    let mut job = Job::begin(session, provenance::JOB_NAME, (plan.start, plan.end)).await?;
    let run_id = job.run_id();
    tracing::info!(run_id, symbols = plan.symbols, window_start = %plan.start, window_end = %plan.end, "run started");

    let chain = Arc::new(ProviderChain::new(providers.clone()));
    tracing::info!(
        providers = %chain.order().iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","),
        "provider order"
    );
    let mut stats = RunStats {
        symbols: plan.symbols,
        ..RunStats::default()
    };
    let result = match detect_life_events(
        job.connection(),
        has,
        &chain,
        run_id,
        request,
        plan,
        args.identity_detection,
    )
    .await
    {
        Ok((plan, learned)) => {
            stats.symbols = plan.symbols;
            for why in &learned.rejected {
                keep_rejection(&mut stats, why.clone());
            }
            stats.identity = learned;
            let mut load = Load {
                conn: job.connection(),
                run_id,
                chain: &chain,
                batch_symbols: args.batch_symbols,
                today: request.today,
                stats: &mut stats,
            };
            let mut loaded = load.all(&plan).await;
            if loaded.is_ok() {
                let symbols: Vec<String> = plan.groups.values().flatten().cloned().collect();
                let when = (args.events_recheck_days, request.today, plan.end);
                loaded = crate::recheck::recheck(
                    job.connection(),
                    &chain,
                    run_id,
                    &symbols,
                    when,
                    &mut stats,
                )
                .await;
            }
            if loaded.is_ok() {
                let night = (request.today, providers.as_slice());
                let audited = (has, run_id, &plan);
                loaded = audit_loaded(job.connection(), audited, &args, night, &mut stats).await;
            }
            loaded
        }
        Err(e) => Err(e),
    };
    // Recorded whether the run succeeded or not: a failed run's calls are the interesting ones.
    chain.log_stats();
    stats.providers = chain
        .stats()
        .into_iter()
        .map(|s| (s.provider.clone(), s))
        .collect();
    let outcome = result.map(|()| {
        let partial = !stats.unserved.is_empty() || !stats.identity.failures().is_empty();
        partial.then(|| partial_summary(&stats))
    });
    job.end(pool, &stats, outcome).await?;
    Ok(RunOutcome {
        run_id,
        stats,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Ticker changes, delistings and reused tickers of the plan's symbols (`identity`),
/// recorded before anything is gathered; the plan again when detection changed a ticker
/// (new tickers join the run, delisted ones end at their last session).
async fn detect_life_events(
    conn: &mut PgConnection,
    has: Provides,
    chain: &Arc<ProviderChain>,
    run_id: i64,
    request: &Request,
    plan: Plan,
    detection: bool,
) -> anyhow::Result<(Plan, crate::model::IdentityStats)> {
    if !detection {
        let why = format!(
            "renames and delistings are not detected: {} is off (no provider of this plan lists them)",
            crate::cli::IDENTITY_DETECTION_ENV
        );
        tracing::warn!(run_id, "{why}");
        let stats = crate::model::IdentityStats {
            not_detected: Some(why),
            ..Default::default()
        };
        return Ok((plan, stats));
    }
    // Before the DBA's update the identity tables' migration is held back: the load still runs.
    if !has.ticker_history {
        tracing::warn!(
            run_id,
            "no detection of ticker changes: this database's migrations wait for ALTER EXTENSION pg_weston UPDATE"
        );
        return Ok((plan, crate::model::IdentityStats::default()));
    }
    let mut symbols: Vec<String> = plan.groups.values().flatten().cloned().collect();
    let detected = identity::detect(conn, has, chain, run_id, &symbols, (plan.start, plan.end))
        .await
        .context("recording ticker changes and delistings")?;
    let changed = !detected.stats.renamed.is_empty()
        || !detected.stats.delisted.is_empty()
        || !detected.added.is_empty();
    if !changed {
        return Ok((plan, detected.stats));
    }
    for added in detected.added {
        if !symbols.contains(&added) {
            symbols.push(added);
        }
    }
    let plan = crate::plan::plan_symbols(conn, has, request, symbols).await?;
    Ok((plan, detected.stats))
}

/// Audits what the run changed of the windows it loaded (with the context of the rules) and, with
/// two providers, reconciles a sample of the latest sessions; the findings are recorded
/// as this run's, what was found goes in its stats.
async fn audit_loaded(
    conn: &mut PgConnection,
    (has, run_id, plan): (Provides, i64, &Plan),
    args: &RunRequest,
    (today, providers): (chrono::NaiveDate, &[Arc<dyn Provider>]),
    stats: &mut RunStats,
) -> anyhow::Result<()> {
    // Before the DBA's update the audit's migrations are held back: the load still runs.
    if !has.quality_thresholds {
        tracing::warn!(
            run_id,
            "no audit: this database's migrations wait for ALTER EXTENSION pg_weston UPDATE"
        );
        return Ok(());
    }
    let mut auditor = Auditor::new(conn, run_id, args.audit_batch_symbols).await?;
    for (&window, symbols) in &plan.groups {
        auditor.audit_changed(conn, symbols, window).await?;
    }
    if args.reconcile_sample > 0 {
        stats.reconciliation =
            reconcile::reconcile(conn, &mut auditor, providers, args.reconcile_sample, today)
                .await?;
    }
    let audit = auditor.finish();
    tracing::info!(run_id, findings = ?audit.findings, new = audit.new, seen_again = audit.seen_again,
        millis = audit.millis, "audit of the loaded window done");
    stats.audit = Some(audit);
    Ok(())
}

/// What a partial run could not have, for `etl_run.error` (the full list is in its stats).
fn partial_summary(stats: &RunStats) -> String {
    if stats.unserved.is_empty() {
        return stats.identity.failures().join("; ");
    }
    const NAMED: usize = 20;
    let named: Vec<String> = stats
        .unserved
        .iter()
        .take(NAMED)
        .map(ToString::to_string)
        .collect();
    format!(
        "no provider could answer for {} of {} symbols (left out of this run, asked again by the next): {}{}",
        stats.unserved.len(),
        stats.symbols,
        named.join("; "),
        if stats.unserved.len() > NAMED { "; …" } else { "" }
    )
}

/// One run's loading: what every batch needs.
struct Load<'a> {
    conn: &'a mut PgConnection,
    run_id: i64,
    chain: &'a Arc<ProviderChain>,
    batch_symbols: usize,
    today: chrono::NaiveDate,
    stats: &'a mut RunStats,
}

impl Load<'_> {
    /// Every window of `plan`: partitions first, then fetches and their batches.
    async fn all(&mut self, plan: &Plan) -> anyhow::Result<()> {
        if plan.symbols > 0 {
            // The table named on the loader's search_path (in weston or weston_data), not the
            // function's default, which names weston_data's before migration 0034 put it there.
            let created: i32 = sqlx::query_scalar(
                "SELECT weston_ensure_partitions($1, $2, 'prices_daily'::pg_catalog.regclass)",
            )
            .bind(plan.start)
            .bind(plan.end)
            .fetch_one(&mut *self.conn)
            .await
            .context("creating the partitions of the window")?;
            if created > 0 {
                tracing::info!(created, start = %plan.start, end = %plan.end, "created monthly partitions for the window");
            }
        }
        store::prepare_staging(self.conn)
            .await
            .context("creating staging tables")?;
        let progress = progress_bar(plan.symbols);
        for (&(from, to), symbols) in &plan.groups {
            let sessions = calendar::trading_days(from, to);
            let per_fetch = self
                .batch_symbols
                .max(MAX_BARS_PER_FETCH / sessions.len().max(1));
            for fetch_symbols in symbols.chunks(per_fetch) {
                let mut gathered = gather(
                    self.chain,
                    fetch_symbols,
                    (from, to),
                    &sessions,
                    &plan.described,
                )
                .await;
                self.note_failed(&gathered, fetch_symbols, (from, to))?;
                for chunk in fetch_symbols.chunks(self.batch_symbols) {
                    self.write(&mut gathered, chunk).await?;
                    progress.inc(chunk.len() as u64);
                    progress.set_message(format!("{} rows", self.stats.written.total()));
                }
                self.note_asked_through(plan, fetch_symbols, &gathered, to)
                    .await?;
            }
        }
        progress.finish_and_clear();
        tracing::info!(
            run_id = self.run_id,
            rows = self.stats.written.total(),
            bars = self.stats.written.prices_daily,
            rejected = self.stats.rejected,
            batches = self.stats.batches,
            "all batches committed"
        );
        Ok(())
    }

    /// Records that the delisted tickers among `symbols` whose window reached their last
    /// session were asked through it (a symbol no provider served was not).
    async fn note_asked_through(
        &mut self,
        plan: &Plan,
        symbols: &[String],
        gathered: &Gathered,
        to: chrono::NaiveDate,
    ) -> anyhow::Result<()> {
        let asked: Vec<&String> = symbols
            .iter()
            .filter(|s| plan.through_last_session.contains(*s))
            .filter(|s| !gathered.failed.iter().any(|u| &u.symbol == *s))
            .collect();
        if asked.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE securities SET bars_asked_through = $2
              WHERE symbol = ANY($1) AND bars_asked_through IS DISTINCT FROM $2",
        )
        .bind(&asked)
        .bind(to)
        .execute(&mut *self.conn)
        .await
        .context("recording the delisted tickers asked through their last session")?;
        Ok(())
    }

    /// Records the symbols no provider could serve; stops the run when none could be.
    fn note_failed(
        &mut self,
        gathered: &Gathered,
        symbols: &[String],
        (from, to): (chrono::NaiveDate, chrono::NaiveDate),
    ) -> anyhow::Result<()> {
        for unserved in &gathered.failed {
            tracing::error!(symbol = %unserved.symbol, kinds = ?unserved.kinds, error = %unserved.error,
                "no provider could answer for the symbol; its rows are left out of this run");
            self.stats.unserved.push(unserved.clone());
        }
        if gathered.failed.len() == symbols.len() && !symbols.is_empty() {
            anyhow::bail!(
                "no provider could serve any of the {} symbols {}..{} for {from}..{to}; \
                 stopping the run: {}",
                symbols.len(),
                symbols.first().map_or("", |s| s.as_str()),
                symbols.last().map_or("", |s| s.as_str()),
                gathered.failed[0].error
            );
        }
        Ok(())
    }

    /// Validates and writes the rows of `chunk` as one batch.
    async fn write(&mut self, gathered: &mut Gathered, chunk: &[String]) -> anyhow::Result<()> {
        let mut batch = gathered.take(chunk);
        let rejections = validate::validate(&mut batch, self.today);
        for r in &rejections {
            tracing::warn!(symbol = %r.symbol, date = ?r.date, rule = r.rule, detail = %r.detail, "rejected: {r}");
            keep_rejection(self.stats, r.to_string());
        }
        let written = store::write_batch(self.conn, self.run_id, &batch)
            .await
            .with_context(|| {
                format!(
                    "writing the batch {}..{} (rolled back whole)",
                    chunk.first().map_or("", |s| s.as_str()),
                    chunk.last().map_or("", |s| s.as_str())
                )
            })?;
        self.stats.written.add(written);
        self.stats.batches += 1;
        tracing::debug!(
            batch = self.stats.batches,
            rows = written.total(),
            "batch committed"
        );
        Ok(())
    }
}

/// A progress bar on a terminal, nothing otherwise.
fn progress_bar(symbols: usize) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(symbols as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} symbols {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
