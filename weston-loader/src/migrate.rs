//! `weston-loader migrate`: the SQL files of `migrations/`, embedded in the binary.

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Connection, PgPool};

use crate::LoaderError;

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Applies every migration the database does not have yet; returns the versions applied
/// now (empty when it was already current).
pub async fn migrate(pool: &PgPool) -> Result<Vec<i64>, LoaderError> {
    let before = applied_versions(pool).await?;
    let mut conn = pool.acquire().await?;
    let result = MIGRATOR.run(&mut *conn).await;
    if result.is_err() {
        // sqlx keeps its advisory lock when a migration fails; closing the session frees it
        // instead of handing a locked connection back to the pool.
        let _ = conn.detach().close().await;
    }
    result.map_err(|e| match e {
        MigrateError::VersionMissing(v) => LoaderError::Config(format!(
            "the database is at migration {v}, which this weston-loader does not know \
             (it knows up to {}); it was applied by a newer weston-loader or by hand: \
             upgrade weston-loader before migrating",
            MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
        )),
        MigrateError::VersionMismatch(v) => LoaderError::Config(format!(
            "migration {v} was changed after it was applied to this database; \
             applied migrations must never be edited: add a new one instead"
        )),
        MigrateError::Dirty(v) => LoaderError::Config(format!(
            "migration {v} failed part-way earlier and left the database dirty; \
             repair it by hand, then delete its row from _sqlx_migrations"
        )),
        other => LoaderError::Failed(anyhow::Error::new(other).context("applying migrations")),
    })?;
    let after = applied_versions(pool).await?;
    Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
}

/// Versions recorded in `_sqlx_migrations`; empty for a database never migrated.
pub async fn applied_versions(pool: &PgPool) -> Result<Vec<i64>, LoaderError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?,
    )
}
