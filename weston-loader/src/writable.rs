//! The loader refuses, before writing anything, to write to a database that cannot take
//! it: a standby, or a database retired read-only after a move (RUNBOOK, "Moving to a
//! managed host"). Exit 2, bad configuration: DATABASE_URL names the wrong database, and
//! nothing is recorded in `etl_run`, which a read-only database cannot take either.

use sqlx::PgPool;

use crate::LoaderError;

#[derive(Debug, sqlx::FromRow)]
struct Writability {
    in_recovery: bool,
    read_only_default: bool,
    read_only_now: bool,
    may_write_market_data: Option<bool>,
}

/// Stops `command` with a clear message when this database is read-only to it.
pub async fn require_writable(pool: &PgPool, command: &str) -> Result<(), LoaderError> {
    let w: Writability = sqlx::query_as(include_str!("../sql/writable.sql"))
        .fetch_one(pool)
        .await?;
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await?;
    let why = if w.in_recovery {
        "it is a standby (in recovery)"
    } else if w.read_only_default || w.read_only_now {
        "it is read-only (default_transaction_read_only = on): a database retired after a move \
         to another host is kept this way for the fallback week"
    } else if w.may_write_market_data == Some(false) {
        "this role may not write its market data (INSERT on prices_daily and etl_run was revoked, \
         as for a database retired after a move)"
    } else {
        return Ok(());
    };
    Err(LoaderError::Config(format!(
        "{command} refused: database {database} takes no writes from the loader, {why}; \
         point DATABASE_URL at the current database. Nothing was written."
    )))
}
