//! One job's life in `etl_run`, the same for every job the loader records (`run`,
//! `audit`): the run lock, begin, the body's batches on the locked session, then finish
//! (succeeded or partial) or fail, each ending mapped to the loader's exit status.
//! `provenance` writes the rows; this module only orders them.

use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};

use crate::model::RunStats;
use crate::provenance::{self, LockedSession};
use crate::provides::Provides;
use crate::LoaderError;

/// A job under the run lock, recorded in `etl_run` from `begin` until `end`.
pub struct Job {
    session: LockedSession,
    run_id: i64,
}

/// How the body of a job came out: `Ok(None)` done, `Ok(Some(what))` partial (what could
/// not be had), `Err` failed.
pub type Outcome = anyhow::Result<Option<String>>;

/// Takes the run lock (a `skipped` row and `Locked` when another session holds it), for a
/// job whose window is known only once the lock is held (`run` plans on its session).
pub async fn lock(pool: &PgPool, has: Provides) -> Result<LockedSession, LoaderError> {
    provenance::lock(pool, has).await
}

impl Job {
    /// Records the start of `job_name` over `[from, to]` on the locked `session`.
    pub async fn begin(
        mut session: LockedSession,
        job_name: &str,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<Job, LoaderError> {
        let run_id = session.begin_job(job_name, from, to).await?;
        Ok(Job { session, run_id })
    }

    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// The locked session, on which the job's batches are written.
    pub fn connection(&mut self) -> &mut PgConnection {
        self.session.connection()
    }

    /// Ends the job as `outcome` says, with `stats`, and releases the lock: `Ok` when it
    /// succeeded, `Partial` or `Failed` (the operator's message) otherwise. A finish that
    /// fails is recorded as a failure.
    pub async fn end(
        self,
        pool: &PgPool,
        stats: &RunStats,
        outcome: Outcome,
    ) -> Result<(), LoaderError> {
        let run_id = self.run_id;
        let finished = match outcome {
            Ok(partial) => self
                .session
                .finish(pool, run_id, stats, partial.as_deref())
                .await
                .map(|()| partial),
            Err(e) => {
                let message = crate::error::describe(&*e);
                Err(self.session.fail(pool, run_id, &message, stats).await)
            }
        };
        match finished {
            Ok(None) => Ok(()),
            Ok(Some(summary)) => Err(LoaderError::Partial(format!(
                "run {run_id} is partial: {summary}"
            ))),
            Err(message) => Err(LoaderError::Failed(anyhow::anyhow!(message))),
        }
    }
}
