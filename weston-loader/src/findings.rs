//! Storing findings in `quality_findings`, for every part of the loader that finds
//! something wrong (the audit's rules, reconciliation, ticker identity): one row per
//! (rule, symbol, date, subject); seen again, only `last_run` (and an open finding's
//! details) move, so nothing is duplicated and a resolved finding stays resolved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::quality::Finding;

/// What recording a set of findings did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Recorded {
    /// Findings no run had seen before.
    pub new: u64,
    /// Findings seen again (their `last_run` moved).
    pub seen_again: u64,
}

impl Recorded {
    pub fn add(&mut self, other: Recorded) {
        self.new += other.new;
        self.seen_again += other.seen_again;
    }
}

/// Upserts `findings` as seen by `run_id`, in the caller's transaction (or autocommit).
/// Two findings with one key in `findings` are one: the last wins (the upsert may touch a
/// row only once per statement).
pub async fn record(
    conn: &mut PgConnection,
    run_id: i64,
    findings: &[Finding],
) -> Result<Recorded, sqlx::Error> {
    let unique: BTreeMap<_, &Finding> = findings
        .iter()
        .map(|f| ((f.rule, &f.symbol, f.date, &f.subject), f))
        .collect();
    if unique.is_empty() {
        return Ok(Recorded::default());
    }
    let rows: Vec<&Finding> = unique.into_values().collect();
    let inserted: Vec<bool> = sqlx::query_scalar(include_str!("../sql/upsert_findings.sql"))
        .bind(run_id)
        .bind(sqlx::types::Json(&rows))
        .fetch_all(conn)
        .await?;
    let new = inserted.iter().filter(|&&i| i).count() as u64;
    Ok(Recorded {
        new,
        seen_again: inserted.len() as u64 - new,
    })
}

/// Open findings of one rule, for `status`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OpenByRule {
    pub rule: String,
    pub open: i64,
    pub oldest: chrono::NaiveDate,
    pub last_seen_by: i64,
}

/// `status`'s data-quality section: open findings per rule and the last reconciliation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QualityStatus {
    pub open_findings: Vec<OpenByRule>,
    /// The latest run that reconciled, and what it found.
    pub reconciliation: Option<(i64, crate::model::ReconcileStats)>,
}

pub async fn quality_status(
    pool: &sqlx::PgPool,
    has: crate::provides::Provides,
) -> Result<QualityStatus, sqlx::Error> {
    // Before the DBA's update the findings' migration is held back: nothing to show yet.
    if !has.quality_findings {
        return Ok(QualityStatus::default());
    }
    let open_findings = sqlx::query_as(include_str!("../sql/open_findings.sql"))
        .fetch_all(pool)
        .await?;
    let last: Option<(i64, sqlx::types::Json<crate::model::ReconcileStats>)> =
        sqlx::query_as(include_str!("../sql/last_reconciliation.sql"))
            .fetch_optional(pool)
            .await?;
    Ok(QualityStatus {
        open_findings,
        reconciliation: last.map(|(run, stats)| (run, stats.0)),
    })
}

/// The human lines of `status` for the data-quality section.
pub fn render_quality(q: &QualityStatus) -> String {
    let total: i64 = q.open_findings.iter().map(|r| r.open).sum();
    let mut out = format!("open data-quality findings: {total}\n");
    for r in &q.open_findings {
        out.push_str(&format!(
            "  {:<22} {:>6} open, oldest {}, last seen by run {}\n",
            r.rule, r.open, r.oldest, r.last_seen_by
        ));
    }
    if let Some((run, r)) = &q.reconciliation {
        out.push_str(&format!(
            "reconciliation (run {run}): {} of {} sampled sessions compared, {} disagreements{}{}\n",
            r.compared,
            r.sampled,
            r.disagreements,
            if r.unanswered.is_empty() {
                String::new()
            } else {
                format!(", {} unanswered (not agreeing)", r.unanswered.len())
            },
            if r.errors.is_empty() {
                String::new()
            } else {
                format!("; second provider failed: {}", r.errors.join("; "))
            }
        ));
    }
    out
}
