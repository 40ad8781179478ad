//! The snapshot `migrate` takes before applying pending migrations: `pg_dump` in custom
//! format, by the real pg_dump of the server's major version (or newer), into the snapshot
//! directory; the newest `keep` per database are kept.
//!
//! Rolling back is whole-database: the printed command drops the database (WITH FORCE, so
//! pg_cron's launcher and idle sessions cannot block it) and recreates it from the snapshot
//! with `pg_restore --create`. An in-place `pg_restore --clean` would leave behind every object
//! a migration created that the snapshot does not have, so the database would claim the old
//! version while holding the new objects.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use chrono::Utc;
use sqlx::PgPool;

use crate::cli::{MigrateArgs, SNAPSHOT_DIR_ENV};
use crate::database::Database;
use crate::pgtools::PgTools;
use crate::LoaderError;

/// A snapshot written, and how to go back to it.
#[derive(Debug)]
pub struct Snapshot {
    pub path: PathBuf,
    pub restore_command: String,
    /// Said with the command when the database is pg_cron's: dropping it stops pg_cron's
    /// scheduler, which starts again only with the server.
    pub cron_note: Option<String>,
    pub removed: Vec<PathBuf>,
}

impl Snapshot {
    /// What `migrate` prints: where the snapshot is, the one command that rolls back to it.
    pub fn report(&self, pending: &[i64]) -> String {
        let mut out = String::new();
        for old in &self.removed {
            out.push_str(&format!(
                "migrate: removed the old snapshot {}\n",
                old.display()
            ));
        }
        out.push_str(&format!(
            "migrate: snapshot before applying {pending:?}: {}\n",
            self.path.display()
        ));
        out.push_str(&format!(
            "migrate: to roll back to it (every session of the database is ended): {}\n",
            self.restore_command
        ));
        if let Some(note) = &self.cron_note {
            out.push_str(&format!("migrate: {note}\n"));
        }
        out
    }
}

/// Dumps the database into the snapshot directory and applies the retention.
pub async fn take(
    pool: &PgPool,
    database: &Database,
    args: &MigrateArgs,
) -> Result<Snapshot, LoaderError> {
    let tools = PgTools::find(pool, &args.tools).await?;
    let dir = match &args.snapshot_dir {
        Some(dir) => dir.clone(),
        None => default_dir()?,
    };
    create_private_dir(&dir)?;
    let name = database.name();
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%3fZ");
    let path = dir.join(format!("{}-{stamp}.dump", file_name(&name)));
    let partial = dir.join(format!(".{}-{stamp}.partial", file_name(&name)));
    create_private_file(&dir, &partial)?;

    let pg_dump = tools.program("pg_dump");
    let mut dump = database.client_command(&pg_dump);
    dump.args(["--format=custom", "--file"])
        .arg(&partial)
        .stdin(Stdio::null());
    let dumped = dump.output().await;
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
            "the snapshot before migrating failed, nothing was migrated ({why}); \
             `migrate --no-snapshot` skips the snapshot"
        )));
    }
    std::fs::rename(&partial, &path).map_err(|e| {
        LoaderError::Failed(anyhow::anyhow!(
            "renaming the snapshot {}: {e}",
            partial.display()
        ))
    })?;
    let removed = apply_retention(&dir, &name, args.snapshot_keep)?;
    let holds_cron: bool = sqlx::query_scalar(
        "SELECT coalesce(current_setting('cron.database_name', true) = current_database(), false)",
    )
    .fetch_one(pool)
    .await?;
    let cron_note = holds_cron.then(|| {
        "pg_cron runs in this database: after the restore, restart PostgreSQL so that its \
         scheduler (stopped by the DROP) starts again"
            .to_string()
    });
    Ok(Snapshot {
        cron_note,
        restore_command: restore_command(&tools, database, &path),
        path,
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

/// Deletes the oldest snapshots of `database` beyond `keep` (the names sort by time).
pub fn apply_retention(
    dir: &Path,
    database: &str,
    keep: usize,
) -> Result<Vec<PathBuf>, LoaderError> {
    let prefix = format!("{}-", file_name(database));
    let listing = std::fs::read_dir(dir)
        .map_err(|e| LoaderError::Failed(anyhow::anyhow!("listing {}: {e}", dir.display())))?;
    let mut snapshots: Vec<PathBuf> = listing
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| is_snapshot_of(n, &prefix))
        })
        .collect();
    snapshots.sort();
    let excess = snapshots.len().saturating_sub(keep);
    let removed: Vec<PathBuf> = snapshots.into_iter().take(excess).collect();
    for old in &removed {
        std::fs::remove_file(old).map_err(|e| {
            LoaderError::Failed(anyhow::anyhow!(
                "removing the old snapshot {}: {e}",
                old.display()
            ))
        })?;
    }
    Ok(removed)
}

/// `<database>-<stamp>.dump`, the stamp starting with a digit (so database `a` never claims
/// database `a-b`'s snapshots).
fn is_snapshot_of(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(".dump"))
        .is_some_and(|stamp| {
            stamp.len() == 19
                && stamp.starts_with(|c: char| c.is_ascii_digit())
                && stamp.ends_with('Z')
        })
}

/// The database's name in a file name, one to one: lower-case letters, digits and `_` as
/// they are, every other byte as `%XX` (so `snap-a` and `snap_a` never share a snapshot,
/// no name holds the `-` before the stamp, and the names differ on a case-blind disk too).
fn file_name(database: &str) -> String {
    database
        .bytes()
        .map(|b| {
            if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn default_dir() -> Result<PathBuf, LoaderError> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .ok_or_else(|| {
            LoaderError::Config(format!(
                "neither {SNAPSHOT_DIR_ENV}, XDG_STATE_HOME nor HOME is set: set {SNAPSHOT_DIR_ENV}"
            ))
        })?;
    Ok(state.join("weston-loader/snapshots"))
}

/// Snapshots hold the whole database: only their owner reads them. A directory that exists
/// already is used only when nobody else can read or enter it.
fn create_private_dir(dir: &Path) -> Result<(), LoaderError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            LoaderError::Config(format!(
                "cannot create the snapshot directory {} ({SNAPSHOT_DIR_ENV}): {e}",
                dir.display()
            ))
        })?;
    let mode = std::fs::metadata(dir)
        .map_err(|e| LoaderError::Config(format!("{} ({SNAPSHOT_DIR_ENV}): {e}", dir.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(LoaderError::Config(format!(
            "refusing the snapshot directory {} ({SNAPSHOT_DIR_ENV}): its mode is {:03o}, so \
             others could read the snapshots; make it private (chmod 700) or choose another",
            dir.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

/// The snapshot's file, made private before pg_dump writes into it; refused (and removed)
/// when the directory belongs to someone else, who could read or replace it.
fn create_private_file(dir: &Path, file: &Path) -> Result<(), LoaderError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let cannot = |e: std::io::Error| {
        LoaderError::Config(format!(
            "cannot create the snapshot {} ({SNAPSHOT_DIR_ENV}): {e}",
            file.display()
        ))
    };
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(cannot)?;
    let mine = created.metadata().map_err(cannot)?.uid();
    let owner = std::fs::metadata(dir).map_err(cannot)?.uid();
    if owner != mine {
        let _ = std::fs::remove_file(file);
        return Err(LoaderError::Config(format!(
            "refusing the snapshot directory {} ({SNAPSHOT_DIR_ENV}): it belongs to user id \
             {owner}, not to this user ({mine}); choose a directory of your own",
            dir.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_the_newest_of_that_database_only() {
        let dir =
            std::env::temp_dir().join(format!("weston-snapshot-retention-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let names = [
            "weston-20260101T000000000Z.dump",
            "weston-20260102T000000000Z.dump",
            "weston-20260103T000000000Z.dump",
            "weston_b-20260101T000000000Z.dump",
            "weston-notes.txt",
        ];
        for name in names {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let removed = apply_retention(&dir, "weston", 2).unwrap();
        assert_eq!(removed, vec![dir.join(names[0])]);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected: Vec<String> = names[1..].iter().map(ToString::to_string).collect();
        expected.sort();
        assert_eq!(left, expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_names_are_one_to_one() {
        assert_eq!(file_name("weston"), "weston");
        assert_eq!(file_name("snap_a"), "snap_a");
        assert_eq!(file_name("snap-a"), "snap%2Da");
        assert_eq!(file_name("Snap a%"), "%53nap%20a%25");
        assert_eq!(file_name("é"), "%C3%A9");
        let names = ["snap-a", "snap_a", "snap%2Da", "SNAP_A", "snap.a", "snap a"];
        let files: std::collections::BTreeSet<String> =
            names.iter().map(|n| file_name(n)).collect();
        assert_eq!(files.len(), names.len(), "{files:?}");
        assert!(names.iter().all(|n| !file_name(n).contains('-')));
    }

    /// Databases `snap-a` and `snap_a` once shared a prefix: a migrate of one removed the
    /// other's only snapshot.
    #[test]
    fn retention_never_counts_a_look_alike_name() {
        let dir =
            std::env::temp_dir().join(format!("weston-snapshot-alike-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let other = format!("{}-20260101T000000000Z.dump", file_name("snap-a"));
        let mine = format!("{}-20260102T000000000Z.dump", file_name("snap_a"));
        for name in [&other, &mine] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        assert_eq!(
            apply_retention(&dir, "snap_a", 1).unwrap(),
            Vec::<PathBuf>::new()
        );
        assert_eq!(
            apply_retention(&dir, "snap-a", 1).unwrap(),
            Vec::<PathBuf>::new()
        );
        assert!(dir.join(&other).exists() && dir.join(&mine).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_shared_snapshot_directory_is_refused_and_dumps_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("weston-snapshot-mode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        create_private_dir(&dir.join("new")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("new")), 0o700);
        let file = dir.join("new/.x.partial");
        create_private_file(&dir.join("new"), &file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::set_permissions(dir.join("new"), std::fs::Permissions::from_mode(0o750)).unwrap();
        let e = create_private_dir(&dir.join("new"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("its mode is 750") && e.contains("chmod 700"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
