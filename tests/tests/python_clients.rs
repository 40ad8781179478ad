//! The team's own tools against pg_weston (issue 14), for real: Alembic and SQLAlchemy from
//! PyPI (in the virtual environment `scripts/python-venv.sh` creates once, outside the
//! repository), and psycopg reading adjusted prices as a developer's backend does, each as a
//! login of the backend's role `app_rw` on a database `weston-loader migrate` made, with data
//! loaded and partitions added by rotation.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as JsonValue;
use sqlx::postgres::PgConnectOptions;
use weston_loader::providers::mock::mock_symbol;
use weston_tests::{admin_url, output_text, TestDb};

const FROM: &str = "2026-03-02";
const TO: &str = "2026-08-31";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The virtual environment's python, created on first use.
fn python() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join("scripts/python-venv.sh"))
        .output()
        .expect("scripts/python-venv.sh");
    assert!(
        out.status.success(),
        "python-venv.sh: {}",
        output_text(&out)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("bin/python")
}

/// A migrated database with six mock symbols loaded over a fixed window (some split, some
/// pay dividends).
async fn loaded(tag: &str) -> TestDb {
    let db = TestDb::migrated(tag).await;
    weston_tests::mock_run_in_process(&db, (FROM, TO), 6).await;
    db
}

/// A login of `app_rw`, as the backend connects: (name, libpq URL). Trust on loopback.
async fn backend_login(db: &TestDb) -> (String, String) {
    let name = format!("{}_backend", db.name);
    sqlx::query(&format!("CREATE ROLE {name} LOGIN IN ROLE app_rw"))
        .execute(&db.pool)
        .await
        .unwrap();
    let admin: PgConnectOptions = admin_url().parse().unwrap();
    let url = format!(
        "postgresql://{name}@{}:{}/{}",
        admin.get_host(),
        admin.get_port(),
        db.name
    );
    (name, url)
}

async fn drop_login(db: &TestDb, name: &str) {
    sqlx::raw_sql(&format!("DROP OWNED BY {name}; DROP ROLE {name}"))
        .execute(&db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn alembic_autogenerate_and_check_see_only_the_applications_tables() {
    let db = loaded("alembic").await;
    // Rotation adds months beyond the migration's, and archives an old one into another
    // schema: what the hook must exclude is read from the database, not listed.
    sqlx::raw_sql(
        "UPDATE weston_partition_config SET premake_months = 6;
         SELECT weston_ensure_partitions('2001-03-01', '2001-03-31');
         UPDATE weston_partition_config
            SET retain_months = 120, retention = 'archive', archive_schema = 'price_archive';",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let rotation: JsonValue = sqlx::query_scalar("SELECT weston_rotate_partitions()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let table = &rotation["tables"][0];
    assert!(
        table["created"].as_array().is_some_and(|c| !c.is_empty())
            && table["retired"].as_array().is_some_and(|r| !r.is_empty()),
        "rotation created and archived months: {rotation}"
    );
    let (login, url) = backend_login(&db).await;
    let workdir = std::env::temp_dir().join(format!("{}_alembic", db.name));
    std::fs::remove_dir_all(&workdir).ok();
    let out = Command::new(python())
        .arg(repo().join("tests/python/check_alembic.py"))
        .arg(url.replace("postgresql://", "postgresql+psycopg://"))
        .arg(&workdir)
        .arg(repo().join("python"))
        .output()
        .expect("check_alembic.py");
    println!("{}", output_text(&out));
    assert!(out.status.success(), "{}", output_text(&out));
    // The application's tables are in its own schema, pg_weston's untouched.
    let placed: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relname IN ('watchlist', 'price_alert', 'alembic_version') ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        placed,
        ["app.alembic_version", "app.price_alert", "app.watchlist"]
    );
    std::fs::remove_dir_all(&workdir).ok();
    drop_login(&db, &login).await;
}

/// The team's Alembic as it really connects: an unmodified `alembic init` project on the
/// database's plain URL (no `options`), run by whoever runs the application's migrations: an
/// `app_rw` login, a `dba` who also runs the backend's migrations (member of `dba` and
/// `app_rw`: a `dba` alone may create nothing anywhere), and a superuser (the named
/// exception). Autogenerate over a model of one table proposes that table and nothing else,
/// `upgrade head` creates it in `app`, and every table of pg_weston is still there.
#[tokio::test]
async fn alembic_on_the_plain_url_sees_only_the_applications_tables() {
    let db = loaded("alembic_plain").await;
    let ours = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname LIKE 'weston%' AND c.relkind IN ('r', 'p')",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let before = ours().await;
    assert!(before > 20, "pg_weston's tables and months: {before}");
    let admin: PgConnectOptions = admin_url().parse().unwrap();
    let url_of = |user: &str| {
        format!(
            "postgresql+psycopg://{user}@{}:{}/{}",
            admin.get_host(),
            admin.get_port(),
            db.name
        )
    };
    let app_rw = format!("{}_backend", db.name);
    let dba = format!("{}_dba", db.name);
    sqlx::raw_sql(&format!(
        "CREATE ROLE {app_rw} LOGIN IN ROLE app_rw; CREATE ROLE {dba} LOGIN IN ROLE dba, app_rw"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let superuser = admin.get_username().to_string();
    let mut failures = Vec::new();
    for (who, user) in [
        ("app_rw", &app_rw),
        ("dba", &dba),
        ("superuser", &superuser),
    ] {
        let workdir = std::env::temp_dir().join(format!("{}_alembic_{who}", db.name));
        std::fs::remove_dir_all(&workdir).ok();
        let out = Command::new(python())
            .arg(repo().join("tests/python/alembic_plain_url.py"))
            .arg(url_of(user))
            .arg(&workdir)
            .output()
            .expect("alembic_plain_url.py");
        let text = output_text(&out);
        println!("=== {who}\n{text}");
        if !out.status.success() {
            let proposed = text
                .lines()
                .find(|l| l.starts_with("OPERATIONS:") || l.starts_with("FAILED:"))
                .unwrap_or("(no operations line)");
            failures.push(format!("{who}: {proposed}"));
        }
        let placed: Vec<String> = sqlx::query_scalar(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relname IN ('watchlist', 'alembic_version') ORDER BY 1",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        if out.status.success() {
            assert_eq!(placed, ["app.alembic_version", "app.watchlist"], "{who}");
        }
        // The next role starts from the same database.
        sqlx::raw_sql("DROP TABLE IF EXISTS app.watchlist, app.alembic_version, public.watchlist, public.alembic_version")
            .execute(&db.pool)
            .await
            .unwrap();
        std::fs::remove_dir_all(&workdir).ok();
    }
    assert_eq!(ours().await, before, "a table of pg_weston was dropped");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for user in [&app_rw, &dba] {
        drop_login(&db, user).await;
    }
}

/// The README's "Joining the team": `.env.local` from the template with the URL a DBA gives,
/// the Python environment, and `python/examples/read_adjusted.py`, whose lines must be what
/// `weston_adjusted_prices` gives in SQL.
#[tokio::test]
async fn a_new_developer_reads_adjusted_prices_in_python() {
    let db = loaded("joining").await;
    let (login, url) = backend_login(&db).await;
    let workdir = std::env::temp_dir().join(format!("{}_joining", db.name));
    std::fs::create_dir_all(&workdir).unwrap();
    let template = std::fs::read_to_string(repo().join(".env.local.example")).unwrap();
    let env_local: String = template
        .lines()
        .map(|line| {
            if line.starts_with("DATABASE_URL=") {
                format!("DATABASE_URL={url}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_ne!(env_local, template, "the template has a DATABASE_URL line");
    std::fs::write(workdir.join(".env.local"), env_local).unwrap();
    let python = python();
    let mut adjusted_rows = 0;
    for symbol in (1..=6).map(mock_symbol) {
        let out = Command::new(&python)
            .arg(repo().join("python/examples/read_adjusted.py"))
            .args([symbol.as_str(), FROM, TO])
            .current_dir(&workdir)
            .env_remove("DATABASE_URL")
            .output()
            .expect("read_adjusted.py");
        assert!(out.status.success(), "{}", output_text(&out));
        let python_lines: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let sql_lines: Vec<String> = sqlx::query_scalar(
            "SELECT concat_ws('|', symbol, date, open, high, low, close, volume, price_factor, volume_factor)
               FROM weston.weston_adjusted_prices($1::text, $2::date, $3::date)",
        )
        .bind(&symbol)
        .bind(FROM)
        .bind(TO)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert!(!sql_lines.is_empty(), "{symbol} has bars");
        assert_eq!(python_lines, sql_lines, "{symbol}: Python and SQL differ");
        adjusted_rows += sql_lines
            .iter()
            .filter(|l| l.split('|').nth(7) != Some("1"))
            .count();
    }
    assert!(
        adjusted_rows > 0,
        "some bars are adjusted (a split in the window)"
    );
    std::fs::remove_dir_all(&workdir).ok();
    drop_login(&db, &login).await;
}

/// `.env.local.example` names every variable the loader reads (as `--help` lists them).
#[test]
fn the_env_local_template_names_every_loader_variable() {
    let template = std::fs::read_to_string(repo().join(".env.local.example")).unwrap();
    let mut missing = Vec::new();
    for command in [
        &["migrate"][..],
        &["run"],
        &["status"],
        &["verify"],
        &["scratch", "create"],
    ] {
        let out = Command::new(weston_tests::loader_bin())
            .args(command)
            .arg("--help")
            .output()
            .expect("weston-loader --help");
        assert!(out.status.success(), "{}", output_text(&out));
        let help = String::from_utf8(out.stdout).unwrap();
        for part in help.split("[env: ").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !template.contains(&format!("{name}=")) && !missing.contains(&name) {
                missing.push(name);
            }
        }
    }
    assert!(missing.is_empty(), ".env.local.example lacks {missing:?}");
}
