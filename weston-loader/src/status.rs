//! `weston-loader status`: recent runs, freshness, partitions.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::LoaderError;

#[derive(Debug, Serialize)]
pub struct Status {
    pub migration_version: Option<i64>,
    pub extension_version: Option<String>,
    pub recent_runs: Vec<RunSummary>,
    pub partitions: PartitionSummary,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct RunSummary {
    pub run_id: i64,
    pub job_name: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub rows_loaded: i64,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct PartitionSummary {
    pub monthly_partitions: i64,
    pub oldest_month: Option<NaiveDate>,
    pub newest_month: Option<NaiveDate>,
    pub default_rows: i64,
}

pub async fn collect(pool: &PgPool) -> Result<Status, LoaderError> {
    let migration_version = crate::migrate::applied_versions(pool)
        .await?
        .into_iter()
        .max();
    if migration_version.is_none() {
        return Err(LoaderError::Config(
            "this database has no pg_weston schema yet: run `weston-loader migrate` first".into(),
        ));
    }
    let extension_version =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_weston'")
            .fetch_optional(pool)
            .await?;
    let recent_runs = sqlx::query_as(
        "SELECT run_id, job_name, status, started_at, finished_at, rows_loaded, error
           FROM etl_run ORDER BY run_id DESC LIMIT 10",
    )
    .fetch_all(pool)
    .await?;
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
    Ok(Status {
        migration_version,
        extension_version,
        recent_runs,
        partitions,
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
    if status.recent_runs.is_empty() {
        out.push_str("runs: none yet\n");
    } else {
        out.push_str("recent runs:\n");
        for r in &status.recent_runs {
            let duration = r.finished_at.map_or("running".to_string(), |f| {
                format!(
                    "{:.1}s",
                    (f - r.started_at).num_milliseconds() as f64 / 1000.0
                )
            });
            out.push_str(&format!(
                "  #{:<6} {:<10} {:<10} {} {:>10} rows {:>9}{}\n",
                r.run_id,
                r.job_name,
                r.status,
                r.started_at.format("%Y-%m-%d %H:%M:%SZ"),
                r.rows_loaded,
                duration,
                r.error
                    .as_deref()
                    .map(|e| format!("  error: {e}"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}
