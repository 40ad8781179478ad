//! The rollback note `snapshot --note FILE` writes for the pull request of a schema change:
//! the database, the snapshot, the command that rolls back to it, and the Alembic revision
//! the database was at (the team's migrations keep it in `app.alembic_version`).

use std::path::Path;

use chrono::Utc;
use sqlx::PgPool;

use super::files::human_size;
use super::Snapshot;
use crate::database::Database;
use crate::LoaderError;

/// The Alembic revision(s) of the database, read from `app.alembic_version` when it is an
/// ordinary table with a text `version_num` (a view or another type could run code its owner
/// wrote, and a superuser may be reading): `None` when there is none. A role that cannot read
/// it learns why from the snapshot's own check, which comes next.
pub async fn alembic_revision(pool: &PgPool) -> Result<Option<String>, LoaderError> {
    let mut tx = pool.begin().await?;
    // Read only, as defence in depth: the catalog and one table are all it reads.
    sqlx::raw_sql("SET TRANSACTION READ ONLY; SET LOCAL search_path = pg_catalog, pg_temp")
        .execute(&mut *tx)
        .await?;
    let readable: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_class c
                          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
                         WHERE n.nspname = 'app' AND c.relname = 'alembic_version'
                           AND c.relkind = 'r' AND NOT c.relrowsecurity
                           AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
                           AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
                           AND a.attname = 'version_num' AND NOT a.attisdropped
                           AND a.atttypid IN ('pg_catalog.varchar'::pg_catalog.regtype,
                                              'pg_catalog.text'::pg_catalog.regtype))",
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut versions: Vec<String> = if readable {
        sqlx::query_scalar("SELECT version_num::pg_catalog.text FROM ONLY app.alembic_version")
            .fetch_all(&mut *tx)
            .await?
    } else {
        Vec::new()
    };
    tx.rollback().await?;
    versions.sort();
    Ok((!versions.is_empty()).then(|| versions.join(", ")))
}

/// The note, Markdown ready to paste into a pull request.
pub fn render(database: &Database, snapshot: &Snapshot, revision: Option<&str>) -> String {
    let host = hostname();
    let revision = revision.map_or_else(
        || "none (no revision in `app.alembic_version`)".to_string(),
        |r| format!("`{r}`"),
    );
    let who = if snapshot.restorer_hint.is_empty() {
        "the command connects as the snapshot's user, a superuser".to_string()
    } else {
        "a superuser runs it, with PGUSER naming their login".to_string()
    };
    let mut note = format!(
        "### Rollback note\n\n\
         - Database: {}\n\
         - Snapshot: `{}` ({}, taken {} on {host}; `pg_dump --format=custom`)\n\
         - Alembic revision before: {revision}\n\n\
         To roll back, {who}; every session of the database is ended and everything written \
         since the snapshot is lost:\n\n\
         ```sh\n{}\n```\n",
        database.describe().trim_start_matches("database "),
        snapshot.path.display(),
        human_size(snapshot.bytes),
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        snapshot.restore_command,
    );
    if let Some(cron) = &snapshot.cron_note {
        note.push_str(&format!("\n{cron}.\n"));
    }
    note
}

/// Writes the note to `file` (replacing it).
pub fn write(file: &Path, note: &str) -> Result<(), LoaderError> {
    std::fs::write(file, note).map_err(|e| {
        LoaderError::Config(format!(
            "cannot write the rollback note {}: {e}",
            file.display()
        ))
    })
}

/// Where the snapshot is: its path alone does not say which machine keeps it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this machine".into())
}
