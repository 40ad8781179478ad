//! A run's provenance in `etl_run`, written only through the extension's `weston_etl_*`
//! functions: the advisory lock that admits one loader per database, begin, progress (in
//! each batch's transaction), finish (succeeded or partial), fail and skip.
//!
//! One connection holds a session advisory lock for the whole run and writes every batch;
//! a failure is recorded through a fresh pool connection, because the run's own connection
//! may be the thing that broke.

use sqlx::{Connection, PgConnection, PgPool};

use crate::model::RunStats;
use crate::provides::Provides;
use crate::LoaderError;

/// The `job_name` of the nightly run in `etl_run` (and its `application_name`).
pub const JOB_NAME: &str = "weston-loader run";
/// The `job_name` of an on-demand `weston-loader audit` (it takes the run lock too).
pub const AUDIT_JOB_NAME: &str = "weston-loader audit";
/// Key of the session advisory lock that admits one loader run per database. The nightly
/// rotation in the extension has its own key, so neither waits for or blames the other.
pub const RUN_LOCK_KEY: i64 = 0x7765_7374_6f6e_0001;

/// The session holding the run lock; every batch of the run is written through it.
pub struct LockedSession {
    conn: PgConnection,
    /// Whether the extension can store a run's stats (`weston_etl_set_stats`, 0.3.0).
    stores_stats: bool,
    /// Whether it can record a partial run (`weston_etl_finish_partial`, 0.4.0).
    records_partial: bool,
}

/// Takes the run lock on a connection of its own. When another session holds it, the run
/// is recorded as `skipped` naming that session and `Locked` is returned (exit 75).
/// Holding the lock proves no other loader is alive here: every `running` row is reaped.
pub async fn lock(pool: &PgPool, has: Provides) -> Result<LockedSession, LoaderError> {
    let mut conn = pool.acquire().await?.detach();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(RUN_LOCK_KEY)
        .fetch_one(&mut conn)
        .await?;
    if !locked {
        drop(conn);
        return Err(skip(pool).await);
    }
    let reaped: i32 = sqlx::query_scalar("SELECT weston_etl_reap('0 seconds')")
        .fetch_one(&mut conn)
        .await?;
    if reaped > 0 {
        tracing::warn!(reaped, "marked runs whose loader died as abandoned");
    }
    let stores_stats = has.etl_set_stats;
    if !stores_stats {
        tracing::warn!(
            "this pg_weston has no weston_etl_set_stats: the run's stats are not recorded \
             until a superuser runs ALTER EXTENSION pg_weston UPDATE"
        );
    }
    let records_partial = has.etl_finish_partial;
    Ok(LockedSession {
        conn,
        stores_stats,
        records_partial,
    })
}

impl LockedSession {
    /// Starts the run (`weston_etl_begin`) over `[from, to]`; its run_id.
    pub async fn begin(
        &mut self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<i64, LoaderError> {
        self.begin_job(JOB_NAME, from, to).await
    }

    /// Starts a run of `job_name` (the nightly run or an on-demand audit) over `[from, to]`.
    pub async fn begin_job(
        &mut self,
        job_name: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<i64, LoaderError> {
        Ok(sqlx::query_scalar("SELECT weston_etl_begin($1, $2, $3)")
            .bind(job_name)
            .bind(from)
            .bind(to)
            .fetch_one(&mut self.conn)
            .await?)
    }

    /// The session's connection, for the batches.
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Stores the stats and marks the run `succeeded` (or `partial`, saying what could not
    /// be had) in one transaction, then releases the lock. When that fails, the run is
    /// recorded as failed instead; the error is the message for the operator.
    pub async fn finish(
        mut self,
        pool: &PgPool,
        run_id: i64,
        stats: &RunStats,
        partial: Option<&str>,
    ) -> Result<(), String> {
        if partial.is_some() && !self.records_partial {
            let message = format!(
                "{} (recorded as failed: this pg_weston has no weston_etl_finish_partial; as a \
                 superuser run ALTER EXTENSION pg_weston UPDATE)",
                partial.unwrap_or_default()
            );
            return Err(self.fail(pool, run_id, &message, stats).await);
        }
        if let Err(e) = self.end(run_id, stats, partial).await {
            let message = format!("finishing the run: {}", crate::error::describe(&e));
            return Err(self.fail(pool, run_id, &message, stats).await);
        }
        // Released before exiting, not when the server notices the closed connection: a
        // run started right after this one must find the lock free.
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(RUN_LOCK_KEY)
            .execute(&mut self.conn)
            .await;
        let _ = self.conn.close().await;
        Ok(())
    }

    async fn end(
        &mut self,
        run_id: i64,
        stats: &RunStats,
        partial: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.conn.begin().await?;
        if self.stores_stats {
            set_stats(&mut tx, run_id, stats).await?;
        }
        match partial {
            None => sqlx::query("SELECT weston_etl_finish($1)").bind(run_id),
            Some(summary) => sqlx::query("SELECT weston_etl_finish_partial($1, $2)")
                .bind(run_id)
                .bind(summary),
        }
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Gives up the session (possibly broken; closing it frees the lock) and records the
    /// failure over a fresh connection of `pool`; the message for the operator.
    pub async fn fail(self, pool: &PgPool, run_id: i64, message: &str, stats: &RunStats) -> String {
        let stores_stats = self.stores_stats;
        drop(self.conn);
        match record_failure(pool, run_id, message, stats, stores_stats).await {
            Ok(()) => format!("run {run_id} failed: {message}"),
            Err(e) => format!(
                "run {run_id} failed: {message} (and recording the failure failed too: {})",
                crate::error::describe(&e)
            ),
        }
    }
}

async fn record_failure(
    pool: &PgPool,
    run_id: i64,
    message: &str,
    stats: &RunStats,
    stores_stats: bool,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if stores_stats {
        set_stats(&mut tx, run_id, stats).await?;
    }
    sqlx::query("SELECT weston_etl_fail($1, $2)")
        .bind(run_id)
        .bind(message)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

async fn set_stats(conn: &mut PgConnection, run_id: i64, stats: &RunStats) -> sqlx::Result<()> {
    sqlx::query("SELECT weston_etl_set_stats($1, $2)")
        .bind(run_id)
        .bind(sqlx::types::Json(stats))
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts `rows` to the run inside the batch's transaction `tx`, so `rows_loaded` moves
/// with the rows it counts.
pub async fn progress(tx: &mut PgConnection, run_id: i64, rows: u64) -> sqlx::Result<()> {
    sqlx::query("SELECT weston_etl_progress($1, $2)")
        .bind(run_id)
        .bind(i64::try_from(rows).unwrap_or(i64::MAX))
        .execute(tx)
        .await?;
    Ok(())
}

/// Records a `skipped` run naming the session that holds the lock.
async fn skip(pool: &PgPool) -> LoaderError {
    let reason = match holder(pool).await {
        Some(who) => format!("another session holds the run lock: {who}"),
        None => "another session holds the run lock (it let go since)".to_string(),
    };
    let recorded: Result<i64, sqlx::Error> = sqlx::query_scalar("SELECT weston_etl_skip($1, $2)")
        .bind(JOB_NAME)
        .bind(&reason)
        .fetch_one(pool)
        .await;
    match recorded {
        Ok(_) => LoaderError::Locked(reason),
        Err(e) => LoaderError::Locked(format!(
            "{reason}; recording the skipped run failed: {}",
            crate::error::describe(&e)
        )),
    }
}

/// Who holds the run lock: backend pid, application_name and when it connected.
async fn holder(pool: &PgPool) -> Option<String> {
    let row: Option<(i32, Option<String>, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as(include_str!("../sql/lock_holder.sql"))
            .bind(RUN_LOCK_KEY)
            .fetch_optional(pool)
            .await
            .ok()
            .flatten();
    let (pid, application, since) = row?;
    Some(format!(
        "backend pid {pid}, application_name {:?}, connected since {}",
        application.unwrap_or_default(),
        since.map_or("an unknown time".to_string(), |t| t
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string())
    ))
}
