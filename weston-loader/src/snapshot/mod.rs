//! The snapshot `migrate` takes before applying pending migrations, and `snapshot` before any
//! change (the team's Alembic upgrades): `pg_dump` in custom format, by the real pg_dump of
//! the server's major version (or newer), into the snapshot directory (`files`); the newest
//! `keep` per database are kept. A role that could not dump every table is refused first,
//! naming what it lacks (`rights`), and so is a database whose restore would run code a less
//! trusted role can replace (`trust`); `note` words the rollback for a pull request.
//!
//! Rolling back is whole-database: the printed command drops the database (WITH FORCE, so
//! pg_cron's launcher and idle sessions cannot block it) and recreates it from the snapshot
//! with `pg_restore --create`. An in-place `pg_restore --clean` would leave behind every object
//! a migration created that the snapshot does not have, so the database would claim the old
//! version while holding the new objects.

pub mod files;
pub mod note;
pub mod rights;
pub mod trust;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sqlx::PgPool;

use crate::cli::SnapshotStoreArgs;
use crate::database::Database;
use crate::pgtools::PgTools;
use crate::LoaderError;

/// A snapshot written, and how to go back to it.
#[derive(Debug)]
pub struct Snapshot {
    pub path: PathBuf,
    pub bytes: u64,
    pub restore_command: String,
    /// Who runs the command: a superuser. Empty when the snapshot's own user is one (the
    /// command connects as it); else how to name one (the command then names no user).
    pub restorer_hint: String,
    /// Said with the command when the database is pg_cron's: dropping it stops pg_cron's
    /// scheduler, which starts again only with the server.
    pub cron_note: Option<String>,
    pub removed: Vec<PathBuf>,
}

impl Snapshot {
    /// What `migrate` and `snapshot` print (each line starts with `command:`): the old
    /// snapshots removed, where this one is (`taken` says before what), the one command that
    /// rolls back to it.
    pub fn report(&self, command: &str, taken: &str) -> String {
        let mut out = String::new();
        for old in &self.removed {
            out.push_str(&format!(
                "{command}: removed the old snapshot {}\n",
                old.display()
            ));
        }
        out.push_str(&format!("{command}: {taken}: {}\n", self.path.display()));
        out.push_str(&format!(
            "{command}: to roll back to it ({}every session of the database is ended): {}\n",
            self.restorer_hint, self.restore_command
        ));
        if let Some(note) = &self.cron_note {
            out.push_str(&format!("{command}: {note}\n"));
        }
        out
    }
}

/// Dumps the whole database into the snapshot directory and applies the retention. Refused
/// before anything is written when the connected role could not read every table pg_dump
/// reads; `stopped` says what did not happen because of a failure ("nothing was migrated").
pub async fn take(
    pool: &PgPool,
    database: &Database,
    store: &SnapshotStoreArgs,
    stopped: &str,
) -> Result<Snapshot, LoaderError> {
    let superuser = rights::require_whole_dump(pool, database, stopped).await?;
    // pg_cron can be created only in the database its scheduler serves (`cron.database_name`,
    // which only a superuser may read).
    let holds_cron: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron')",
    )
    .fetch_one(pool)
    .await?;
    let cron_note = holds_cron.then(|| {
        "pg_cron runs in this database: after the restore, restart PostgreSQL so that its \
         scheduler (stopped by the DROP) starts again"
            .to_string()
    });
    let tools = PgTools::find(pool, &store.tools).await?;
    let dir = files::directory(store)?;
    let checked = trust::require_trusted_restore(pool, database, stopped).await?;
    let name = database.name();
    let (partial, path) = files::new_snapshot(&dir, &name)?;

    let pg_dump = tools.program("pg_dump");
    let mut dump = database.client_command(&pg_dump);
    dump.args(["--format=custom", "--file"])
        .arg(&partial)
        .arg(format!("--snapshot={}", checked.snapshot))
        .stdin(Stdio::null());
    let dumped = dump.output().await;
    checked.release().await;
    if !matches!(&dumped, Ok(out) if out.status.success()) {
        let _ = std::fs::remove_file(&partial);
        let why = match dumped {
            Ok(out) => format!(
                "{} exited with {}: {}",
                pg_dump.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => format!("cannot run {}: {e}", pg_dump.display()),
        };
        return Err(LoaderError::Failed(anyhow::anyhow!(
            "the snapshot failed ({why}); {stopped}"
        )));
    }
    std::fs::rename(&partial, &path).map_err(|e| {
        LoaderError::Failed(anyhow::anyhow!(
            "renaming the snapshot {}: {e}",
            partial.display()
        ))
    })?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let removed = files::apply_retention(&dir, &name, store.keep)?;
    // Only a superuser can drop the database and restore everything in it (the extension,
    // every owner): as anyone else the command names no user, and libpq takes PGUSER.
    let (restorer, restorer_hint) = if superuser {
        (database.clone(), String::new())
    } else {
        (
            database.without_user(),
            "as a superuser, PGUSER naming their login; ".to_string(),
        )
    };
    Ok(Snapshot {
        cron_note,
        restore_command: restore_command(&tools, &restorer, &path),
        restorer_hint,
        path,
        bytes,
        removed,
    })
}

/// One shell line: drop the database (every session of it ended), recreate it from the
/// snapshot. It connects to the `postgres` database of the same server as the same user.
pub fn restore_command(tools: &PgTools, database: &Database, snapshot: &Path) -> String {
    let maintenance = database.with_database("postgres").redacted();
    let drop = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(&database.name())
    );
    let quote = |s: &str| shlex::try_quote(s).map_or_else(|_| s.to_string(), |q| q.into_owned());
    format!(
        "{} -X -v ON_ERROR_STOP=1 -d {} -c {} && {} --create --exit-on-error -d {} {}",
        quote(&tools.program("psql").to_string_lossy()),
        quote(&maintenance),
        quote(&drop),
        quote(&tools.program("pg_restore").to_string_lossy()),
        quote(&maintenance),
        quote(&snapshot.to_string_lossy()),
    )
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restore_command_recreates_the_database_from_the_snapshot() {
        let tools = PgTools {
            bindir: Some(PathBuf::from("/usr/lib/postgresql/15/bin")),
        };
        let url = Database::parse(
            "postgres://dba@db:5432/weston?password=pw",
            std::time::Duration::from_secs(1),
            "t",
        )
        .unwrap();
        let cmd = restore_command(&tools, &url, Path::new("/var/snap/weston-1.dump"));
        assert_eq!(
            cmd,
            "/usr/lib/postgresql/15/bin/psql -X -v ON_ERROR_STOP=1 -d postgres://dba@db:5432/postgres \
             -c 'DROP DATABASE IF EXISTS \"weston\" WITH (FORCE)' && /usr/lib/postgresql/15/bin/pg_restore \
             --create --exit-on-error -d postgres://dba@db:5432/postgres /var/snap/weston-1.dump"
        );
        assert!(!cmd.contains("pw"));
    }
}
