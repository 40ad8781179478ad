//! Ticker conflicts: a provider reports a change onto a ticker another live security holds
//! (`weston_ticker_changed` refuses it with SQLSTATE 23P01). Neither history changes; the
//! change is a `ticker_conflict` finding until a DBA decides it
//! (`weston_decide_ticker_conflict`). A rejected one is never recorded by a later run.

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::apply::Writer;
use crate::model::ProviderName;

/// One reported ticker change.
pub(super) struct Change<'a> {
    pub(super) provider: ProviderName,
    pub(super) old: &'a str,
    pub(super) new: &'a str,
    pub(super) effective: NaiveDate,
}

/// Whether the database refused a change because another security holds its new ticker.
pub(super) fn is_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "23P01")
}

/// Whether a DBA rejected this change (its finding resolved as false_positive). A failed
/// look-up is "no": the change is then attempted, and refused again if still conflicting.
pub(super) async fn rejected(
    conn: &mut PgConnection,
    old: &str,
    new: &str,
    effective: NaiveDate,
) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM quality_findings
                         WHERE rule = $1 AND symbol = $2 AND date = $3 AND subject = $4
                           AND resolution = 'false_positive')",
    )
    .bind(crate::quality::rule::TICKER_CONFLICT)
    .bind(new)
    .bind(effective)
    .bind(old)
    .fetch_one(conn)
    .await
    .unwrap_or(false)
}

/// Records the conflict as a finding of this run (seen again: its last run) and reports it
/// while it is open; a finding that cannot be written is a refusal like any other.
pub(super) async fn record(
    writer: &mut Writer<'_>,
    change: &Change<'_>,
    label: &str,
    e: &sqlx::Error,
) {
    let Change {
        provider,
        old,
        new,
        effective,
    } = *change;
    let finding = crate::quality::Finding {
        rule: crate::quality::rule::TICKER_CONFLICT,
        symbol: new.to_owned(),
        date: effective,
        subject: old.to_owned(),
        details: serde_json::json!({
            "old": old, "new": new, "effective": effective, "provider": provider.as_str(),
            "refused": e.as_database_error().map(|d| d.message().to_owned()),
        }),
    };
    let recorded = crate::findings::record(&mut *writer.conn, writer.run_id, &[finding]).await;
    match recorded {
        Ok(_) => {
            tracing::warn!(%old, %new, %effective, %provider,
                "a ticker change onto another live security's ticker: a ticker_conflict finding for a DBA");
            let line = format!("{label}: {new} is held by another live security");
            if !writer.stats.ticker_conflicts.contains(&line) {
                writer.stats.ticker_conflicts.push(line);
            }
        }
        Err(write) => {
            let retry = crate::model::PendingEvent::Renamed {
                provider,
                old: old.to_owned(),
                new: new.to_owned(),
                effective,
                first_day: None,
            };
            writer.refuse(label.to_owned(), &write, retry);
        }
    }
}
