//! The snapshots' files: one private directory, one name per database and time, the
//! retention and the listing of one database's snapshots.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::cli::{SnapshotStoreArgs, SNAPSHOT_DIR_ENV};
use crate::LoaderError;

const STAMP: &str = "%Y%m%dT%H%M%S%3fZ";

/// The snapshot directory, created private when missing, refused when others may enter it.
pub fn directory(args: &SnapshotStoreArgs) -> Result<PathBuf, LoaderError> {
    let dir = match &args.snapshot_dir {
        Some(dir) => dir.clone(),
        None => default_dir()?,
    };
    create_private_dir(&dir)?;
    Ok(dir)
}

/// A new snapshot of `database`: the private file pg_dump writes into, and the name it gets
/// once complete (so a half-written dump never looks like a snapshot).
pub fn new_snapshot(dir: &Path, database: &str) -> Result<(PathBuf, PathBuf), LoaderError> {
    let stamp = Utc::now().format(STAMP);
    let path = dir.join(format!("{}-{stamp}.dump", file_name(database)));
    let partial = dir.join(format!(".{}-{stamp}.partial", file_name(database)));
    create_private_file(dir, &partial)?;
    Ok((partial, path))
}

/// One snapshot of a database, as `snapshot list` shows it.
#[derive(Debug, PartialEq, Eq)]
pub struct Listed {
    pub path: PathBuf,
    pub taken: DateTime<Utc>,
    pub bytes: u64,
}

/// The snapshots of `database` in `dir`, oldest first.
pub fn list(dir: &Path, database: &str) -> Result<Vec<Listed>, LoaderError> {
    let prefix = format!("{}-", file_name(database));
    let mut listed = Vec::new();
    for path in snapshots_of(dir, &prefix)? {
        let Some(taken) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".dump"))
            .and_then(|stamp| NaiveDateTime::parse_from_str(stamp, STAMP).ok())
        else {
            continue;
        };
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        listed.push(Listed {
            path,
            taken: taken.and_utc(),
            bytes,
        });
    }
    Ok(listed)
}

/// What `snapshot list` prints: a line per snapshot, or one saying there is none.
pub fn render_list(dir: &Path, database: &str, listed: &[Listed]) -> String {
    if listed.is_empty() {
        return format!("no snapshot of database {database} in {}\n", dir.display());
    }
    let mut out = format!("snapshots of database {database} in {}:\n", dir.display());
    for snapshot in listed {
        out.push_str(&format!(
            "{}  {:>10}  {}\n",
            snapshot.taken.format("%Y-%m-%d %H:%M:%S UTC"),
            human_size(snapshot.bytes),
            snapshot.path.display()
        ));
    }
    out
}

/// 1536 → "1.5 KiB".
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    #[allow(clippy::cast_precision_loss)] // a size shown to a person
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

/// Deletes the oldest snapshots of `database` beyond `keep` (the names sort by time).
pub fn apply_retention(
    dir: &Path,
    database: &str,
    keep: usize,
) -> Result<Vec<PathBuf>, LoaderError> {
    let prefix = format!("{}-", file_name(database));
    let snapshots = snapshots_of(dir, &prefix)?;
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

/// The files in `dir` named `<prefix><stamp>.dump`, sorted (by time).
fn snapshots_of(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, LoaderError> {
    let listing = std::fs::read_dir(dir)
        .map_err(|e| LoaderError::Failed(anyhow::anyhow!("listing {}: {e}", dir.display())))?;
    let mut snapshots: Vec<PathBuf> = listing
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| is_snapshot_of(n, prefix))
        })
        .collect();
    snapshots.sort();
    Ok(snapshots)
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
pub(crate) fn file_name(database: &str) -> String {
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
}
