//! The team's own tools against pg_weston, for real: Alembic and SQLAlchemy from
//! PyPI (in the virtual environment `scripts/python-venv.sh` creates once, outside the
//! repository), and psycopg reading adjusted prices as a developer's backend does, each as a
//! login of the backend's role `app_rw` on a database `weston-loader migrate` made, with data
//! loaded and partitions added by rotation.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as JsonValue;
use sqlx::postgres::PgConnectOptions;
use weston_loader::providers::mock::mock_symbol;
use weston_loader::verify::diff::diff;
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
    let url = libpq_url(db, &name);
    (name, url)
}

/// `db` as `role` connects with libpq (psycopg): trust on loopback.
fn libpq_url(db: &TestDb, role: &str) -> String {
    let admin: PgConnectOptions = admin_url().parse().unwrap();
    format!(
        "postgresql://{role}@{}:{}/{}",
        admin.get_host(),
        admin.get_port(),
        db.name
    )
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

/// docs/ANALYSTS.md's "Joining the team": `.env.local` from the template with the URL a DBA gives,
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

/// The `weston` package (python/) as an analyst (an `app_ro` login) reads with it: every
/// frame, raw, split-adjusted and total return, as of today and as of a day before a rename,
/// exact and float, pandas and polars, equal to what SQL gives for the same read
/// (tests/python/check_prices.py), as the database knew it before the renames (`known_on`)
/// too, and every bad argument and unreachable database a clear error. MOCK0004 becomes
/// NEWFOUR on RENAMED: its bars from then on are NEWFOUR's; on RECYCLED MOCK0006's holder
/// becomes SIXOLD and a new security takes the ticker MOCK0006.
#[tokio::test]
async fn an_analyst_reads_prices_into_dataframes_with_the_weston_package() {
    const RENAMED: &str = "2026-06-01";
    const RECYCLED: &str = "2026-05-01";
    let db = loaded("weston_prices").await;
    // A moment before the renames are recorded: the package reads as known then too.
    let known: String = sqlx::query_scalar("SELECT now()::text FROM pg_sleep(0.01)")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "INSERT INTO securities (symbol) VALUES ('NEWFOUR');
         UPDATE prices_daily SET symbol = 'NEWFOUR' WHERE symbol = 'MOCK0004' AND date >= '{RENAMED}';
         SELECT weston_ticker_listed('MOCK0004', '{FROM}', 'mock', (SELECT max(run_id) FROM etl_run));
         SELECT weston_ticker_changed('MOCK0004', 'NEWFOUR', '{RENAMED}', 'mock', (SELECT max(run_id) FROM etl_run));
         SELECT weston_ticker_listed('MOCK0006', '{FROM}', 'mock', (SELECT max(run_id) FROM etl_run));
         SELECT weston_ticker_changed('MOCK0006', 'SIXOLD', '{RECYCLED}', 'mock', (SELECT max(run_id) FROM etl_run));
         SELECT weston_ticker_listed('MOCK0006', '{RECYCLED}', 'mock', (SELECT max(run_id) FROM etl_run));"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let workdir = std::env::temp_dir().join(format!("{}_weston_prices", db.name));
    std::fs::create_dir_all(&workdir).unwrap();
    let out = Command::new(python())
        .arg(repo().join("tests/python/check_prices.py"))
        .args([
            &libpq_url(&db, weston_tests::ANALYST.role),
            FROM,
            TO,
            RENAMED,
            RECYCLED,
            &known,
        ])
        .current_dir(&workdir)
        .env_remove("DATABASE_URL")
        .env_remove("WESTON_DB_CONNECT_TIMEOUT_SECS")
        .output()
        .expect("check_prices.py");
    println!("{}", output_text(&out));
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("checks passed"),
        "{}",
        output_text(&out)
    );
    std::fs::remove_dir_all(&workdir).ok();
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

/// Every table's rows in pg_weston's schemas and the application's, found in the catalog
/// (wherever pg_weston keeps its tables): "schema.table" → (rows, md5 of the sorted rows).
async fn tables_state(pool: &sqlx::PgPool) -> std::collections::BTreeMap<String, (i64, String)> {
    // One search_path for every reading: a regclass or type in a row prints qualified or not
    // depending on the session's path, and the pools compared here differ in theirs.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL search_path TO pg_catalog")
        .execute(&mut *tx)
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND (n.nspname LIKE 'weston%' OR n.nspname = 'app')
          ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let mut state = std::collections::BTreeMap::new();
    for table in tables {
        let row: (i64, String) = sqlx::query_as(&format!(
            "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
               FROM ONLY {table} t"
        ))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        state.insert(table, row);
    }
    tx.rollback().await.unwrap();
    state
}

/// The snapshot files in `dir` (none when it does not exist yet).
fn snapshot_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// The team's Alembic with the developers' guide's three lines in `env.py`: an upgrade that
/// adds an `app` table and one that drops it, each run online through
/// `snapshot_before_upgrade`, which takes a snapshot first (`weston-loader snapshot --note`)
/// and prints the rollback note naming the revision before. The first runs as an `app_rw`
/// login, the second as a dba (member of `dba` and `app_rw`), both creating as `app_rw` (the
/// schema's convention, `SET ROLE app_rw` in env.py); the nightly job writes to
/// pg_weston's tables after it. Each note's command, run by the superuser, brings back the
/// database as it was before that upgrade: every row of `app` and of pg_weston's tables, and
/// the whole fingerprint `verify` compares. An `etl_writer` login cannot read the whole
/// database: Alembic stops with the message naming what it lacks and the upgrade does not
/// start; `--sql` and `downgrade` take no snapshot.
#[tokio::test]
async fn each_alembic_upgrade_is_preceded_by_a_snapshot_that_rolls_it_back() {
    let db = loaded("alembic_snap").await;
    let admin: PgConnectOptions = admin_url().parse().unwrap();
    let name = db.name.clone();
    let url_of = |user: &str| {
        format!(
            "postgresql+psycopg://{user}@{}:{}/{name}",
            admin.get_host(),
            admin.get_port(),
        )
    };
    let (backend, dba, etl) = (
        format!("{}_backend", db.name),
        format!("{}_dba", db.name),
        format!("{}_etl", db.name),
    );
    sqlx::raw_sql(&format!(
        "CREATE ROLE {backend} LOGIN IN ROLE app_rw; CREATE ROLE {dba} LOGIN IN ROLE dba, app_rw;
         CREATE ROLE {etl} LOGIN IN ROLE etl_writer"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let workdir = std::env::temp_dir().join(format!("{}_alembic", db.name));
    let snapshots = std::env::temp_dir().join(format!("{}_snapshots", db.name));
    for dir in [&workdir, &snapshots] {
        std::fs::remove_dir_all(dir).ok();
    }
    let python = python();
    let made = Command::new(&python)
        .arg(repo().join("tests/python/alembic_snapshot_project.py"))
        .arg(url_of(&backend))
        .arg(&workdir)
        .arg(repo().join("python"))
        .current_dir(repo().join("tests/python"))
        .output()
        .expect("alembic_snapshot_project.py");
    assert!(made.status.success(), "{}", output_text(&made));
    let alembic = |user: &str, args: &[&str]| {
        let ini = workdir.join("alembic.ini");
        let text: String = std::fs::read_to_string(&ini)
            .unwrap()
            .lines()
            .map(|l| {
                if l.starts_with("sqlalchemy.url") {
                    format!("sqlalchemy.url = {}\n", url_of(user))
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&ini, text).unwrap();
        let out = Command::new(python.with_file_name("alembic"))
            .args(args)
            .current_dir(&workdir)
            .env("WESTON_LOADER_BIN", weston_tests::loader_bin())
            .env("WESTON_SNAPSHOT_DIR", &snapshots)
            .env("WESTON_PG_BINDIR", weston_tests::pg_config("bindir"))
            .env("RUST_LOG", "warn")
            .output()
            .expect("alembic");
        println!("=== alembic {args:?} as {user}\n{}", output_text(&out));
        out
    };
    let line_after = |out: &std::process::Output, prefix: &str| -> String {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(prefix).map(str::to_string))
            .unwrap_or_else(|| panic!("no line {prefix:?}: {}", output_text(out)))
    };
    const ROLLBACK: &str = "snapshot: to roll back to it (as a superuser, PGUSER naming their login; every session of the database is ended): ";
    let state0 = tables_state(&db.pool).await;
    let print0 = weston_tests::data_fingerprint(&db.url).await;
    assert!(
        state0.keys().any(|t| t.contains("prices_daily")),
        "{state0:?}"
    );

    // The nightly loader's login cannot read the whole database: no snapshot, no upgrade.
    let refused = alembic(&etl, &["upgrade", "head"]);
    let said = output_text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{said}");
    assert!(
        said.contains("no snapshot before the upgrade, so it did not start")
            && said.contains(&format!("role {etl} cannot dump the whole database"))
            && said.contains("it lacks SELECT on")
            && !said.contains("Traceback"),
        "{said}"
    );
    // Offline SQL generation changes nothing: no snapshot.
    let offline = alembic(&backend, &["upgrade", "head", "--sql"]);
    assert!(offline.status.success(), "{}", output_text(&offline));
    assert_eq!(snapshot_files(&snapshots), 0);
    assert_eq!(tables_state(&db.pool).await, state0, "nothing started");

    // The upgrade that adds a table, as the backend's login.
    let added = alembic(&backend, &["upgrade", "a1_add_watchlist"]);
    assert!(added.status.success(), "{}", output_text(&added));
    assert_eq!(snapshot_files(&snapshots), 1);
    let rollback1 = line_after(&added, ROLLBACK);
    let note1 = String::from_utf8_lossy(&added.stdout).to_string();
    assert!(
        note1.contains("### Rollback note")
            && note1.contains("- Alembic revision before: none")
            && note1.contains(&rollback1),
        "{note1}"
    );
    let backend_pool = sqlx::PgPool::connect(&url_of(&backend).replace("+psycopg", ""))
        .await
        .unwrap();
    sqlx::query("INSERT INTO app.watchlist (symbol) VALUES ('MOCK0001'), ('MOCK0002')")
        .execute(&backend_pool)
        .await
        .unwrap();
    backend_pool.close().await;
    let state1 = tables_state(&db.pool).await;
    let print1 = weston_tests::data_fingerprint(&db.url).await;
    assert_eq!(state1["app.watchlist"].0, 2, "{state1:?}");

    // The upgrade that drops it, as a dba; then the nightly job writes on.
    let dropped = alembic(&dba, &["upgrade", "head"]);
    assert!(dropped.status.success(), "{}", output_text(&dropped));
    assert_eq!(snapshot_files(&snapshots), 2);
    let rollback2 = line_after(&dropped, ROLLBACK);
    assert!(
        String::from_utf8_lossy(&dropped.stdout)
            .contains("- Alembic revision before: `a1_add_watchlist`"),
        "{}",
        output_text(&dropped)
    );
    weston_tests::mock_run_in_process(&db, ("2026-09-01", "2026-09-30"), 6).await;
    let later = tables_state(&db.pool).await;
    assert!(!later.contains_key("app.watchlist"));
    assert_ne!(
        later
            .iter()
            .filter(|(t, _)| t.starts_with("weston"))
            .collect::<Vec<_>>(),
        state1
            .iter()
            .filter(|(t, _)| t.starts_with("weston"))
            .collect::<Vec<_>>(),
        "the nightly job wrote to pg_weston's tables"
    );

    // Each note's command, run by the superuser, brings back the database before its upgrade.
    db.pool.close().await;
    let mut pool = None;
    for (rollback, state, print) in [
        (&rollback2, &state1, &print1),
        (&rollback1, &state0, &print0),
    ] {
        let restored = Command::new("bash")
            .args(["-c", rollback])
            .env("PGUSER", admin.get_username())
            .output()
            .unwrap();
        assert!(
            restored.status.success(),
            "{rollback}: {}",
            output_text(&restored)
        );
        let now = sqlx::PgPool::connect(&db.url).await.unwrap();
        assert_eq!(&tables_state(&now).await, state, "after {rollback}");
        assert_eq!(
            diff(print, &weston_tests::data_fingerprint(&db.url).await),
            vec![],
            "after {rollback}"
        );
        pool = Some(now);
    }
    let db = TestDb {
        pool: pool.unwrap(),
        ..db
    };

    // As a superuser the command connects as that user; a downgrade takes none unless asked.
    let superuser = admin.get_username().to_string();
    let again = alembic(&superuser, &["upgrade", "a1_add_watchlist"]);
    assert!(again.status.success(), "{}", output_text(&again));
    let rollback3 = line_after(
        &again,
        "snapshot: to roll back to it (every session of the database is ended): ",
    );
    assert!(rollback3.contains(&format!("{superuser}@")), "{rollback3}");
    let down = alembic(&backend, &["downgrade", "base"]);
    assert!(down.status.success(), "{}", output_text(&down));
    assert_eq!(snapshot_files(&snapshots), 3);
    let listed = weston_tests::superuser_loader_command(&db, &["snapshot", "list"])
        .env("WESTON_SNAPSHOT_DIR", &snapshots)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout)
            .matches(".dump")
            .count(),
        3,
        "{}",
        output_text(&listed)
    );
    std::fs::remove_dir_all(&workdir).ok();
    std::fs::remove_dir_all(&snapshots).ok();
    for user in [&backend, &dba, &etl] {
        drop_login(&db, user).await;
    }
}
