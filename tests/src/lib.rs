//! Support for the integration tests: each test gets its own database on the real
//! PostgreSQL 15 cluster that `scripts/test.sh` starts (WESTON_TEST_ADMIN_URL).

use std::sync::atomic::{AtomicU32, Ordering};

pub mod planted;
pub mod promql;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The superuser URL of the test cluster's `postgres` database.
pub fn admin_url() -> String {
    std::env::var("WESTON_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:25433/postgres".to_string())
}

/// The weston-loader binary built by `scripts/setup.sh`.
pub fn loader_bin() -> std::path::PathBuf {
    std::env::var_os("WESTON_LOADER_BIN")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/weston-loader")
        })
}

/// The commands the loader runs as its production login (an `etl_writer` member, as
/// `deploy/compose.yaml` deploys it): the nightly job and what reads its work.
pub const LOADER_COMMANDS: [&str; 3] = ["run", "status", "audit"];

/// `weston-loader args` against `db` as the loader's login ([`LOADER`], an `etl_writer`
/// member), blind to the caller's provider setup (keys, base URLs, mock universe, batch
/// size) and to any `.env.local` in the caller's directory. Only for [`LOADER_COMMANDS`]:
/// `migrate`, `verify` and `scratch` run as a superuser, through
/// [`superuser_loader_command`], the named exception.
///
/// # Panics
/// For any other command, naming the function to use.
pub fn loader_command(db: &TestDb, args: &[&str]) -> std::process::Command {
    assert!(
        args.first().is_some_and(|c| LOADER_COMMANDS.contains(c)),
        "loader_command runs {LOADER_COMMANDS:?} as the etl_writer login; {args:?} runs as a \
         superuser: use superuser_loader_command"
    );
    loader_command_as(&db.loader_url(), args)
}

/// Runs `weston-loader args` as [`loader_command`] does, with the variables `env` set too;
/// its output, whatever its exit status.
pub fn run_loader(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    loader_command(db, args)
        .envs(env.iter().copied())
        .output()
        .expect("run weston-loader")
}

/// `weston-loader args` against `db` as the cluster's superuser: the named exception, for
/// the commands deployed with a superuser's DATABASE_URL (`migrate`, `verify`, `scratch`)
/// and for tests that show what a superuser's run does.
pub fn superuser_loader_command(db: &TestDb, args: &[&str]) -> std::process::Command {
    loader_command_as(&db.url, args)
}

/// `weston-loader args` with DATABASE_URL `url`, the provider setup cleared (see
/// [`loader_command`]).
pub fn loader_command_as(url: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(loader_bin());
    cmd.args(args)
        .env("DATABASE_URL", url)
        .env_remove("FMP_API_KEY")
        .env_remove("POLYGON_API_KEY")
        .env_remove("WESTON_FMP_BASE_URL")
        .env_remove("WESTON_POLYGON_BASE_URL")
        .env_remove(weston_loader::cli::MOCK_SYMBOLS_ENV)
        .env_remove(weston_loader::cli::BATCH_ENV)
        .env_remove(weston_loader::cli::MOCK_PLANTED_ENV)
        .env_remove(weston_loader::cli::AUDIT_BATCH_ENV)
        .env_remove(weston_loader::cli::RECONCILE_SAMPLE_ENV)
        // Which night a symbol's metadata and events are asked again depends on the date:
        // off, unless a test sets it.
        .env(weston_loader::cli::METADATA_REFRESH_ENV, "0")
        .env(weston_loader::cli::EVENTS_RECHECK_ENV, "0")
        .env("RUST_LOG", "info,sqlx=warn")
        .current_dir(std::env::temp_dir());
    cmd
}

/// A LOGIN role of the test cluster that is a member of pg_weston's group roles: a program
/// or a person of the deployment, connected as in production. Cluster-wide and shared by
/// every test database (roles are per cluster), created by [`TestDb::migrated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Login {
    pub role: &'static str,
    /// The roles it is a member of (`IN ROLE` of its `CREATE ROLE`).
    pub member_of: &'static str,
}

impl Login {
    const fn new(role: &'static str, member_of: &'static str) -> Login {
        Login { role, member_of }
    }
}

/// The nightly loader (`weston_loader` in deploy/compose.yaml).
pub const LOADER: Login = Login::new("weston_test_loader", "etl_writer");
/// An analyst (and the exporter's reads): market data and the adjusted-price functions.
pub const ANALYST: Login = Login::new("weston_test_analyst", "app_ro");
/// A person of the DBA team: corrections, configuration.
pub const DBA: Login = Login::new("weston_test_dba", "dba");
/// The backend (and its Alembic): reads market data, writes its own schema `app`.
pub const BACKEND: Login = Login::new("weston_test_backend", "app_rw");
/// postgres_exporter's queries (`weston_exporter` of deploy/docker/entrypoint.sh).
pub const EXPORTER: Login = Login::new("weston_test_exporter", "app_ro, pg_monitor");
/// Every login [`TestDb::migrated`] makes sure of.
pub const LOGINS: [Login; 5] = [LOADER, ANALYST, DBA, BACKEND, EXPORTER];

/// Creates `login` unless it exists. Tests running at the same time may create it at once:
/// the loser's duplicate is no error.
async fn ensure_login(pool: &PgPool, login: Login) {
    let sql = format!(
        "DO $login$ BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
                 CREATE ROLE {role} LOGIN IN ROLE {member_of};
             END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $login$",
        role = login.role,
        member_of = login.member_of
    );
    sqlx::raw_sql(&sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("create the test login {}: {e}", login.role));
}

/// Names of the partitions of `parent` whose name is LIKE `pattern`, in order.
pub async fn partitions_like(pool: &PgPool, parent: &str, pattern: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::text::regclass AND c.relname LIKE $2 ORDER BY 1",
    )
    .bind(parent)
    .bind(pattern)
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("partitions of {parent}: {e}"))
}

/// A finished loader's exit code and output, for assertion messages.
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A fresh database for one test.
/// The search_path of the tests' sessions: the database default that migration 0009 sets
/// (`weston_loader::home::DATABASE_SEARCH_PATH`) without the application's schema `app`, so
/// that what a test creates unqualified lands in public; pg_weston's objects resolve
/// unqualified wherever they are (public before 0.4.0, weston since), its tables themselves
/// (weston_data since migration 0034) before weston's views of the same names, as on the
/// loader's sessions: a test's setup may alter or copy into a table.
pub const TEST_SEARCH_PATH: &str = "\"$user\", public, weston_data, weston";

pub struct TestDb {
    pub name: String,
    /// The cluster superuser's URL of this database: the named exception (what production
    /// runs as a superuser: `migrate`, `verify`, `scratch`; and a test's seeding, planting
    /// and inspecting). Programs run as their logins: [`TestDb::url_for`].
    pub url: String,
    /// The cluster superuser's sessions (see `url`); [`TestDb::pool_for`] for a login's.
    pub pool: PgPool,
}

impl TestDb {
    /// An empty database named after the test.
    pub async fn empty(tag: &str) -> TestDb {
        let name = format!(
            "t_{}_{}_{}",
            tag.to_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url())
            .await
            .expect("connect to the test cluster (is scripts/test.sh's cluster up?)");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let options: PgConnectOptions = admin_url().parse().expect("admin URL");
        let options = options.database(&name);
        let url = options.to_url_lossy().to_string();
        // Set on every session: sessions opened before a migration do not have its default.
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query(&format!("SET search_path TO {}", TEST_SEARCH_PATH))
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
            })
            .connect_with(options)
            .await
            .unwrap();
        TestDb { name, url, pool }
    }

    /// A database migrated by weston-loader's embedded migrations (as the superuser who
    /// migrates in production), with the deployment's logins ([`LOGINS`]) present.
    pub async fn migrated(tag: &str) -> TestDb {
        let db = TestDb::empty(tag).await;
        weston_loader::migrate::migrate(&db.pool)
            .await
            .expect("migrate");
        db.ensure_logins().await;
        db
    }

    /// Creates the deployment's logins ([`LOGINS`]) that do not exist yet; needs the group
    /// roles (migration 0006). For a test that migrates the database itself.
    pub async fn ensure_logins(&self) {
        for login in LOGINS {
            ensure_login(&self.pool, login).await;
        }
    }

    /// The URL of this database for `login`.
    pub fn url_for(&self, login: Login) -> String {
        let options: PgConnectOptions = self.url.parse().expect("the test database's URL");
        options.username(login.role).to_url_lossy().to_string()
    }

    /// A pool of `login`'s sessions on this database, with the search_path the database
    /// gives every session (as deployed, not the superuser pool's [`TEST_SEARCH_PATH`]).
    /// Connects on first use.
    pub fn pool_for(&self, login: Login) -> PgPool {
        let options: PgConnectOptions = self.url.parse().expect("the test database's URL");
        PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy_with(options.username(login.role))
    }

    /// The nightly loader's URL ([`LOADER`]).
    pub fn loader_url(&self) -> String {
        self.url_for(LOADER)
    }

    /// The nightly loader's sessions ([`LOADER`]), set up as weston-loader sets up its own
    /// (search_path pinned to pg_catalog and pg_weston's schema).
    pub fn loader_pool(&self) -> PgPool {
        let options: PgConnectOptions = self.loader_url().parse().expect("the loader's URL");
        PgPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| Box::pin(weston_loader::database::set_up_session(conn)))
            .connect_lazy_with(options)
    }

    /// An analyst's sessions ([`ANALYST`], `app_ro`).
    pub fn analyst_pool(&self) -> PgPool {
        self.pool_for(ANALYST)
    }

    /// A DBA's sessions ([`DBA`]).
    pub fn dba_pool(&self) -> PgPool {
        self.pool_for(DBA)
    }

    /// The backend's sessions ([`BACKEND`], `app_rw`).
    pub fn backend_pool(&self) -> PgPool {
        self.pool_for(BACKEND)
    }

    /// The exporter's sessions ([`EXPORTER`], `app_ro` and `pg_monitor`).
    pub fn exporter_pool(&self) -> PgPool {
        self.pool_for(EXPORTER)
    }
}

/// The database as a loader that knew migrations up to `last` left it: those applied as
/// weston-loader applies migrations (in pg_weston's schema), on one session.
pub async fn migrate_through(db: &TestDb, last: i64) {
    use weston_loader::migrate::MIGRATOR;
    let early = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            MIGRATOR
                .iter()
                .filter(|m| m.version <= last)
                .cloned()
                .collect(),
        ),
        ignore_missing: MIGRATOR.ignore_missing,
        locking: MIGRATOR.locking,
        no_tx: MIGRATOR.no_tx,
    };
    let mut conn = db.pool.acquire().await.unwrap();
    let before = weston_loader::home::enter_for_migrations(&mut conn)
        .await
        .unwrap();
    early
        .run(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("migrations up to {last}: {e}"));
    weston_loader::home::restore_search_path(&mut conn, &before)
        .await
        .unwrap();
}

/// The one value `sql` reads, as text; NULL reads as the empty string. Panics naming the query.
pub async fn query_text(pool: &PgPool, sql: &str) -> String {
    sqlx::query_scalar::<_, Option<String>>(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_default()
}

/// A new LOGIN member of `group` named after the database and `who` (a person, as the
/// runbook has people connect), connected to `db`.
///
/// # Panics
/// When the role cannot be made or cannot connect.
pub async fn login_in_group(db: &TestDb, who: &str, group: &str) -> PgPool {
    let name = format!("{}_{who}", db.name);
    sqlx::raw_sql(&format!("CREATE ROLE {name} LOGIN IN ROLE {group}"))
        .execute(&db.pool)
        .await
        .unwrap();
    let options: PgConnectOptions = admin_url().parse().unwrap();
    PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.database(&db.name).username(&name))
        .await
        .unwrap_or_else(|e| panic!("{name} connects: {e}"))
}

/// `from` dumped (`pg_dump -Fc`) and restored into `into` (`pg_restore`), with the cluster's
/// own binaries.
///
/// # Panics
/// When either program fails.
pub fn dump_and_restore(from: &TestDb, into: &TestDb) {
    let bindir = pg_config("bindir");
    let dump = std::env::temp_dir().join(format!("{}.dump", from.name));
    // libpq's URIs know nothing of sqlx's parameters.
    let libpq_url = |url: &'_ str| url.split('?').next().unwrap().to_string();
    let (from_url, into_url) = (libpq_url(&from.url), libpq_url(&into.url));
    let run = |program: &str, args: &[&str]| {
        let out = std::process::Command::new(format!("{bindir}/{program}"))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run("pg_dump", &["-Fc", "-f", dump.to_str().unwrap(), &from_url]);
    run(
        "pg_restore",
        &["--exit-on-error", "-d", &into_url, dump.to_str().unwrap()],
    );
    std::fs::remove_file(&dump).ok();
}

/// The file names in a snapshot directory, sorted (none when it does not exist).
#[must_use]
pub fn snapshot_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `pg_config --<what>` of the PostgreSQL the test cluster runs (WESTON_PG_CONFIG).
pub fn pg_config(what: &str) -> String {
    let pg_config = std::env::var("WESTON_PG_CONFIG")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pg_config".into());
    let out = std::process::Command::new(&pg_config)
        .arg(format!("--{what}"))
        .output()
        .unwrap_or_else(|e| panic!("{pg_config} --{what}: {e}"));
    assert!(out.status.success(), "{pg_config} --{what} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// deploy/monitoring: the postgres_exporter queries file, its alert rules and their tests.
pub fn monitoring_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/monitoring")
}

/// One query of the postgres_exporter queries file.
#[derive(serde::Deserialize)]
pub struct MonitoringQuery {
    pub query: String,
    /// Each entry maps one column name to its usage and description.
    pub metrics: Vec<std::collections::BTreeMap<String, MonitoringMetric>>,
}

#[derive(serde::Deserialize)]
pub struct MonitoringMetric {
    pub usage: String,
    pub description: String,
}

/// `deploy/monitoring/queries.yaml`, by query name.
pub fn monitoring_queries() -> std::collections::BTreeMap<String, MonitoringQuery> {
    let text = std::fs::read_to_string(monitoring_dir().join("queries.yaml")).unwrap();
    serde_norway::from_str(&text).expect("queries.yaml parses")
}

/// Every numeric metric postgres_exporter makes of the queries file: `<query>_<column>`.
pub fn monitoring_exported_metrics() -> Vec<String> {
    monitoring_queries()
        .iter()
        .flat_map(|(name, q)| {
            q.metrics
                .iter()
                .flat_map(|m| m.iter())
                .filter(|(_, metric)| metric.usage != "LABEL")
                .map(move |(column, _)| format!("{name}_{column}"))
        })
        .collect()
}

/// The metrics the backup scripts write for node_exporter's textfile collector, read from
/// the scripts themselves (`deploy/backup/*.sh`).
pub fn backup_textfile_metrics() -> std::collections::BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/backup");
    let mut names = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sh") {
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                if let Some((_, rest)) = line.split_once("# TYPE ") {
                    names.insert(rest.split(' ').next().unwrap().to_string());
                }
            }
        }
    }
    names
}

/// How big a benchmark runs. `scripts/bench.sh` runs them full and prints their ratios;
/// `scripts/test.sh` runs each with `--smoke` (small sizes, seconds, speed never asserted)
/// so that a benchmark that no longer runs fails CI instead of rotting unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchSize {
    Full,
    Smoke,
}

impl BenchSize {
    /// From the command line: no argument, or `--smoke`.
    ///
    /// # Panics
    /// On any other argument, naming it.
    #[must_use]
    pub fn from_args() -> BenchSize {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            [] => BenchSize::Full,
            ["--smoke"] => BenchSize::Smoke,
            _ => panic!("usage: bench_<area> [--smoke]; got {args:?}"),
        }
    }

    /// `full` or `smoke`, for this size.
    pub fn pick<T>(self, full: T, smoke: T) -> T {
        match self {
            BenchSize::Full => full,
            BenchSize::Smoke => smoke,
        }
    }
}

/// A benchmark's database: migrated, with the months of `[from, to]` made, and a
/// connection of its own to it.
///
/// # Panics
/// When the database cannot be made or reached.
pub async fn bench_database(
    tag: &str,
    (from, to): (chrono::NaiveDate, chrono::NaiveDate),
) -> (TestDb, sqlx::PgConnection) {
    let db = TestDb::migrated(tag).await;
    let mut conn = db.pool.acquire().await.unwrap().detach();
    sqlx::query("SELECT weston_ensure_partitions($1, $2)")
        .bind(from)
        .bind(to)
        .execute(&mut conn)
        .await
        .unwrap();
    (db, conn)
}

/// Leaves freshly generated rows as a long-lived database has them: frozen, their hint bits
/// set, statistics taken, written out. A benchmark read right after a bulk insert otherwise
/// pays for the first read's hint bits and races autovacuum, which moves ratios from run to
/// run.
pub async fn settle(conn: &mut sqlx::PgConnection) {
    // One statement per call: VACUUM refuses to run inside a multi-statement string.
    for sql in ["VACUUM (FREEZE, ANALYZE)", "CHECKPOINT"] {
        sqlx::raw_sql(sql).execute(&mut *conn).await.unwrap();
    }
}

/// The SQL that writes the benchmarks' synthetic universe (`bench_universe.sql`): `symbols`
/// symbols `{prefix}00001`.. over the weekdays `from`..=`to` (ISO dates), with splits and
/// dividends within those dates whatever their span.
#[must_use]
pub fn bench_universe(prefix: &str, symbols: usize, from: &str, to: &str) -> String {
    include_str!("bench_universe.sql")
        .replace("{prefix}", prefix)
        .replace("{symbols}", &symbols.to_string())
        .replace("{from}", from)
        .replace("{to}", to)
}

/// A little market in a migrated database, as a superuser writes it: 4 symbols, bars over
/// three months (partitions made by the extension), a 4-for-1 split and a dividend. The
/// table is named, as the loader names it: before migration 0034 it is in weston, not where
/// the function's default (weston_data.prices_daily) points.
pub async fn seed_small_market(pool: &PgPool) {
    sqlx::raw_sql(
        "INSERT INTO etl_run (job_name, status, finished_at, rows_loaded) VALUES ('seed', 'succeeded', now(), 0);
         INSERT INTO securities (symbol, name, exchange)
         SELECT 'S' || i, 'Security ' || i, 'XNAS' FROM generate_series(1, 4) i;
         SELECT weston_ensure_partitions('2024-01-01', '2024-03-31', 'prices_daily'::regclass);
         INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
         SELECT 'S' || i, d::date, 100 + i, 102 + i, 99 + i, 101 + i, 1000 * i, 'mock',
                (SELECT max(run_id) FROM etl_run)
           FROM generate_series(1, 4) i, generate_series('2024-01-02'::date, '2024-03-28', '1 day') d
          WHERE extract(isodow FROM d) < 6;
         INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id)
         VALUES ('S1', '2024-02-15', 4, 1, 'mock', (SELECT max(run_id) FROM etl_run));
         INSERT INTO dividends (symbol, ex_date, amount, provider, run_id)
         VALUES ('S2', '2024-03-01', 0.5, 'mock', (SELECT max(run_id) FROM etl_run));",
    )
    .execute(pool)
    .await
    .expect("seed the small market");
}

/// A fresh database `to`, a copy of `from` (which nobody may be connected to) with its
/// privileges and settings, as a dump restored with `--create` would have them.
pub async fn clone_database(from: &str, to: &str) -> String {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_url())
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {to} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {to} TEMPLATE {from}"))
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("copy {from} into {to}: {e}"));
    // CREATE DATABASE copies neither the ACL nor the per-database settings.
    sqlx::query(
        "UPDATE pg_database SET datacl = (SELECT datacl FROM pg_database WHERE datname = $1) WHERE datname = $2",
    )
    .bind(from)
    .bind(to)
    .execute(&admin)
    .await
    .unwrap();
    let settings: Vec<String> = sqlx::query_scalar(
        "SELECT unnest(setconfig) FROM pg_db_role_setting
          WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database WHERE datname = $1)",
    )
    .bind(from)
    .fetch_all(&admin)
    .await
    .unwrap();
    for setting in settings {
        let (name, value) = setting.split_once('=').unwrap();
        sqlx::query(&format!("ALTER DATABASE {to} SET {name} = {value}"))
            .execute(&admin)
            .await
            .unwrap();
    }
    admin.close().await;
    let options: PgConnectOptions = admin_url().parse().expect("admin URL");
    options.database(to).to_url_lossy().to_string()
}

/// A fingerprint (`weston-loader verify`'s) without the cluster-wide roles, which tests
/// running at the same time change.
pub async fn data_fingerprint(url: &str) -> weston_loader::verify::Fingerprint {
    let database = weston_loader::database::Database::parse(
        url,
        std::time::Duration::from_secs(10),
        "weston-tests",
    )
    .expect("database URL");
    let mut print = weston_loader::verify::collect::fingerprint(&database, 100)
        .await
        .expect("fingerprint");
    print.sections.remove(weston_loader::verify::collect::ROLE);
    print
}

/// The loader's run, in-process, as the loader's login ([`LOADER`]), with the mock provider
/// for the mock market's first `symbols` symbols over a fixed window (so databases loaded on
/// either side of a New York midnight hold the same bars).
pub async fn mock_run_in_process(
    db: &TestDb,
    (from, to): (&str, &str),
    symbols: usize,
) -> weston_loader::run::RunOutcome {
    let symbols: Vec<String> = (1..=symbols)
        .map(weston_loader::providers::mock::mock_symbol)
        .collect();
    let date = |d: &str| d.parse().expect("a date");
    let asked = weston_loader::plan::Asked {
        from: Some(date(from)),
        to: Some(date(to)),
        symbols,
        earliest_date: date("1990-01-01"),
        metadata_refresh_days: 30,
    };
    let args = weston_loader::run::RunRequest {
        request: weston_loader::plan::Request::check(&asked, chrono::Utc::now())
            .expect("a valid window"),
        providers: vec![weston_loader::model::ProviderName::Mock],
        provider_settings: weston_loader::providers::ProviderSettings::mock_market(750),
        batch_symbols: 50,
        // Whose events are asked again tonight depends on the date.
        events_recheck_days: 0,
        identity_detection: true,
        audit_batch_symbols: 100,
        reconcile_sample: 25,
    };
    db.ensure_logins().await;
    let pool = db.loader_pool();
    let outcome = weston_loader::run::run(&pool, args)
        .await
        .expect("the loader's run");
    pool.close().await;
    outcome
}
