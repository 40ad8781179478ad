//! ETL provenance: one `etl_run` row per loader run, visible while it runs.
//!
//! `progress` runs inside the caller's batch transaction, so `rows_loaded` moves with the
//! rows it counts. `fail` is called by the loader in a fresh transaction after the failing
//! batch rolled back, so the error survives the rollback.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::owner::{as_owner, owner_of};
use crate::report::OrReport;

/// Runs `work` as the owner of `etl_run` when the caller is a superuser (pg_cron's reaping,
/// a loader run as `postgres`): whoever owns it may have put triggers or defaults on it.
fn on_etl_run<R>(work: impl FnOnce(&mut SpiClient<'_>) -> R) -> R {
    Spi::connect_mut(|client| {
        let table = client
            .select(
                "SELECT 'etl_run'::pg_catalog.regclass::pg_catalog.oid",
                Some(1),
                &[],
            )
            .ok()
            .and_then(|t| t.first().get::<pg_sys::Oid>(1).ok().flatten())
            .unwrap_or_else(|| error!("weston: no etl_run table in this database"));
        let owner = owner_of(client, table);
        as_owner(owner, || work(client))
    })
}

/// Locks the run's row and returns its status; errors for an unknown run.
fn lock_run(client: &mut SpiClient<'_>, run_id: i64) -> String {
    let rows = client
        .update(
            "SELECT status FROM etl_run WHERE run_id = $1 FOR UPDATE",
            Some(1),
            &[run_id.into()],
        )
        .unwrap_or_else(|e| error!("weston: reading etl_run {run_id}: {e}"));
    if rows.is_empty() {
        error!("weston: etl_run {run_id} does not exist");
    }
    rows.first()
        .get::<String>(1)
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn require_running(client: &mut SpiClient<'_>, run_id: i64, action: &str) {
    let status = lock_run(client, run_id);
    if status != "running" {
        error!("weston: cannot {action} etl_run {run_id}: it is {status}, not running");
    }
}

fn exec(client: &mut SpiClient<'_>, sql: &str, args: &[pgrx::datum::DatumWithOid<'_>]) {
    client
        .update(sql, None, args)
        .unwrap_or_else(|e| error!("weston: {e}"));
}

/// Starts a run (status `running`) and returns its run_id.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_etl_begin(job_name: &str, window_start: Option<Date>, window_end: Option<Date>) -> i64 {
    crate::report::plainly("weston_etl_begin", || {
        if job_name.trim().is_empty() {
            error!("weston: job_name must not be empty");
        }
        if let (Some(s), Some(e)) = (window_start, window_end) {
            if s > e {
                crate::report::invalid_argument(format!(
                    "weston: window_start {} is after window_end {}",
                    weston_core::dates::show(s.to_pg_epoch_days()),
                    weston_core::dates::show(e.to_pg_epoch_days())
                ));
            }
        }
        on_etl_run(|client| {
            client
            .update(
                "INSERT INTO etl_run (job_name, window_start, window_end, started_at, heartbeat_at)
                 VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp()) RETURNING run_id",
                Some(1),
                &[job_name.into(), window_start.into(), window_end.into()],
            )
            .ok()
            .and_then(|t| t.first().get::<i64>(1).ok().flatten())
            .unwrap_or_else(|| error!("weston: cannot begin etl_run"))
        })
    })
}

/// Adds `rows` to the run's `rows_loaded` in the caller's transaction and refreshes its heartbeat.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_etl_progress(run_id: i64, rows: i64) {
    crate::report::plainly("weston_etl_progress", || {
        if rows < 0 {
            error!("weston: etl_run {run_id}: rows must not be negative (got {rows})");
        }
        on_etl_run(|client| {
            require_running(client, run_id, "record progress of");
            exec(
            client,
            "UPDATE etl_run SET rows_loaded = rows_loaded + $2, heartbeat_at = clock_timestamp()
              WHERE run_id = $1",
            &[run_id.into(), rows.into()],
        );
        })
    })
}

/// Marks a running run `succeeded`.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_etl_finish(run_id: i64) {
    crate::report::plainly("weston_etl_finish", || {
        on_etl_run(|client| {
            require_running(client, run_id, "finish");
            exec(
                client,
                "UPDATE etl_run SET status = 'succeeded', finished_at = clock_timestamp(),
                    heartbeat_at = clock_timestamp()
              WHERE run_id = $1",
                &[run_id.into()],
            );
        })
    })
}

/// Marks a running run `partial`: it finished, but some data could not be had from any
/// provider; `summary` (stored as its error text) says which symbols and kinds, the run's
/// stats list them all.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_etl_finish_partial(run_id: i64, summary: Option<&str>) {
    crate::report::plainly("weston_etl_finish_partial", || {
        let summary = match summary.map(str::trim) {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => {
                error!("weston: etl_run {run_id}: a partial run needs a summary of what is missing")
            }
        };
        on_etl_run(|client| {
            require_running(client, run_id, "finish");
            exec(
            client,
            "UPDATE etl_run SET status = 'partial', error = $2, finished_at = clock_timestamp(),
                    heartbeat_at = clock_timestamp()
              WHERE run_id = $1",
            &[run_id.into(), summary.as_str().into()],
        );
        })
    })
}

/// Marks a running run `failed` with its error text.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_etl_fail(run_id: i64, error: Option<&str>) {
    crate::report::plainly("weston_etl_fail", || {
        let error = match error.map(str::trim) {
            Some(e) if !e.is_empty() => e.to_string(),
            _ => error!("weston: etl_run {run_id}: a failed run needs an error text"),
        };
        on_etl_run(|client| {
            require_running(client, run_id, "fail");
            exec(
                client,
                "UPDATE etl_run SET status = 'failed', error = $2, finished_at = clock_timestamp()
              WHERE run_id = $1",
                &[run_id.into(), error.as_str().into()],
            );
        })
    })
}

/// Records a run that did not start because another held its lock: status `skipped`,
/// finished now, `reason` as its error text; returns its run_id.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_etl_skip(job_name: &str, reason: Option<&str>) -> i64 {
    crate::report::plainly("weston_etl_skip", || {
        if job_name.trim().is_empty() {
            error!("weston: job_name must not be empty");
        }
        Spi::get_one_with_args::<i64>(
            "INSERT INTO etl_run (job_name, status, started_at, finished_at, heartbeat_at, error)
         VALUES ($1, 'skipped', clock_timestamp(), clock_timestamp(), clock_timestamp(), $2)
         RETURNING run_id",
            &[job_name.into(), reason.into()],
        )
        .unwrap_or_else(|e| error!("weston: cannot record a skipped etl_run: {e}"))
        .or_report("the run_id of the skipped etl_run")
    })
}

/// Replaces a running run's `stats` (what it did, per provider and table).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_etl_set_stats(run_id: i64, stats: pgrx::JsonB) {
    crate::report::plainly("weston_etl_set_stats", || {
        Spi::connect_mut(|client| {
            require_running(client, run_id, "set the stats of");
            exec(
                client,
                "UPDATE etl_run SET stats = $2 WHERE run_id = $1",
                &[run_id.into(), stats.into()],
            );
        })
    })
}

/// Marks `running` runs whose heartbeat is older than `stale_after` as `abandoned`
/// (their loader died without finishing); returns how many.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_etl_reap(stale_after: default!(Interval, "'6 hours'")) -> i32 {
    crate::report::plainly("weston_etl_reap", || {
        on_etl_run(|client| {
            let negative = client
                .select(
                    "SELECT $1::interval < interval '0'",
                    Some(1),
                    &[stale_after.into()],
                )
                .ok()
                .and_then(|t| t.first().get::<bool>(1).ok().flatten())
                .unwrap_or(false);
            if negative {
                error!("weston: stale_after must not be negative");
            }
            // SKIP LOCKED: a run whose batch is committing right now holds its row and is alive.
            client
            .update(
                "WITH stale AS (
                     SELECT run_id FROM etl_run
                      WHERE status = 'running' AND heartbeat_at < clock_timestamp() - $1::interval
                      FOR UPDATE SKIP LOCKED)
                 UPDATE etl_run e
                    SET status = 'abandoned', finished_at = clock_timestamp(),
                        error = format('abandoned: no heartbeat since %s (stale after %s); its loader died without finishing',
                                       e.heartbeat_at AT TIME ZONE 'UTC', $1::interval) || ' (UTC)'
                   FROM stale WHERE e.run_id = stale.run_id
                 RETURNING e.run_id",
                None,
                &[stale_after.into()],
            )
            .unwrap_or_else(|e| error!("weston: reaping stale runs: {e}"))
            .len() as i32
        })
    })
}

extension_sql_file!(
    "../sql/etl_comments.sql",
    name = "etl_comments",
    requires = [
        weston_etl_begin,
        weston_etl_progress,
        weston_etl_finish,
        weston_etl_finish_partial,
        weston_etl_fail,
        weston_etl_skip,
        weston_etl_set_stats,
        weston_etl_reap
    ]
);
