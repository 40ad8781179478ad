//! `weston-loader migrate` snapshots: a failed migration leaves the database as it was
//! (sqlx runs each migration in a transaction), the printed command restores the snapshot
//! exactly (fingerprints compared), nothing pending takes no snapshot, and only the newest
//! WESTON_SNAPSHOT_KEEP are kept.

use std::path::Path;

use weston_loader::verify::diff::diff;
use weston_tests::{
    data_fingerprint, migrate_through, output_text, pg_config, seed_small_market, snapshot_files,
    superuser_loader_command, TestDb,
};

fn migrate(db: &TestDb, dir: &Path, args: &[&str], keep: usize) -> std::process::Output {
    let mut all = vec!["migrate"];
    all.extend_from_slice(args);
    superuser_loader_command(db, &all)
        .env("WESTON_SNAPSHOT_DIR", dir)
        .env("WESTON_SNAPSHOT_KEEP", keep.to_string())
        .env("WESTON_PG_BINDIR", pg_config("bindir"))
        .output()
        .expect("run weston-loader migrate")
}

/// The rest of the line that starts with `prefix`, after `after` when given.
fn stdout_line(output: &std::process::Output, prefix: &str, after: Option<&str>) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix(prefix)?;
            match after {
                Some(mark) => rest.split_once(mark).map(|(_, r)| r.to_string()),
                None => Some(rest.to_string()),
            }
        })
        .unwrap_or_else(|| panic!("no line {prefix:?}: {}", output_text(output)))
}

#[tokio::test]
async fn a_failed_migration_changes_nothing_and_the_snapshot_restores_exactly() {
    let db = TestDb::empty("snapshot").await;
    let dir = std::env::temp_dir().join(format!("{}-snapshots", db.name));
    let _ = std::fs::remove_dir_all(&dir);
    // The database as a loader of migrations 1 to 4 left it, with data.
    migrate_through(&db, 4).await;
    seed_small_market(&db.pool).await;
    // Migration 6 changes owners and grants, then creates schema app: refuse that last
    // step, so the migration fails after it changed things.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_create_schema() RETURNS event_trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'refused by the test: %', tg_tag; END $$;
         CREATE EVENT TRIGGER refuse_create_schema ON ddl_command_start
             WHEN TAG IN ('CREATE SCHEMA') EXECUTE FUNCTION refuse_create_schema();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let before = data_fingerprint(&db.url).await;

    let failed = migrate(&db, &dir, &[], 5);
    assert_eq!(failed.status.code(), Some(1), "{}", output_text(&failed));
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("refused by the test"),
        "{}",
        output_text(&failed)
    );
    let snapshot = stdout_line(
        &failed,
        "migrate: snapshot before applying [6, 7, 8",
        Some("]: "),
    );
    let restore = stdout_line(
        &failed,
        "migrate: to roll back to it (every session of the database is ended): ",
        None,
    );
    assert_eq!(snapshot_files(&dir).len(), 1);
    assert!(Path::new(&snapshot).exists());
    assert_eq!(
        diff(&before, &data_fingerprint(&db.url).await),
        vec![],
        "the failed migration changed the database"
    );

    // Without the obstacle the migrations apply (no snapshot asked); the fingerprint sees it.
    sqlx::raw_sql("DROP EVENT TRIGGER refuse_create_schema")
        .execute(&db.pool)
        .await
        .unwrap();
    let applied = migrate(&db, &dir, &["--no-snapshot"], 5);
    assert_eq!(applied.status.code(), Some(0), "{}", output_text(&applied));
    assert_eq!(snapshot_files(&dir).len(), 1, "--no-snapshot took one");
    let migrated = data_fingerprint(&db.url).await;
    assert_ne!(diff(&before, &migrated), vec![]);

    // The printed command brings back the database of the snapshot, exactly.
    db.pool.close().await;
    let restored = std::process::Command::new("bash")
        .args(["-c", &restore])
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{restore}: {}",
        output_text(&restored)
    );
    let after = data_fingerprint(&db.url).await;
    // The event trigger's function was in the snapshot, as it was in the database.
    assert_eq!(
        diff(&before, &after),
        vec![],
        "the restore differs from the snapshot"
    );

    // Nothing pending: no snapshot. Pending again: one more, and only `keep` are kept.
    let db = TestDb {
        pool: sqlx::PgPool::connect(&db.url).await.unwrap(),
        ..db
    };
    sqlx::raw_sql("DROP EVENT TRIGGER refuse_create_schema")
        .execute(&db.pool)
        .await
        .unwrap();
    let up = migrate(&db, &dir, &[], 2);
    assert_eq!(up.status.code(), Some(0), "{}", output_text(&up));
    assert_eq!(snapshot_files(&dir).len(), 2);
    let nothing = migrate(&db, &dir, &[], 2);
    assert!(
        String::from_utf8_lossy(&nothing.stdout).contains("already up to date"),
        "{}",
        output_text(&nothing)
    );
    assert!(
        !String::from_utf8_lossy(&nothing.stdout).contains("snapshot"),
        "{}",
        output_text(&nothing)
    );
    assert_eq!(
        snapshot_files(&dir).len(),
        2,
        "nothing pending took a snapshot"
    );
    let mut newest = Vec::new();
    for _ in 0..2 {
        sqlx::query("DELETE FROM weston_data._sqlx_migrations WHERE version = 8")
            .execute(&db.pool)
            .await
            .unwrap();
        let out = migrate(&db, &dir, &[], 2);
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
        newest.push(stdout_line(
            &out,
            "migrate: snapshot before applying [8]: ",
            None,
        ));
    }
    let kept: Vec<String> = snapshot_files(&dir)
        .into_iter()
        .map(|n| dir.join(n).display().to_string())
        .collect();
    assert_eq!(kept, newest, "the two newest snapshots are kept");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Databases `snap-a` and `snap_a` once shared a snapshot file prefix: migrating one
/// deleted the other's only snapshot. Each keeps its own now; dumps are private (0600), and
/// a snapshot directory others can read is refused before anything is dumped or migrated.
#[tokio::test]
async fn look_alike_database_names_keep_their_own_private_snapshots() {
    use std::os::unix::fs::PermissionsExt;
    let suffix = format!("{}", std::process::id());
    let admin = sqlx::PgPool::connect(&weston_tests::admin_url())
        .await
        .unwrap();
    let mut urls = Vec::new();
    for name in [format!("snap-a_{suffix}"), format!("snap_a_{suffix}")] {
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            sqlx::raw_sql(&sql).execute(&admin).await.unwrap();
        }
        let options: sqlx::postgres::PgConnectOptions = weston_tests::admin_url().parse().unwrap();
        urls.push((
            name.clone(),
            sqlx::ConnectOptions::to_url_lossy(&options.database(&name)).to_string(),
        ));
    }
    let dir = std::env::temp_dir().join(format!("snap_alike_{suffix}"));
    let _ = std::fs::remove_dir_all(&dir);
    let migrate = |url: &str| {
        std::process::Command::new(weston_tests::loader_bin())
            .arg("migrate")
            .env("DATABASE_URL", url)
            .env("WESTON_SNAPSHOT_DIR", &dir)
            .env("WESTON_SNAPSHOT_KEEP", "1")
            .env("WESTON_PG_BINDIR", pg_config("bindir"))
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap()
    };
    for (_, url) in &urls {
        let out = migrate(url);
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    }
    let names = snapshot_files(&dir);
    assert_eq!(
        names.len(),
        2,
        "each database keeps its snapshot: {names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("snap%2Da_")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("snap_a_")), "{names:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for name in &names {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }

    // A directory others can enter: refused, nothing dumped, nothing migrated.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (_, url) = &urls[0];
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query("DELETE FROM weston_data._sqlx_migrations WHERE version = 8")
        .execute(&pool)
        .await
        .unwrap();
    let out = migrate(url);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("its mode is 755"),
        "{}",
        output_text(&out)
    );
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM weston_data._sqlx_migrations WHERE version = 8")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        pending, 0,
        "migrated despite the refused snapshot directory"
    );
    assert_eq!(snapshot_files(&dir), names);
    pool.close().await;
    for (name, _) in &urls {
        sqlx::raw_sql(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .execute(&admin)
            .await
            .unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
