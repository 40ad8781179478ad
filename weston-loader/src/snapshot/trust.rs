//! Whether a superuser may restore the snapshot. Restoring runs, as the restoring user, the
//! functions that table and domain checks, generated columns and partition keys call, and
//! neither `SET ROLE` nor `SET SESSION AUTHORIZATION` confines them (the function can reset
//! either). So a function a less trusted role owns and can replace (the backend's, in `app`)
//! would be a road to superuser through the printed rollback. Such a snapshot is refused, and
//! the check and the dump see the same database: pg_dump imports the snapshot of the
//! transaction that checked, which stays open until the dump ends.

use sqlx::{PgPool, Postgres, Transaction};

use crate::database::Database;
use crate::LoaderError;

/// Rows named before "and N more".
const SHOWN: usize = 8;

/// A transaction whose database state the dump must see, open until `release`.
pub struct Checked {
    tx: Transaction<'static, Postgres>,
    /// For `pg_dump --snapshot`.
    pub snapshot: String,
}

impl Checked {
    /// Ends the transaction. It only read: a failure to end it loses nothing.
    pub async fn release(self) {
        let _ = self.tx.rollback().await;
    }
}

/// Refuses (exit 2, nothing dumped) a database whose restore would run code a less trusted
/// role could have written; `stopped` says what did not happen then.
pub async fn require_trusted_restore(
    pool: &PgPool,
    database: &Database,
    stopped: &str,
) -> Result<Checked, LoaderError> {
    // Dropped on any error, the transaction rolls back.
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
         SET LOCAL search_path = pg_catalog, pg_temp",
    )
    .execute(&mut *tx)
    .await?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_catalog.pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await?;
    let untrusted: Vec<(String, String, String)> =
        sqlx::query_as(include_str!("../../sql/restore_runs_untrusted.sql"))
            .fetch_all(&mut *tx)
            .await?;
    if untrusted.is_empty() {
        return Ok(Checked { tx, snapshot });
    }
    tx.rollback().await?;
    Err(LoaderError::Config(format!(
        "a superuser's restore of {} would run code that roles other than superusers can \
         replace: {}. Nothing was dumped; {stopped}. Drop what calls those functions, or give \
         the functions to a role no login can act as (ALTER FUNCTION ... OWNER TO)",
        database.describe(),
        describe_untrusted(&untrusted)
    )))
}

/// "the check c of app.t calls app.f(integer), owned by app_rw; ...", at most `SHOWN`.
fn describe_untrusted(untrusted: &[(String, String, String)]) -> String {
    let mut shown: Vec<String> = untrusted
        .iter()
        .take(SHOWN)
        .map(|(what, function, owner)| format!("{what} calls {function}, owned by {owner}"))
        .collect();
    if untrusted.len() > SHOWN {
        shown.push(format!("and {} more", untrusted.len() - SHOWN));
    }
    shown.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_restore_would_run_is_named_and_bounded() {
        let row = |i: usize| {
            (
                format!("the check c{i} of app.t"),
                "app.f(integer)".to_string(),
                "app_rw".to_string(),
            )
        };
        assert_eq!(
            describe_untrusted(&[row(1)]),
            "the check c1 of app.t calls app.f(integer), owned by app_rw"
        );
        let many: Vec<_> = (1..=10).map(row).collect();
        let text = describe_untrusted(&many);
        assert!(text.ends_with("c8 of app.t calls app.f(integer), owned by app_rw; and 2 more"));
        assert!(!text.contains("c9"));
    }
}
