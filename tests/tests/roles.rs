//! The privilege matrix of the group roles (migration 0006), on the real cluster: a LOGIN
//! user granted each role can do its job and nothing more, including when it puts hostile
//! objects early on its search_path.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use weston_tests::{admin_url, partitions_like, TestDb};

const GROUPS: [&str; 4] = ["dba", "etl_writer", "app_rw", "app_ro"];

/// Stands for "no group role" where `login` takes a group.
const NO_GROUP: &str = "nobody";

/// A LOGIN user that is a member of `group`, connected to `db`.
struct Login {
    name: String,
    pool: PgPool,
}

async fn login(db: &TestDb, group: &str) -> Login {
    let name = format!("{}_{}", db.name, group);
    let member_of = if group == NO_GROUP {
        String::new()
    } else {
        format!(" IN ROLE {group}")
    };
    sqlx::query(&format!("CREATE ROLE {name} LOGIN{member_of}"))
        .execute(&db.pool)
        .await
        .unwrap();
    let options: PgConnectOptions = admin_url().parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.database(&db.name).username(&name))
        .await
        .unwrap_or_else(|e| panic!("{name} connects: {e}"));
    Login { name, pool }
}

impl Login {
    async fn ok(&self, sql: &str) {
        if let Err(e) = sqlx::raw_sql(sql).execute(&self.pool).await {
            panic!("{} should be allowed: {sql}\n  got: {e}", self.name);
        }
    }

    /// Fails unless PostgreSQL refuses `sql` for lack of privilege (SQLSTATE 42501), so
    /// a typo or a missing object cannot pass for a refusal.
    async fn denied(&self, sql: &str) {
        match sqlx::raw_sql(sql).execute(&self.pool).await {
            Ok(_) => panic!("{} should be denied: {sql}", self.name),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => {}
            Err(e) => panic!("{} was refused {sql} for the wrong reason: {e}", self.name),
        }
    }

    async fn error_contains(&self, sql: &str, expected: &str) {
        match sqlx::raw_sql(sql).execute(&self.pool).await {
            Ok(_) => panic!("{} should fail: {sql}", self.name),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "{sql}: expected an error containing {expected:?}, got {e}"
            ),
        }
    }

    async fn drop(self, db: &TestDb) {
        self.pool.close().await;
        sqlx::raw_sql(&format!("DROP OWNED BY {0}; DROP ROLE {0}", self.name))
            .execute(&db.pool)
            .await
            .unwrap();
    }
}

/// One security, one run and one bar this month, loaded by the superuser.
async fn seed(db: &TestDb) {
    sqlx::raw_sql(
        "INSERT INTO securities (symbol, name) VALUES ('AAPL', 'Apple');
         INSERT INTO etl_run (job_name, status, finished_at) VALUES ('seed', 'succeeded', now());
         INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
         VALUES ('AAPL', (now() AT TIME ZONE 'America/New_York')::date, 10, 11, 9, 10.5, 1000, 'mock',
                 (SELECT max(run_id) FROM etl_run));",
    )
    .execute(&db.pool)
    .await
    .unwrap();
}

/// Which group may execute an extension function, by the naming rules of migration 0006.
fn may_execute(function: &str, group: &str) -> bool {
    let reader = function == "weston_version"
        || function == "weston_partition_health"
        || function == "weston_check_adjusted_arguments"
        || function.starts_with("weston_adjust");
    let loader = function == "weston_ensure_partitions" || function.starts_with("weston_etl_");
    match group {
        "dba" => true,
        "etl_writer" => reader || loader,
        _ => reader,
    }
}

/// Since 0.2.0 the extension itself withholds from PUBLIC the functions that make tables or
/// write ETL runs: a database where only `CREATE EXTENSION` ran (no migration 0006) is
/// closed to a user holding no group role, above all `weston_ensure_partitions`, which
/// runs with its owner's rights. The readers stay open (the tables' privileges decide).
#[tokio::test]
async fn without_the_roles_migration_public_cannot_run_the_writing_functions() {
    let db = TestDb::empty("roles_bare").await;
    sqlx::raw_sql(
        "CREATE EXTENSION pg_weston;
         CREATE TABLE bars (d date NOT NULL, v int) PARTITION BY RANGE (d);
         CREATE TABLE bars_default PARTITION OF bars DEFAULT;
         INSERT INTO weston_partition_config (parent) VALUES ('bars');",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let user = login(&db, NO_GROUP).await;
    for sql in [
        "SELECT weston_ensure_partitions('2030-01-01', '2030-12-31', 'bars')",
        "SELECT weston_create_partition('2030-01-01', 'bars')",
        "SELECT weston_rotate_partitions()",
        "SELECT weston_etl_begin('job', NULL, NULL)",
        "SELECT weston_etl_progress(1, 1)",
        "SELECT weston_etl_finish(1)",
        "SELECT weston_etl_fail(1, 'error')",
        "SELECT weston_etl_reap()",
    ] {
        user.denied(sql).await;
    }
    user.ok("SELECT weston_version()").await;
    user.drop(&db).await;
    assert_eq!(
        partitions_like(&db.pool, "bars", "%").await,
        ["bars_default"],
        "only DEFAULT: nothing was created"
    );
}

#[tokio::test]
async fn group_roles_are_nologin_and_hold_no_cluster_privileges() {
    let db = TestDb::migrated("roles_attrs").await;
    // A second database migrates over the roles that already exist.
    let second = TestDb::migrated("roles_attrs_again").await;
    for group in GROUPS {
        let row = sqlx::query(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication
               FROM pg_roles WHERE rolname = $1",
        )
        .bind(group)
        .fetch_one(&second.pool)
        .await
        .unwrap_or_else(|e| panic!("role {group}: {e}"));
        for flag in 0..6 {
            assert!(!row.get::<bool, _>(flag), "{group} has flag #{flag}");
        }
    }
    let owners: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_userbyid(c.relowner)::text FROM pg_class c
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
            AND c.relname !~ '^(weston_|_sqlx)' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(owners.len() > 8, "tables and partitions: {owners:?}");
    for (table, owner) in owners {
        assert_eq!(owner, "dba", "owner of {table}");
    }
}

#[tokio::test]
async fn each_extension_function_is_executable_by_exactly_its_roles() {
    let db = TestDb::migrated("roles_functions").await;
    let functions: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.proname::text, p.oid::regprocedure::text FROM pg_proc p
           JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
          WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_weston')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(functions
        .iter()
        .any(|(n, _)| n == "weston_ensure_partitions"));
    let mut checked = 0;
    for (name, signature) in &functions {
        let public: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_proc p, aclexplode(p.proacl) a
                             WHERE p.oid = $1::regprocedure AND a.grantee = 0)",
        )
        .bind(signature)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(!public, "PUBLIC may execute {signature}");
        for group in GROUPS {
            let allowed: bool = sqlx::query_scalar(
                "SELECT has_function_privilege($1, $2::regprocedure, 'EXECUTE')",
            )
            .bind(group)
            .bind(signature)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            assert_eq!(
                allowed,
                may_execute(name, group),
                "{group} EXECUTE {signature}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 4 * 3);
    // Every function that runs with its owner's rights pins a search_path that starts with
    // pg_catalog and ends with pg_temp, so nothing of the caller's can be resolved in it.
    let definers: Vec<(String, Option<Vec<String>>)> = sqlx::query_as(
        "SELECT proname::text, proconfig::text[] FROM pg_proc p
           JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
          WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_weston') AND p.prosecdef",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        definers
            .iter()
            .any(|(name, _)| name == "weston_ensure_partitions"),
        "weston_ensure_partitions runs with its owner's rights: {definers:?}"
    );
    for (name, config) in &definers {
        let path = config
            .iter()
            .flatten()
            .find_map(|c| c.strip_prefix("search_path="))
            .unwrap_or_else(|| panic!("SECURITY DEFINER {name} does not pin search_path"));
        assert!(
            path.starts_with("pg_catalog,") && path.ends_with(", pg_temp"),
            "SECURITY DEFINER {name}: search_path {path}"
        );
    }
}

#[tokio::test]
async fn etl_writer_loads_and_adds_months_but_nothing_else() {
    let db = TestDb::migrated("roles_etl").await;
    seed(&db).await;
    let app = login(&db, "app_rw").await;
    app.ok("SET ROLE app_rw; CREATE TABLE app.notes (id int, note text)")
        .await;
    // A partitioned table someone else owns, not registered for rotation.
    sqlx::raw_sql("CREATE TABLE public.other_parted (d date) PARTITION BY RANGE (d); CREATE TABLE public.other_parted_default PARTITION OF public.other_parted DEFAULT")
        .execute(&db.pool)
        .await
        .unwrap();
    let etl = login(&db, "etl_writer").await;

    etl.ok("SELECT weston_version()").await;
    etl.ok("INSERT INTO etl_run (job_name) VALUES ('nightly')")
        .await;
    etl.ok(
        "INSERT INTO securities (symbol, name) VALUES ('MSFT', 'Microsoft')
            ON CONFLICT (symbol) DO UPDATE SET name = excluded.name, updated_at = now()",
    )
    .await;
    etl.ok("SELECT weston_ensure_partitions('2001-01-15', '2001-02-01')")
        .await;
    etl.ok(
        "INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
         VALUES ('MSFT', '2001-01-16', 1, 2, 1, 2, 5, 'mock', (SELECT max(run_id) FROM etl_run)),
                ('AAPL', (now() AT TIME ZONE 'America/New_York')::date, 10, 12, 9, 11, 2000, 'mock',
                 (SELECT max(run_id) FROM etl_run))
         ON CONFLICT (symbol, date) DO UPDATE SET close = excluded.close, high = excluded.high,
                volume = excluded.volume, run_id = excluded.run_id",
    )
    .await;
    etl.ok(
        "INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id)
            VALUES ('AAPL', '2020-08-31', 4, 1, 'mock', (SELECT max(run_id) FROM etl_run))",
    )
    .await;
    etl.ok(
        "INSERT INTO dividends (symbol, ex_date, amount, provider, run_id)
            VALUES ('AAPL', '2020-08-07', 0.82, 'mock', (SELECT max(run_id) FROM etl_run))",
    )
    .await;
    etl.ok(
        "UPDATE etl_run SET status = 'succeeded', finished_at = now() WHERE job_name = 'nightly'",
    )
    .await;
    let month_owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'prices_daily_p2001_01'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        month_owner, "dba",
        "a month added by the loader belongs to dba"
    );
    let in_january: i64 = sqlx::query_scalar("SELECT count(*) FROM prices_daily_p2001_01")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(in_january, 1);

    for sql in [
        "DELETE FROM prices_daily",
        "DELETE FROM etl_run",
        "TRUNCATE prices_daily",
        "TRUNCATE securities",
        "ALTER TABLE prices_daily ADD COLUMN x int",
        "DROP TABLE splits",
        "CREATE TABLE public.scratch (x int)",
        "CREATE TABLE public.prices_daily_p2002_01 PARTITION OF prices_daily FOR VALUES FROM ('2002-01-01') TO ('2002-02-01')",
        "SELECT weston_create_partition('2002-01-01')",
        "INSERT INTO weston_partition_config (parent) VALUES ('other_parted')",
        "DELETE FROM weston_maintenance_log",
        "INSERT INTO app.notes VALUES (1, 'x')",
        "CREATE TABLE app.mine (x int)",
        "CREATE SCHEMA etl_scratch",
        "CREATE EXTENSION pg_cron",
        "ALTER ROLE CURRENT_USER SUPERUSER",
        "CREATE ROLE someone_else",
        "CREATE DATABASE etl_db",
    ] {
        etl.denied(sql).await;
    }
    // With its owner's rights, weston_ensure_partitions still touches only configured tables.
    etl.error_contains(
        "SELECT weston_ensure_partitions('2024-01-01', '2024-02-01', 'other_parted')",
        "public.other_parted is not registered in weston_partition_config",
    )
    .await;
    etl.drop(&db).await;
    app.drop(&db).await;
}

#[tokio::test]
async fn app_rw_reads_market_data_and_writes_only_its_schema() {
    let db = TestDb::migrated("roles_app_rw").await;
    seed(&db).await;
    let app = login(&db, "app_rw").await;
    app.ok("SELECT count(*) FROM prices_daily JOIN securities USING (symbol)")
        .await;
    app.ok(
        "SELECT * FROM etl_run, splits, dividends, weston_partition_config, weston_maintenance_log",
    )
    .await;
    app.ok("SELECT weston_version()").await;
    app.ok(
        "SET ROLE app_rw; CREATE TABLE app.watchlist (symbol text PRIMARY KEY);
            INSERT INTO app.watchlist VALUES ('AAPL'); UPDATE app.watchlist SET symbol = 'MSFT';
            DELETE FROM app.watchlist; TRUNCATE app.watchlist; RESET ROLE",
    )
    .await;
    for sql in [
        "INSERT INTO securities (symbol) VALUES ('MSFT')",
        "UPDATE prices_daily SET close = 1",
        "DELETE FROM prices_daily",
        "TRUNCATE prices_daily",
        "INSERT INTO etl_run (job_name) VALUES ('app')",
        "ALTER TABLE securities ADD COLUMN x int",
        "CREATE TABLE public.scratch (x int)",
        "CREATE INDEX ON prices_daily (close)",
        "SELECT weston_ensure_partitions('2001-01-01', '2001-02-01')",
        "SELECT weston_create_partition('2001-01-01')",
        "UPDATE weston_partition_config SET premake_months = 0",
        "ALTER ROLE CURRENT_USER SUPERUSER",
        "CREATE SCHEMA app2",
    ] {
        app.denied(sql).await;
    }
    app.drop(&db).await;
}

#[tokio::test]
async fn app_ro_only_reads() {
    let db = TestDb::migrated("roles_app_ro").await;
    seed(&db).await;
    let writer = login(&db, "app_rw").await;
    writer
        .ok("SET ROLE app_rw; CREATE TABLE app.notes (note text)")
        .await;
    let ro = login(&db, "app_ro").await;
    ro.ok("SELECT count(*) FROM prices_daily JOIN securities USING (symbol)")
        .await;
    ro.ok("SELECT * FROM etl_run, splits, dividends").await;
    ro.ok("SELECT weston_version()").await;
    for function in [
        "weston_adjusted_prices",
        "weston_adjustment_factors",
        "weston_partition_health",
    ] {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = $1)")
                .bind(function)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        if exists {
            let call = match function {
                "weston_partition_health" => "SELECT * FROM weston_partition_health()".to_string(),
                "weston_adjustment_factors" => {
                    "SELECT * FROM weston_adjustment_factors('AAPL')".to_string()
                }
                _ => "SELECT * FROM weston_adjusted_prices('AAPL', '2000-01-01', '2100-01-01')"
                    .to_string(),
            };
            ro.ok(&call).await;
        }
    }
    for sql in [
        "INSERT INTO securities (symbol) VALUES ('MSFT')",
        "UPDATE securities SET name = 'x'",
        "DELETE FROM dividends",
        "TRUNCATE splits",
        "SELECT * FROM app.notes",
        "INSERT INTO app.notes VALUES ('x')",
        "CREATE TABLE app.mine (x int)",
        "CREATE TABLE public.mine (x int)",
        "SELECT weston_ensure_partitions('2001-01-01', '2001-02-01')",
        "ALTER TABLE prices_daily DETACH PARTITION prices_daily_default",
        "ALTER ROLE CURRENT_USER SUPERUSER",
    ] {
        ro.denied(sql).await;
    }
    ro.drop(&db).await;
    writer.drop(&db).await;
}

#[tokio::test]
async fn dba_maintains_the_schema_without_being_superuser() {
    let db = TestDb::migrated("roles_dba").await;
    seed(&db).await;
    let dba = login(&db, "dba").await;
    dba.ok("SELECT weston_create_partition('1999-12-01')").await;
    dba.ok("SELECT weston_ensure_partitions('1999-01-01', '1999-03-01')")
        .await;
    dba.ok("ALTER TABLE securities ADD COLUMN isin text; ALTER TABLE securities DROP COLUMN isin")
        .await;
    dba.ok("UPDATE weston_partition_config SET premake_months = 4")
        .await;
    dba.ok("CREATE TABLE public.dba_scratch (x int); DROP TABLE public.dba_scratch")
        .await;
    let rotate_exists: bool =
        sqlx::query_scalar("SELECT to_regproc('weston_rotate_partitions') IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    if rotate_exists {
        dba.ok("SELECT weston_rotate_partitions()").await;
    }
    for sql in [
        "ALTER ROLE CURRENT_USER SUPERUSER",
        "CREATE ROLE someone_else",
        "CREATE DATABASE dba_db",
        "CREATE EXTENSION pg_cron",
        "ALTER SYSTEM SET fsync = off",
        "COPY securities TO PROGRAM 'true'",
    ] {
        dba.denied(sql).await;
    }
    dba.drop(&db).await;
}

/// A caller who controls a schema puts look-alike tables and functions early on its
/// search_path (and a look-alike config table in pg_temp), then calls the SECURITY DEFINER
/// function: nothing of theirs runs with the owner's rights, and only our tables change.
#[tokio::test]
async fn hostile_search_path_cannot_redirect_or_hijack_our_functions() {
    let db = TestDb::migrated("roles_hostile").await;
    seed(&db).await;
    let etl = login(&db, "etl_writer").await;
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA hostile AUTHORIZATION {0}; GRANT TEMPORARY ON DATABASE {1} TO {0}",
        etl.name, db.name
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    // Every hostile function records who ran it; called with the definer's rights, the
    // row would say so (and the table is writable by anyone).
    etl.ok(
        "CREATE TABLE hostile.calls (fn text, by_user text);
         GRANT INSERT ON hostile.calls TO PUBLIC;
         CREATE TABLE hostile.prices_daily (date date) PARTITION BY RANGE (date);
         CREATE TABLE hostile.weston_partition_config (parent regclass);
         INSERT INTO hostile.weston_partition_config VALUES ('hostile.prices_daily');
         CREATE TEMP TABLE weston_partition_config (parent regclass);
         INSERT INTO pg_temp.weston_partition_config VALUES ('hostile.prices_daily');
         CREATE FUNCTION hostile.format(text, text) RETURNS text LANGUAGE sql AS
           $$ INSERT INTO hostile.calls VALUES ('format', current_user) RETURNING 'x' $$;
         CREATE FUNCTION hostile.quote_ident(text) RETURNS text LANGUAGE sql AS
           $$ INSERT INTO hostile.calls VALUES ('quote_ident', current_user) RETURNING 'x' $$;
         CREATE FUNCTION hostile.pg_get_userbyid(oid) RETURNS name LANGUAGE sql AS
           $$ INSERT INTO hostile.calls VALUES ('pg_get_userbyid', current_user) RETURNING 'x'::name $$;
         CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE sql AS
           $$ INSERT INTO hostile.calls VALUES ('now', current_user) RETURNING '2000-01-01'::timestamptz $$;
         CREATE FUNCTION hostile.texteq(text, text) RETURNS boolean LANGUAGE sql AS
           $$ INSERT INTO hostile.calls VALUES ('texteq', current_user) RETURNING true $$;
         CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.texteq);",
    )
    .await;

    let with_hostile_path =
        |sql: &str| format!("SET search_path = hostile, pg_temp, public; {sql}; RESET search_path");
    // The default parent is ours, whatever the caller's search_path says.
    etl.ok(&with_hostile_path(
        "SELECT weston_ensure_partitions('2003-05-01', '2003-06-30')",
    ))
    .await;
    etl.ok(&with_hostile_path("SELECT weston_version()")).await;
    // Named by the caller, 'prices_daily' is hostile.prices_daily: not ours, not configured,
    // whatever the look-alike config tables claim.
    etl.error_contains(
        &with_hostile_path(
            "SELECT weston_ensure_partitions('2003-05-01', '2003-06-30', 'prices_daily')",
        ),
        "hostile.prices_daily is not registered in weston_partition_config",
    )
    .await;

    let ours = partitions_like(&db.pool, "public.prices_daily", "%2003%").await;
    assert_eq!(ours, ["prices_daily_p2003_05", "prices_daily_p2003_06"]);
    let theirs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'hostile.prices_daily'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(theirs, 0, "no partition was added to the look-alike table");
    let in_public: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'prices_daily_p2003%'
            AND relnamespace <> 'public'::regnamespace",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(in_public, 0, "partitions were created only in our schema");
    let calls: Vec<(String, String)> = sqlx::query_as("SELECT fn, by_user FROM hostile.calls")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(calls.is_empty(), "hostile functions ran: {calls:?}");
    sqlx::raw_sql("DROP SCHEMA hostile CASCADE")
        .execute(&db.pool)
        .await
        .unwrap();
    etl.drop(&db).await;
}
