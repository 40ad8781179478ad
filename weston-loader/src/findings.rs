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
