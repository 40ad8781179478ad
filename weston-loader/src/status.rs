//! `weston-loader status`: recent runs, freshness, partitions.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::model::{IdentityStats, RunStats, Unserved};
use crate::LoaderError;

#[derive(Debug, Serialize)]
pub struct Status {
    pub migration_version: Option<i64>,
    pub extension_version: Option<String>,
    /// The version the server's extension files provide; differs from `extension_version`
    /// between the deploy of a new build and `ALTER EXTENSION pg_weston UPDATE`.
    pub extension_available_version: Option<String>,
    pub recent_runs: Vec<RunSummary>,
    pub partitions: PartitionSummary,
    /// `weston_partition_health()`, where the extension has it.
    pub partition_health: Option<PartitionHealth>,
    pub freshness: Freshness,
    /// Open data-quality findings per rule, the last reconciliation.
    pub quality: crate::findings::QualityStatus,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct PartitionHealth {
    pub default_rows: i64,
    pub missing_future_months: i32,
    pub oldest_month: Option<NaiveDate>,
    pub newest_month: Option<NaiveDate>,
    pub last_rotation_at: Option<DateTime<Utc>>,
    pub last_rotation_status: Option<String>,
}

/// How current each symbol of the universe is, against the last completed US session.
#[derive(Debug, Serialize)]
pub struct Freshness {
    pub last_completed_session: NaiveDate,
    pub universe: usize,
    pub up_to_date: usize,
    pub without_data: usize,
    pub symbols: Vec<SymbolFreshness>,
}

#[derive(Debug, Serialize)]
pub struct SymbolFreshness {
    pub symbol: String,
    pub last_date: Option<NaiveDate>,
    /// Completed sessions after `last_date`; `None` without data.
    pub sessions_behind: Option<usize>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct RunSummary {
    pub run_id: i64,
    pub job_name: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub window_start: Option<NaiveDate>,
    pub window_end: Option<NaiveDate>,
    pub rows_loaded: i64,
    /// Rows rejected by validation, from `etl_run.stats`.
    #[sqlx(skip)]
    pub rows_rejected: usize,
    pub seconds: Option<f64>,
    pub error: Option<String>,
    /// Rows supplied and HTTP calls per provider, from `etl_run.stats`.
    #[sqlx(skip)]
    pub providers: Vec<ProviderUse>,
    /// Symbols and kinds of data no provider could answer for (a `partial` run).
    #[sqlx(skip)]
    pub unserved: Vec<Unserved>,
    /// Renames, delistings and identity conflicts the run learned.
    #[sqlx(skip)]
    pub identity: IdentityStats,
    /// The deep re-check of corporate actions: what it asked, added and found restated.
    #[sqlx(skip)]
    pub events_recheck: Option<crate::model::EventsRecheck>,
    /// `etl_run.stats`, read through the type the loader wrote it with.
    #[serde(skip)]
    stats: sqlx::types::Json<RunStats>,
}

#[derive(Debug, Default, Serialize)]
pub struct ProviderUse {
    pub provider: String,
    pub rows_supplied: u64,
    pub http_calls: u64,
    pub retries: u64,
    pub rate_limited: u64,
    /// Why the provider was dropped during the run, if it was.
    pub disabled: Option<String>,
}

impl RunSummary {
    fn read_stats(&mut self) {
        let stats = &self.stats.0;
        self.rows_rejected = stats.rejected;
        self.unserved = stats.unserved.clone();
        self.identity = stats.identity.clone();
        self.events_recheck = stats.events_recheck.clone();
        self.providers = stats
            .providers
            .iter()
            .map(|(provider, p)| ProviderUse {
                provider: provider.clone(),
                rows_supplied: p.rows_supplied,
                http_calls: p.http_calls,
                retries: p.retries,
                rate_limited: p.rate_limited,
                disabled: p.disabled.clone(),
            })
            .collect();
    }
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct PartitionSummary {
    pub monthly_partitions: i64,
    pub oldest_month: Option<NaiveDate>,
    pub newest_month: Option<NaiveDate>,
    pub default_rows: i64,
}

pub async fn collect(pool: &PgPool) -> Result<Status, LoaderError> {
    crate::migrate::require_schema(pool).await?;
    let migration_version = crate::migrate::applied_versions(pool)
        .await?
        .into_iter()
        .max();
    let (extension_version, extension_available_version): (Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT installed_version, default_version FROM pg_available_extensions WHERE name = 'pg_weston'",
        )
        .fetch_optional(pool)
        .await?
        .unwrap_or_default();
    let recent_runs = sqlx::query_as(
        "SELECT run_id, job_name, status, started_at, finished_at, window_start, window_end, rows_loaded,
                extract(epoch FROM coalesce(finished_at, clock_timestamp()) - started_at)::float8 AS seconds, error,
                stats
           FROM etl_run ORDER BY run_id DESC LIMIT 10",
    )
    .fetch_all(pool)
    .await?;
    let mut recent_runs: Vec<RunSummary> = recent_runs;
    recent_runs.iter_mut().for_each(RunSummary::read_stats);
    let partitions = sqlx::query_as(
        r"SELECT count(*) FILTER (WHERE NOT d.is_default) AS monthly_partitions,
                min(d.lower) AS oldest_month, max(d.lower) AS newest_month,
                (SELECT count(*) FROM prices_daily_default) AS default_rows
           FROM (SELECT pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default,
                        substring(pg_get_expr(c.relpartbound, c.oid) FROM $$FROM \('([0-9-]+)'\)$$)::date AS lower
                   FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = 'prices_daily'::regclass) d",
    )
    .fetch_one(pool)
    .await?;
    let has = crate::provides::Provides::probe(pool).await?;
    let partition_health = if has.partition_health {
        Some(
            sqlx::query_as("SELECT * FROM weston_partition_health()")
                .fetch_one(pool)
                .await?,
        )
    } else {
        None
    };
    let session = crate::calendar::last_completed_session(Utc::now());
    // A database not yet updated to price_last_dates (migration 0028) is probed the old way.
    let last_dates_sql = if has.price_last_dates {
        "SELECT s.symbol, l.last_date FROM securities s LEFT JOIN price_last_dates l ON l.symbol = s.symbol
          WHERE s.delisted_date IS NULL ORDER BY s.symbol"
    } else {
        "SELECT s.symbol, (SELECT max(p.date) FROM prices_daily p WHERE p.symbol = s.symbol)
           FROM securities s WHERE s.delisted_date IS NULL ORDER BY s.symbol"
    };
    let last_dates: Vec<(String, Option<NaiveDate>)> =
        sqlx::query_as(last_dates_sql).fetch_all(pool).await?;
    let mut symbols: Vec<SymbolFreshness> = last_dates
        .into_iter()
        .map(|(symbol, last_date)| SymbolFreshness {
            symbol,
            last_date,
            sessions_behind: last_date.map(|d| {
                d.succ_opt()
                    .map_or(0, |next| crate::calendar::trading_days(next, session).len())
            }),
        })
        .collect();
    // Most behind first: no data, then the stalest.
    symbols.sort_by_key(|s| {
        (
            std::cmp::Reverse(s.sessions_behind.unwrap_or(usize::MAX)),
            s.symbol.clone(),
        )
    });
    let freshness = Freshness {
        last_completed_session: session,
        universe: symbols.len(),
        up_to_date: symbols
            .iter()
            .filter(|s| s.sessions_behind == Some(0))
            .count(),
        without_data: symbols.iter().filter(|s| s.last_date.is_none()).count(),
        symbols,
    };
    Ok(Status {
        migration_version,
        extension_version,
        extension_available_version,
        recent_runs,
        partitions,
        partition_health,
        freshness,
        quality: crate::findings::quality_status(pool, has).await?,
    })
}

pub fn render_human(status: &Status) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "schema: migration {}, extension pg_weston {}\n",
        status
            .migration_version
            .map_or("-".into(), |v| v.to_string()),
        status
            .extension_version
            .as_deref()
            .unwrap_or("not installed")
    ));
    if let (Some(installed), Some(available)) = (
        &status.extension_version,
        &status.extension_available_version,
    ) {
        if installed != available {
            out.push_str(&format!(
                "extension update pending: the server has pg_weston {available}; as a superuser run ALTER EXTENSION pg_weston UPDATE\n"
            ));
        }
    }
    let p = &status.partitions;
    out.push_str(&format!(
        "partitions: {} monthly ({} .. {}), {} rows waiting in DEFAULT\n",
        p.monthly_partitions,
        p.oldest_month
            .map_or("-".into(), |d| d.format("%Y-%m").to_string()),
        p.newest_month
            .map_or("-".into(), |d| d.format("%Y-%m").to_string()),
        p.default_rows
    ));
    if let Some(h) = &status.partition_health {
        out.push_str(&format!(
            "partition health: {} default rows, {} future months missing, months {} .. {}, last rotation {} ({})\n",
            h.default_rows,
            h.missing_future_months,
            h.oldest_month.map_or("-".into(), |d| d.format("%Y-%m").to_string()),
            h.newest_month.map_or("-".into(), |d| d.format("%Y-%m").to_string()),
            h.last_rotation_at.map_or("never".into(), |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string()),
            h.last_rotation_status.as_deref().unwrap_or("-")
        ));
    }
    let f = &status.freshness;
    out.push_str(&format!(
        "freshness: {} of {} symbols have the last completed session ({}); {} without data\n",
        f.up_to_date, f.universe, f.last_completed_session, f.without_data
    ));
    for s in f
        .symbols
        .iter()
        .filter(|s| s.sessions_behind != Some(0))
        .take(10)
    {
        out.push_str(&format!(
            "  {:<10} last {} ({})\n",
            s.symbol,
            s.last_date.map_or("-".into(), |d| d.to_string()),
            s.sessions_behind
                .map_or("no data".into(), |n| format!("{n} sessions behind"))
        ));
    }
    out.push_str(&crate::findings::render_quality(&status.quality));
    if status.recent_runs.is_empty() {
        out.push_str("runs: none yet\n");
    } else {
        out.push_str("recent runs:\n");
        for r in &status.recent_runs {
            let duration = match (r.finished_at, r.seconds) {
                (None, Some(s)) => format!("running {s:.0}s"),
                (_, Some(s)) => format!("{s:.1}s"),
                _ => "-".into(),
            };
            let window = match (r.window_start, r.window_end) {
                (Some(a), Some(b)) => format!("{a}..{b}"),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "  #{:<5} {:<10} {} {:<22} {:>9} rows {:>6} rejected {:>10}{}\n",
                r.run_id,
                r.status,
                r.started_at.format("%Y-%m-%d %H:%M:%SZ"),
                window,
                r.rows_loaded,
                r.rows_rejected,
                duration,
                r.error
                    .as_deref()
                    .map(|e| format!("  error: {e}"))
                    .unwrap_or_default()
            ));
            for p in &r.providers {
                out.push_str(&format!(
                    "         {:<8} {:>9} rows {:>6} HTTP calls ({} retries, {} rate limited){}\n",
                    p.provider,
                    p.rows_supplied,
                    p.http_calls,
                    p.retries,
                    p.rate_limited,
                    p.disabled
                        .as_deref()
                        .map(|d| format!("  dropped: {d}"))
                        .unwrap_or_default()
                ));
            }
            for u in r.unserved.iter().take(UNSERVED_SHOWN) {
                out.push_str(&format!("         not served: {u}\n"));
            }
            if r.unserved.len() > UNSERVED_SHOWN {
                out.push_str(&format!(
                    "         not served: {} more (status --json lists them all)\n",
                    r.unserved.len() - UNSERVED_SHOWN
                ));
            }
            out.push_str(&render_identity(&r.identity));
            if let Some(recheck) = &r.events_recheck {
                out.push_str(&crate::recheck::render(recheck));
            }
        }
    }
    out
}

/// Symbols not served listed per run in the human report.
const UNSERVED_SHOWN: usize = 10;

/// What a run learned of its securities' lives, one line per event.
fn render_identity(identity: &IdentityStats) -> String {
    let sections: [(&str, &Vec<String>); 9] = [
        ("ticker change", &identity.renamed),
        ("delisted", &identity.delisted),
        ("reused ticker", &identity.reused),
        ("share-class move", &identity.share_class_moves),
        ("identity conflict", &identity.conflicts),
        ("life event refused", &identity.refused),
        (
            "ticker conflict (a DBA decides)",
            &identity.ticker_conflicts,
        ),
        ("changes unknown", &identity.listing_failed),
        ("listing row rejected", &identity.rejected),
    ];
    let mut out = String::new();
    if let Some(why) = &identity.not_detected {
        out.push_str(&format!(
            "         identity: {why}
"
        ));
    }
    for (label, lines) in sections {
        for line in lines {
            out.push_str(&format!("         {label}: {line}\n"));
        }
    }
    out
}
