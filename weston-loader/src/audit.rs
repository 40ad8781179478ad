//! The data-quality audit over the database: reads the stored bars, splits and dividends
//! of a batch of securities at a time (memory bounded by the batch, not the universe), runs
//! the pure rules (`quality`) with the thresholds of `quality_thresholds`, and records what
//! they find (`findings`). `run` audits what it loaded; `weston-loader audit` any range.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};

use crate::job::{self, Job};
use crate::model::{AuditStats, DailyBar, Dividend, RunStats, Split};
use crate::numeric::Numeric;
use crate::quality::{self, History, Thresholds};
use crate::{findings, migrate, provenance, LoaderError};

/// Reads `quality_thresholds` (once per audit).
pub async fn thresholds(conn: &mut PgConnection) -> anyhow::Result<Thresholds> {
    let rows: Vec<(String, serde_json::Value)> =
        sqlx::query_as(include_str!("../sql/quality_thresholds.sql"))
            .fetch_all(conn)
            .await
            .context("reading quality_thresholds")?;
    Thresholds::from_rows(&rows).map_err(anyhow::Error::msg)
}

/// Calendar days read around a range so the rules see their context: the neighbours of
/// the unit-error median, a stale run's start, the bar before a jump, a split a few days
/// off, the dividend before a duplicate (sessions counted at 7 days per 5, plus holidays).
fn context_days(t: &Thresholds) -> i64 {
    let sessions = t.unit_window.max(t.stale_sessions) as i64 + 1;
    sessions * 7 / 5 + 4 + t.split_window_days.max(t.dividend_duplicate_days)
}

/// One audit (of a run, or of `weston-loader audit`): its thresholds, read once, and what
/// it found so far.
pub struct Auditor {
    run_id: i64,
    thresholds: Thresholds,
    batch_symbols: usize,
    started: Instant,
    stats: AuditStats,
}

impl Auditor {
    pub async fn new(
        conn: &mut PgConnection,
        run_id: i64,
        batch_symbols: usize,
    ) -> anyhow::Result<Auditor> {
        Ok(Auditor {
            run_id,
            thresholds: thresholds(conn).await?,
            batch_symbols: batch_symbols.max(1),
            started: Instant::now(),
            stats: AuditStats::default(),
        })
    }

    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Audits `symbols` over `[from, to]`, a batch of symbols at a time, recording each
    /// batch's findings in one statement.
    pub async fn audit(
        &mut self,
        conn: &mut PgConnection,
        symbols: &[String],
        (from, to): (NaiveDate, NaiveDate),
    ) -> anyhow::Result<()> {
        let context = Duration::days(context_days(&self.thresholds));
        let read = (from - context, to + context);
        for batch in symbols.chunks(self.batch_symbols) {
            let histories = read_batch(conn, batch, read)
                .await
                .with_context(|| format!("reading {}.. for the audit", batch[0]))?;
            let mut found = Vec::new();
            for history in histories.values() {
                self.stats.bars += history.bars.len() as u64;
                found.extend(quality::audit(history, (from, to), &self.thresholds));
            }
            self.stats.symbols += batch.len();
            self.note(&found);
            let recorded = findings::record(conn, self.run_id, &found)
                .await
                .context("recording the audit's findings")?;
            self.stats.new += recorded.new;
            self.stats.seen_again += recorded.seen_again;
        }
        Ok(())
    }

    /// A run's audit of `symbols` over the window it loaded, `[from, to]`: only where the
    /// run changed something (a bar, split or dividend it wrote), with the findings those
    /// changes can move (within the rules' context of a change, which they read around it
    /// too). A window the run left as it was is not read again: its findings stand as the
    /// run that wrote it found them (`weston-loader audit` re-reads any range).
    pub async fn audit_changed(
        &mut self,
        conn: &mut PgConnection,
        symbols: &[String],
        (from, to): (NaiveDate, NaiveDate),
    ) -> anyhow::Result<()> {
        let reach = Duration::days(context_days(&self.thresholds));
        let mut spans: BTreeMap<(NaiveDate, NaiveDate), Vec<String>> = BTreeMap::new();
        // Spans are three dates a security: asked for a thousand securities at a time.
        for batch in symbols.chunks(self.batch_symbols.max(1_000)) {
            let changed: Vec<(String, NaiveDate, NaiveDate)> =
                sqlx::query_as(include_str!("../sql/audit_changed.sql"))
                    .bind(batch)
                    .bind(from)
                    .bind(to)
                    .bind(self.run_id)
                    .fetch_all(&mut *conn)
                    .await
                    .with_context(|| format!("reading what the run changed of {}..", batch[0]))?;
            self.stats.unchanged += batch.len().saturating_sub(changed.len());
            for (symbol, first, last) in changed {
                let span = ((first - reach).max(from), (last + reach).min(to));
                spans.entry(span).or_default().push(symbol);
            }
        }
        for (span, symbols) in &spans {
            self.audit(conn, symbols, *span).await?;
        }
        Ok(())
    }

    /// Counts findings recorded elsewhere (reconciliation) into this audit's stats.
    pub fn note(&mut self, found: &[quality::Finding]) {
        for f in found {
            *self.stats.findings.entry(f.rule.to_string()).or_default() += 1;
        }
    }

    pub fn add_recorded(&mut self, recorded: findings::Recorded) {
        self.stats.new += recorded.new;
        self.stats.seen_again += recorded.seen_again;
    }

    pub fn finish(mut self) -> AuditStats {
        self.stats.millis = self.started.elapsed().as_millis() as u64;
        self.stats
    }
}

/// A stored bar as the audit reads it (`Numeric`: decoded fast, years of bars at a time).
pub type BarRow = (
    String,
    NaiveDate,
    Numeric,
    Numeric,
    Numeric,
    Numeric,
    Numeric,
    Option<Numeric>,
);

/// The first day of each holder of a ticker (`ticker_history`), oldest first.
type Holders = BTreeMap<String, Vec<NaiveDate>>;

/// A ticker's history with one holder: `(ticker, that holder's first day)`; `None` for a
/// ticker with no dated history (its own security).
type Stretch = (String, Option<NaiveDate>);

/// The stretch a row of `symbol` on `date` belongs to: the latest holder that started on or
/// before it (a row before the first holder's start belongs to the first).
fn stretch(holders: &Holders, symbol: &str, date: NaiveDate) -> Stretch {
    (symbol.to_owned(), holder_start(holders, symbol, date))
}

/// The first day of the holder of `symbol` on `date` (see `stretch`).
fn holder_start(holders: &Holders, symbol: &str, date: NaiveDate) -> Option<NaiveDate> {
    holders.get(symbol).and_then(|starts| {
        starts
            .iter()
            .rev()
            .find(|start| **start <= date)
            .or(starts.first())
            .copied()
    })
}

/// Adds a security's bars, sorted by date, to its histories, one per holder.
fn add_bars(out: &mut BTreeMap<Stretch, History>, holders: &Holders, mut bars: Vec<DailyBar>) {
    bars.sort_by_key(|b| b.date);
    let mut rest = bars.as_slice();
    while let Some(first) = rest.first() {
        let start = holder_start(holders, &first.symbol, first.date);
        let run = rest
            .iter()
            .position(|b| holder_start(holders, &b.symbol, b.date) != start)
            .unwrap_or(rest.len());
        let (now, later) = rest.split_at(run);
        entry(out, (first.symbol.clone(), start))
            .bars
            .extend_from_slice(now);
        rest = later;
    }
}

fn entry(out: &mut BTreeMap<Stretch, History>, key: Stretch) -> &mut History {
    out.entry(key).or_insert_with_key(|(symbol, _)| History {
        symbol: symbol.clone(),
        ..History::default()
    })
}

/// The stored history of `symbols` over `[from, to]`, per ticker and holder: a reused
/// ticker's companies, or the classes of a share-class move, are audited apart (the gap and
/// the jump between two securities under one ticker are no finding).
async fn read_batch(
    conn: &mut PgConnection,
    symbols: &[String],
    (from, to): (NaiveDate, NaiveDate),
) -> Result<BTreeMap<Stretch, History>, sqlx::Error> {
    let mut holders = Holders::new();
    let starts: Vec<(String, NaiveDate)> =
        sqlx::query_as(include_str!("../sql/audit_holdings.sql"))
            .bind(symbols)
            .fetch_all(&mut *conn)
            .await?;
    for (symbol, start) in starts {
        holders.entry(symbol).or_default().push(start);
    }
    let mut out: BTreeMap<Stretch, History> = BTreeMap::new();
    let bars: Vec<BarRow> = sqlx::query_as(include_str!("../sql/audit_bars.sql"))
        .bind(symbols)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
    // Grouped (and sorted) here, not by the query: see audit_bars.sql.
    let mut by_symbol: HashMap<String, Vec<DailyBar>> = HashMap::new();
    for (symbol, date, open, high, low, close, volume, vwap) in bars {
        let bar = DailyBar {
            symbol,
            date,
            open: open.0,
            high: high.0,
            low: low.0,
            close: close.0,
            volume: volume.0,
            vwap: vwap.map(|v| v.0),
        };
        match by_symbol.get_mut(&bar.symbol) {
            Some(bars) => bars.push(bar),
            None => {
                by_symbol.insert(bar.symbol.clone(), vec![bar]);
            }
        }
    }
    for bars in by_symbol.into_values() {
        add_bars(&mut out, &holders, bars);
    }
    let splits: Vec<(String, NaiveDate, Decimal, Decimal)> =
        sqlx::query_as(include_str!("../sql/audit_splits.sql"))
            .bind(symbols)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
    for (symbol, date, numerator, denominator) in splits {
        entry(&mut out, stretch(&holders, &symbol, date))
            .splits
            .push(Split {
                symbol: symbol.clone(),
                date,
                numerator,
                denominator,
            });
    }
    let dividends: Vec<(String, NaiveDate, Decimal, String)> =
        sqlx::query_as(include_str!("../sql/audit_dividends.sql"))
            .bind(symbols)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
    for (symbol, ex_date, amount, currency) in dividends {
        entry(&mut out, stretch(&holders, &symbol, ex_date))
            .dividends
            .push(Dividend {
                symbol: symbol.clone(),
                ex_date,
                amount,
                currency,
            });
    }
    Ok(out)
}

/// What `weston-loader audit` did.
#[derive(Debug)]
pub struct AuditOutcome {
    pub run_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub stats: AuditStats,
}

/// A checked `weston-loader audit`: what `cli.rs` builds from the command line.
#[derive(Debug, Clone)]
pub struct AuditRequest {
    /// First date audited (default: the first stored bar).
    pub from: Option<NaiveDate>,
    /// Last date audited (default: the last stored bar).
    pub to: Option<NaiveDate>,
    /// Cleaned by `validate::symbol_list`; empty for every security.
    pub symbols: Vec<String>,
    /// Securities whose stored history is read at once.
    pub batch_symbols: usize,
}

/// `weston-loader audit`: records an etl_run of its own (job `weston-loader audit`, under
/// the run lock, so it never overlaps a load), audits the range and finishes the run.
pub async fn audit_command(
    pool: &PgPool,
    args: &AuditRequest,
) -> Result<AuditOutcome, LoaderError> {
    migrate::require_schema(pool).await?;
    let (first, last): (Option<NaiveDate>, Option<NaiveDate>) =
        sqlx::query_as(include_str!("../sql/audit_range.sql"))
            .fetch_one(pool)
            .await?;
    let from = args.from.or(first);
    let to = args.to.or(last);
    let (Some(from), Some(to)) = (from, to) else {
        return Err(LoaderError::Config(
            "nothing to audit: no bars are stored (give --from and --to to audit a range anyway)"
                .into(),
        ));
    };
    if from > to {
        return Err(LoaderError::Config(format!(
            "--from {from} is after --to {to}"
        )));
    }
    let symbols: Vec<String> = if args.symbols.is_empty() {
        sqlx::query_scalar(include_str!("../sql/audit_symbols.sql"))
            .fetch_all(pool)
            .await?
    } else {
        args.symbols.clone()
    };
    let has = crate::provides::Provides::probe(pool).await?;
    let session = job::lock(pool, has).await?;
    let mut job = Job::begin(session, provenance::AUDIT_JOB_NAME, (from, to)).await?;
    let run_id = job.run_id();
    let result = async {
        let conn = job.connection();
        let mut auditor = Auditor::new(conn, run_id, args.batch_symbols).await?;
        auditor.audit(conn, &symbols, (from, to)).await?;
        anyhow::Ok(auditor.finish())
    }
    .await;
    // A failed audit records no counts: what it found before failing is in its findings.
    let (stats, audit) = match &result {
        Ok(audit) => (
            RunStats {
                symbols: symbols.len(),
                audit: Some(audit.clone()),
                ..RunStats::default()
            },
            audit.clone(),
        ),
        Err(_) => (RunStats::default(), AuditStats::default()),
    };
    job.end(pool, &stats, result.map(|_| None)).await?;
    Ok(AuditOutcome {
        run_id,
        from,
        to,
        stats: audit,
    })
}

impl AuditOutcome {
    /// The one-line summary printed on success.
    pub fn summary(&self) -> String {
        let s = &self.stats;
        let per_rule: Vec<String> = s.findings.iter().map(|(r, n)| format!("{r} {n}")).collect();
        format!(
            "audit {} of {}..{}: {} symbols, {} bars in {:.1}s: {} findings ({} new, {} seen before){}{}",
            self.run_id,
            self.from,
            self.to,
            s.symbols,
            s.bars,
            s.millis as f64 / 1000.0,
            s.new + s.seen_again,
            s.new,
            s.seen_again,
            if per_rule.is_empty() { "" } else { ": " },
            per_rule.join(", ")
        )
    }
}
