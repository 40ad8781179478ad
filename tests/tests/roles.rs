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

/// Which group may execute an extension function, by the naming rules of migration 0006
/// and the names migration 0017 grants (a security's life).
fn may_execute(function: &str, group: &str) -> bool {
    let reader = function == "weston_version"
        || function == "weston_partition_health"
        || function == "weston_check_adjusted_arguments"
        || function.starts_with("weston_adjust")
        || [
            "weston_symbol_history",
            "weston_check_day",
            "weston_resolve_symbol",
            "weston_universe",
            "weston_ticker_pieces",
            // The reads as known (migrations 0040 and 0049 grant them).
            "weston_check_known_on",
            "weston_check_known_final",
            "weston_ticker_history_known",
            "weston_ticker_history_as",
            "weston_securities_known",
            "weston_securities_as",
            "weston_prices_daily_known",
            // The nearest double (migration 0051).
            "weston_float8",
        ]
        .contains(&function);
    let loader = function == "weston_ensure_partitions"
        || function.starts_with("weston_etl_")
        || (function.starts_with("weston_ticker_") && !reader);
    match group {
        // Months are made as the table's owner: by weston_ensure_partitions, or a superuser.
        "dba" => !["weston_create_partition", "weston_rotate_partitions"].contains(&function),
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
         -- CREATE EXTENSION makes schema weston closed to PUBLIC (since 0.4.0); opened here,
         -- as a DBA might, the functions' own privileges must still close the writing ones.
         GRANT USAGE ON SCHEMA weston TO PUBLIC;
         CREATE TABLE bars (d date NOT NULL, v int) PARTITION BY RANGE (d);
         CREATE TABLE bars_default PARTITION OF bars DEFAULT;
         INSERT INTO weston_partition_config (parent) VALUES ('bars');",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let user = login(&db, NO_GROUP).await;
    for sql in [
        "SELECT weston.weston_ensure_partitions('2030-01-01', '2030-12-31', 'bars')",
        "SELECT weston.weston_create_partition('2030-01-01', 'bars')",
        "SELECT weston.weston_rotate_partitions()",
        "SELECT weston.weston_etl_begin('job', NULL, NULL)",
        "SELECT weston.weston_etl_progress(1, 1)",
        "SELECT weston.weston_etl_finish(1)",
        "SELECT weston.weston_etl_fail(1, 'error')",
        "SELECT weston.weston_etl_reap()",
    ] {
        user.denied(sql).await;
    }
    user.ok("SELECT weston.weston_version()").await;
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
        "SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner)::text FROM pg_class c
          WHERE (c.relnamespace = 'weston_data'::regnamespace AND c.relkind IN ('r', 'p')
                 AND c.relname !~ '^(weston_|_sqlx)' AND c.relname <> 'scratch_databases')
             OR (c.relnamespace = 'weston'::regnamespace AND c.relkind = 'v' AND c.relname !~ '^weston_')
          ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(owners.len() > 8, "tables and partitions: {owners:?}");
    assert!(
        owners.iter().any(|(name, _)| name == "weston.prices_daily"),
        "the views of weston: {owners:?}"
    );
    for (table, owner) in owners {
        assert_eq!(owner, "weston_owner", "owner of {table}");
    }
    // The owner is nobody's: no login, no attribute, no member, member of nothing.
    let owner: (bool, bool, bool, bool, bool, bool, i64) = sqlx::query_as(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication,
                (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid OR m.member = r.oid)
           FROM pg_roles r WHERE rolname = 'weston_owner'",
    )
    .fetch_one(&second.pool)
    .await
    .unwrap();
    assert_eq!(owner, (false, false, false, false, false, false, 0));
    // Nor is the role that reads other sessions' activity: no login, no attribute, no member,
    // a member of pg_read_all_stats only; it owns one function, which pins its search_path.
    let activity: (bool, bool, bool, bool, bool, bool, i64, String, String) = sqlx::query_as(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication,
                (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid),
                (SELECT string_agg(g.rolname, ',') FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = r.oid),
                (SELECT string_agg(format('%s.%s(%s) %s %s', p.pronamespace::regnamespace, p.proname,
                                           pg_get_function_identity_arguments(p.oid), p.prosecdef,
                                           array_to_string(p.proconfig, ';')), ',')
                   FROM pg_proc p WHERE p.proowner = r.oid)
           FROM pg_roles r WHERE rolname = 'weston_activity'",
    )
    .fetch_one(&second.pool)
    .await
    .unwrap();
    assert_eq!(
        activity,
        (
            false,
            false,
            false,
            false,
            false,
            false,
            0,
            "pg_read_all_stats".to_string(),
            "weston_data.weston_open_writes(began_by timestamp with time zone) t search_path=pg_catalog, pg_temp"
                .to_string()
        )
    );
}

/// Migration 0030 refuses an owner role someone could become or that holds more than its
/// grants. Roles are the cluster's: each case runs in a transaction that is rolled back.
#[tokio::test]
async fn migration_0030_refuses_an_owner_with_a_member_or_an_attribute() {
    let db = TestDb::migrated("roles_owner_refused").await;
    let migration = include_str!("../../migrations/0030_market_data_owner.sql");
    let member = format!("{}_member", db.name);
    for (setup, expected) in [
        (
            format!("CREATE ROLE {member} LOGIN; GRANT weston_owner TO {member}"),
            format!("{member} is a member of weston_owner"),
        ),
        (
            "GRANT pg_read_server_files TO weston_owner".to_string(),
            "weston_owner is a member of pg_read_server_files".to_string(),
        ),
        (
            "ALTER ROLE weston_owner LOGIN".to_string(),
            "role weston_owner already exists with LOGIN".to_string(),
        ),
    ] {
        let mut tx = db.pool.begin().await.unwrap();
        sqlx::raw_sql(&format!("SET LOCAL search_path = weston, public; {setup}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        let refused = sqlx::raw_sql(migration).execute(&mut *tx).await;
        tx.rollback().await.unwrap();
        match refused {
            Err(e) => assert!(e.to_string().contains(&expected), "{setup}: {e}"),
            Ok(_) => panic!("{setup}: migration 0030 ran"),
        }
    }
    // The scratch registry (migration 0032) names roles `scratch drop` removes: a superuser
    // owns it and no group role may write it. `app_rw` and `dba` read it (migration 0039):
    // pg_dump reads every table for their snapshots before the team's migrations.
    let (super_owner, granted): (bool, Vec<String>) = sqlx::query_as(
        "SELECT r.rolsuper,
                ARRAY(SELECT g || ' ' || p FROM unnest(ARRAY['dba', 'etl_writer', 'app_rw', 'app_ro']) g,
                             unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
                       WHERE has_table_privilege(g, c.oid, p))
           FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
          WHERE c.oid = 'weston_data.scratch_databases'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(super_owner, "the scratch registry is owned by a superuser");
    assert_eq!(
        granted,
        ["dba SELECT", "app_rw SELECT"],
        "privileges on the scratch registry"
    );
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
    // A security's life: what it learns of listings, renames and delistings.
    etl.ok(
        "SELECT weston_ticker_listed('MSFT', '1986-03-13', 'mock', (SELECT max(run_id) FROM etl_run));
         SELECT weston_ticker_changed('MSFT', 'MSFU', '2001-02-01', 'mock', (SELECT max(run_id) FROM etl_run));
         SELECT weston_ticker_delisted('MSFU', '2001-03-01', 'mock', (SELECT max(run_id) FROM etl_run));",
    )
    .await;
    etl.denied("DELETE FROM ticker_history").await;
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
        month_owner, "weston_owner",
        "a month added by the loader belongs to the tables' owner"
    );
    let in_january: i64 = sqlx::query_scalar("SELECT count(*) FROM prices_daily_p2001_01")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(in_january, 1);

    for sql in [
        "DELETE FROM prices_daily",
        "DELETE FROM etl_run",
        "TRUNCATE weston_data.prices_daily",
        "TRUNCATE weston_data.securities",
        "ALTER TABLE weston_data.prices_daily ADD COLUMN x int",
        "DROP TABLE weston_data.splits",
        "CREATE TABLE weston.scratch (x int)",
        "CREATE TABLE weston_data.scratch (x int)",
        "CREATE TABLE weston_data.prices_daily_p2002_01 PARTITION OF weston_data.prices_daily FOR VALUES FROM ('2002-01-01') TO ('2002-02-01')",
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
        "TRUNCATE weston_data.prices_daily",
        "INSERT INTO etl_run (job_name) VALUES ('app')",
        "ALTER TABLE weston_data.securities ADD COLUMN x int",
        "CREATE TABLE weston.scratch (x int)",
        "CREATE TABLE weston_data.scratch (x int)",
        "CREATE INDEX ON weston_data.prices_daily (close)",
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

/// The loader stores what the audit finds (new findings; a finding seen again moves its
/// `last_run` and details) and nothing else of them: a resolution, with its trail row, is
/// only ever weston_resolve_finding's (a dba's).
#[tokio::test]
async fn etl_writer_stores_findings_but_cannot_resolve_them() {
    let db = TestDb::migrated("roles_findings").await;
    seed(&db).await;
    let etl = login(&db, "etl_writer").await;
    let mut conn = etl.pool.acquire().await.unwrap();
    weston_loader::home::pin_search_path(&mut conn)
        .await
        .unwrap();
    let begin = "SELECT weston_etl_begin('audit', NULL, NULL)";
    let first: i64 = sqlx::query_scalar(begin)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let second: i64 = sqlx::query_scalar(begin)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let finding = |close: i64| weston_loader::quality::Finding {
        rule: "stale_bars",
        symbol: "AAPL".into(),
        date: chrono::NaiveDate::from_ymd_opt(2024, 1, 3).unwrap(),
        subject: String::new(),
        details: serde_json::json!({ "close": close }),
    };
    let stored = weston_loader::findings::record(&mut conn, first, &[finding(1)])
        .await
        .expect("the loader inserts a finding");
    assert_eq!((stored.new, stored.seen_again), (1, 0));
    let again = weston_loader::findings::record(&mut conn, second, &[finding(2)])
        .await
        .expect("the loader moves a finding seen again");
    assert_eq!((again.new, again.seen_again), (0, 1));
    drop(conn);
    for sql in [
        "UPDATE quality_findings SET resolved_at = now(), resolution = 'false_positive', resolved_by = 'someone'",
        "UPDATE quality_findings SET resolution_note = 'looked fine'",
        "UPDATE quality_findings SET first_run = last_run",
        "INSERT INTO quality_findings (rule, symbol, date, details, first_run, last_run, resolved_at, resolution, resolved_by)
         VALUES ('stale_bars', 'AAPL', '2024-01-04', '{}', 1, 1, now(), 'false_positive', 'someone')",
        "DELETE FROM quality_findings",
    ] {
        etl.denied(sql).await;
    }
    let row: (i64, i64, serde_json::Value, Option<String>, i64) = sqlx::query_as(
        "SELECT first_run, last_run, details, resolved_by, (SELECT count(*) FROM quality_findings) FROM quality_findings",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (first, second, serde_json::json!({ "close": 2 }), None, 1)
    );
    etl.drop(&db).await;
}

/// Only dba records corrections; every other group is refused by PostgreSQL
/// itself (no EXECUTE), and nothing is written.
#[tokio::test]
async fn only_dba_records_corrections() {
    let db = TestDb::migrated("roles_corrections").await;
    seed(&db).await;
    sqlx::raw_sql(
        "INSERT INTO quality_findings (rule, symbol, date, subject, details, first_run, last_run)
         VALUES ('stale_bars', 'AAPL', '2024-01-02', '', '{}', 1, 1),
                ('ticker_conflict', 'AAPL', '2024-01-03', 'FFF',
                 '{\"old\": \"FFF\", \"new\": \"AAPL\", \"effective\": \"2024-01-03\", \"provider\": \"fmp\"}', 1, 1)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let calls = [
        "SELECT weston_record_split('AAPL', '2020-08-31', 4, 1, 'issuer 8-K')",
        "SELECT weston_record_dividend('AAPL', '2020-08-07', 0.82, 'USD', 'issuer press release')",
        "SELECT weston_correct_bar('AAPL', '2024-01-02', 10, 12, 9, 11, 100, 'close 100x')",
        "SELECT weston_resolve_finding(1, 'false_positive', 'a halt')",
        "SELECT weston_decide_ticker_conflict(2, false, 'AAPL is another company')",
        "SELECT weston_delete_split('AAPL', '2020-08-31', 'no such split')",
        "SELECT weston_delete_dividend('AAPL', '2020-08-07', 'phantom')",
    ];
    for group in ["etl_writer", "app_rw", "app_ro"] {
        let user = login(&db, group).await;
        for sql in calls {
            user.denied(sql).await;
        }
        user.denied("SELECT weston_check_correction('why')").await;
        user.drop(&db).await;
    }
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM weston_corrections")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(written, 0, "a refused group wrote to the trail");
    let dba = login(&db, "dba").await;
    for sql in calls {
        dba.ok(sql).await;
    }
    dba.drop(&db).await;
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM weston_corrections ORDER BY correction_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            "record_split",
            "record_dividend",
            "correct_bar",
            "resolve_finding",
            "decide_ticker_conflict",
            "delete_split",
            "delete_dividend"
        ]
    );
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
    // A security's life: its tables and its reading functions.
    ro.ok("SELECT * FROM security_identity, ticker_history")
        .await;
    ro.ok("SELECT weston_ticker_pieces(ARRAY['AAPL'], NULL)")
        .await;
    ro.ok("SELECT * FROM weston_universe()").await;
    ro.ok("SELECT * FROM weston_symbol_history('AAPL')").await;
    ro.ok("SELECT weston_resolve_symbol('AAPL', '2020-01-02')")
        .await;
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
        "TRUNCATE weston_data.splits",
        "SELECT * FROM app.notes",
        "INSERT INTO app.notes VALUES ('x')",
        "CREATE TABLE app.mine (x int)",
        "CREATE TABLE weston.mine (x int)",
        "CREATE TABLE weston_data.mine (x int)",
        "SELECT weston_ensure_partitions('2001-01-01', '2001-02-01')",
        "SELECT weston_ticker_listed('AAPL', '1980-12-12', 'mock', 1)",
        "SELECT weston_ticker_delisted('AAPL', '2020-01-02', 'mock', 1)",
        "INSERT INTO ticker_history (security_id, symbol, valid_from, provider, run_id) VALUES (1, 'AAPL', '1980-12-12', 'mock', 1)",
        "UPDATE ticker_history SET valid_to = NULL",
        "ALTER TABLE weston_data.prices_daily DETACH PARTITION prices_daily_default",
        "ALTER ROLE CURRENT_USER SUPERUSER",
    ] {
        ro.denied(sql).await;
    }
    ro.drop(&db).await;
    writer.drop(&db).await;
}

/// The dba keeps the data and the configuration without owning the tables: months through
/// weston_ensure_partitions, rotation's settings, the audit's thresholds, the identity
/// tables by hand; the tables' structure, and code on them, are the migrations' (a superuser's).
#[tokio::test]
async fn dba_maintains_the_data_without_owning_the_tables() {
    let db = TestDb::migrated("roles_dba").await;
    seed(&db).await;
    let dba = login(&db, "dba").await;
    dba.ok("SELECT weston_ensure_partitions('1999-01-01', '1999-03-01')")
        .await;
    dba.ok("UPDATE weston_partition_config SET premake_months = 4")
        .await;
    dba.ok("UPDATE quality_thresholds SET note = note || '.' WHERE rule = 'stale_bars'")
        .await;
    dba.ok("SELECT weston_ticker_listed('AAPL', '1980-12-12', 'mock', (SELECT max(run_id) FROM etl_run))")
        .await;
    dba.ok("SELECT weston_etl_reap()").await;
    dba.ok("SELECT * FROM weston_partition_health()").await;
    for sql in [
        "SELECT weston_create_partition('1999-12-01')",
        "SELECT weston_rotate_partitions()",
        "ALTER TABLE weston_data.securities ADD COLUMN isin text",
        "ALTER TABLE weston_data.prices_daily DETACH PARTITION prices_daily_default",
        "CREATE TABLE weston.dba_scratch (x int)",
        "CREATE TABLE weston_data.dba_scratch (x int)",
        "CREATE TABLE weston_data.prices_daily_p1998_01 PARTITION OF weston_data.prices_daily FOR VALUES FROM ('1998-01-01') TO ('1998-02-01')",
        "DELETE FROM prices_daily",
        "TRUNCATE weston_data.splits",
        "DROP TABLE weston_data.dividends",
        "ALTER TABLE weston_data.splits OWNER TO dba",
        "ALTER ROLE CURRENT_USER SUPERUSER",
        "GRANT weston_owner TO CURRENT_USER",
        "SET ROLE weston_owner",
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

    let with_hostile_path = |sql: &str| {
        format!("SET search_path = hostile, pg_temp, public, weston; {sql}; RESET search_path")
    };
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

    let ours = partitions_like(&db.pool, "weston_data.prices_daily", "%2003%").await;
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
            AND relnamespace <> 'weston_data'::regnamespace",
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

/// The role owning the market-data tables (migration 0030); nobody is a member of it.
const OWNER: &str = "weston_owner";

/// Every way the owner of the market-data tables can attach code to them. Only a superuser
/// can plant it now (as `weston_owner`, which no person can become); a `dba` member is
/// refused. Each vector calls `weston.plant(vector)`, which logs who ran it in
/// `weston.probe` and tries to make the owner a superuser.
fn plant_sql(attacker: &str) -> String {
    format!(
        r#"
CREATE TABLE weston.probe (vector text, ran_as text, was_superuser boolean, escalated boolean);
GRANT INSERT ON weston.probe TO PUBLIC;
CREATE FUNCTION weston.plant(vector text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE escalated boolean := true;
BEGIN
    BEGIN
        EXECUTE 'ALTER ROLE {attacker} SUPERUSER';
    EXCEPTION WHEN OTHERS THEN escalated := false;
    END;
    INSERT INTO weston.probe SELECT vector, current_user, r.rolsuper, escalated
      FROM pg_catalog.pg_roles r WHERE r.rolname = current_user;
    RETURN true;
END $$;
CREATE FUNCTION weston.plant_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM weston.plant(TG_ARGV[0]);
    RETURN coalesce(NEW, OLD);
END $$;
CREATE FUNCTION weston.plant_text(vector text, value text) RETURNS boolean IMMUTABLE LANGUAGE sql
    AS $$ SELECT weston.plant(vector) $$;
CREATE FUNCTION weston.plant_json(vector text) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT CASE WHEN weston.plant(vector) THEN '{{}}'::jsonb END $$;
CREATE FUNCTION weston.plant_time(vector text) RETURNS timestamptz LANGUAGE sql
    AS $$ SELECT CASE WHEN weston.plant(vector) THEN now() END $$;
CREATE FUNCTION weston.plant_eq(regclass, oid) RETURNS boolean LANGUAGE sql
    AS $$ SELECT weston.plant('operator =(regclass, oid) in weston') AND $1::oid OPERATOR(pg_catalog.=) $2 $$;
CREATE OPERATOR weston.= (LEFTARG = regclass, RIGHTARG = oid, FUNCTION = weston.plant_eq);

CREATE TRIGGER v_parent BEFORE INSERT OR UPDATE OR DELETE ON prices_daily
    FOR EACH ROW EXECUTE FUNCTION weston.plant_trigger('row trigger on the parent');
CREATE TRIGGER v_default BEFORE INSERT OR UPDATE OR DELETE ON prices_daily_default
    FOR EACH ROW EXECUTE FUNCTION weston.plant_trigger('row trigger on DEFAULT');
DO $plant$
DECLARE part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                 WHERE inhparent = 'prices_daily'::regclass AND inhrelid <> 'prices_daily_default'::regclass
    LOOP
        EXECUTE format('CREATE TRIGGER v_partition AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s
                        FOR EACH STATEMENT EXECUTE FUNCTION weston.plant_trigger(%L)', part, 'trigger on a month partition');
    END LOOP;
END $plant$;
ALTER TABLE prices_daily ADD CONSTRAINT v_check CHECK (weston.plant_text('CHECK constraint on the parent', symbol));
CREATE INDEX v_index ON prices_daily ((weston.plant_text('index expression on the parent', symbol)));
ALTER TABLE prices_daily ALTER COLUMN updated_at SET DEFAULT weston.plant_time('column default on prices_daily');
CREATE TRIGGER v_etl_run BEFORE INSERT OR UPDATE ON etl_run
    FOR EACH ROW EXECUTE FUNCTION weston.plant_trigger('row trigger on etl_run');
ALTER TABLE etl_run ALTER COLUMN stats SET DEFAULT weston.plant_json('column default on etl_run');
"#
    )
}

/// Rules, planted apart: PostgreSQL refuses a statement with `WITH` that a rule rewrites
/// into several (rotation's move out of DEFAULT, the reaping), so they stop those steps.
const PLANT_RULES: &str = "
CREATE RULE v_rule AS ON UPDATE TO etl_run DO ALSO SELECT weston.plant('rule on etl_run');
CREATE RULE v_rule_default AS ON DELETE TO prices_daily_default DO ALSO SELECT weston.plant('rule on DEFAULT');";

/// A migrated database with rows waiting in DEFAULT (March and April 2001, and last month,
/// whose partition is gone), a stale running ETL run, retention that retires the oldest
/// months, and every vector planted as the tables' owner by a superuser (the only one who
/// still can), the rules only when `rules`.
async fn planted_db(tag: &str, rules: bool) -> TestDb {
    let db = TestDb::migrated(tag).await;
    seed(&db).await;
    sqlx::raw_sql(
        "DO $$ BEGIN EXECUTE format('DROP TABLE prices_daily_p%s', to_char(
             date_trunc('month', (now() AT TIME ZONE 'America/New_York')::date::timestamp) - interval '1 month', 'YYYY_MM'));
         END $$;
         INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
         SELECT 'AAPL', d, 10, 11, 9, 10.5, 1000, 'mock', (SELECT max(run_id) FROM etl_run)
           FROM unnest(ARRAY['2001-03-05', '2001-04-05',
                             (date_trunc('month', (now() AT TIME ZONE 'America/New_York')::date::timestamp)
                                 - interval '1 month' + interval '2 days')::date]::date[]) d;
         INSERT INTO etl_run (job_name, status, heartbeat_at) VALUES ('stale', 'running', now() - interval '1 day');
         UPDATE weston_partition_config SET retain_months = 3, retention = 'detach';",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let rules = if rules { PLANT_RULES } else { "" };
    sqlx::raw_sql(&format!(
        "SET ROLE {OWNER}; {} {rules} RESET ROLE;",
        plant_sql(OWNER)
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    // Planting ran the CHECK and index expressions over the stored rows, as the owner.
    sqlx::raw_sql("DELETE FROM weston.probe")
        .execute(&db.pool)
        .await
        .unwrap();
    db
}

/// What the planted code did on one path: (vector, ran as, as a superuser), and whether
/// the owner became a superuser.
async fn probe(db: &TestDb) -> (Vec<(String, String, bool)>, bool) {
    let ran: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT DISTINCT vector, ran_as, was_superuser OR escalated FROM weston.probe ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = $1")
        .bind(OWNER)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    if superuser {
        sqlx::query(&format!("ALTER ROLE {OWNER} NOSUPERUSER"))
            .execute(&db.pool)
            .await
            .unwrap();
    }
    (ran, superuser)
}

/// The command pg_cron runs for `job` and the user it runs it as, as scheduled by
/// `weston-loader migrate` in the cluster's pg_cron database.
async fn scheduled(job: &str) -> (String, String) {
    let url = std::env::var("WESTON_TEST_CRON_URL")
        .unwrap_or_else(|_| admin_url().replace("/postgres", "/weston_cron"));
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    weston_loader::migrate::migrate(&pool).await.unwrap();
    let row = sqlx::query_as(
        "SELECT command, username FROM cron.job WHERE jobname = $1 AND database = current_database()",
    )
    .bind(job)
    .fetch_one(&pool)
    .await
    .unwrap_or_else(|e| panic!("pg_cron job {job}: {e}"));
    pool.close().await;
    row
}

/// `sql` in `db` as the existing role `user`, the way a job of pg_cron runs: a session of
/// that user in that database, one command, its own transaction.
async fn run_as(db: &TestDb, user: &str, sql: &str) -> Result<(), sqlx::Error> {
    let options: PgConnectOptions = admin_url().parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.database(&db.name).username(user))
        .await?;
    let result = sqlx::raw_sql(sql).execute(&pool).await.map(|_| ());
    pool.close().await;
    result
}

/// A privileged way into the market-data tables: who runs what, whether the rules are
/// planted, and which planted vectors must have run (proving the path was exercised).
struct PrivilegedPath {
    name: &'static str,
    actor: String,
    command: String,
    rules: bool,
    must_run: &'static [&'static str],
}

/// Code sits on the market-data tables (planted as their owner), then
/// privileged code ran over them: every SECURITY DEFINER function (called by each role
/// allowed to), the nightly pg_cron jobs (their scheduled command, as their scheduled
/// user), and the caller's-rights functions called by a superuser (a loader run as
/// `postgres`). Planted code must run as the table's owner (or the calling login) at most,
/// never as a superuser; and no group role, `dba` included, can plant anything (the owner is
/// `weston_owner`, whom nobody can become). Prints the matrix (role x path x result).
#[tokio::test]
async fn no_planted_code_runs_as_a_superuser() {
    let definers: Vec<String> = sqlx::query_scalar(
        "SELECT p.oid::regprocedure::text FROM pg_proc p
           JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
          WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_weston') AND p.prosecdef
          ORDER BY 1",
    )
    .fetch_all(&TestDb::migrated("roles_definers").await.pool)
    .await
    .unwrap();
    assert_eq!(
        definers,
        ["weston_ensure_partitions(date,date,regclass)"],
        "a new SECURITY DEFINER function needs its path in this matrix"
    );
    let (rotate_command, rotate_user) = scheduled("weston_rotate_partitions").await;
    let (reap_command, reap_user) = scheduled("weston_etl_reap").await;
    let superuser_loader = "SELECT weston_create_partition('2001-04-15');
             SELECT weston_etl_progress(weston_etl_begin('loader', NULL, NULL), 1);
             SELECT weston_etl_finish(max(run_id)) FROM etl_run WHERE job_name = 'loader'";
    let ensure = "SELECT weston_ensure_partitions('2001-03-01', '2001-03-31')";
    let paths = [
        PrivilegedPath {
            name: "weston_ensure_partitions (SECURITY DEFINER) called by etl_writer",
            actor: "etl_writer".into(),
            command: ensure.into(),
            rules: false,
            must_run: &["row trigger on DEFAULT", "row trigger on the parent", "CHECK constraint on the parent"],
        },
        PrivilegedPath {
            name: "weston_ensure_partitions (SECURITY DEFINER) called by dba",
            actor: "dba".into(),
            command: ensure.into(),
            rules: false,
            must_run: &["row trigger on DEFAULT", "row trigger on the parent", "CHECK constraint on the parent"],
        },
        PrivilegedPath {
            name: "pg_cron nightly rotation, creating and retiring",
            actor: rotate_user.clone(),
            command: rotate_command.clone(),
            rules: false,
            must_run: &["row trigger on DEFAULT", "row trigger on the parent", "CHECK constraint on the parent", "row trigger on etl_run"],
        },
        PrivilegedPath {
            name: "pg_cron nightly ETL reaping",
            actor: reap_user,
            command: reap_command,
            rules: false,
            must_run: &["row trigger on etl_run"],
        },
        PrivilegedPath {
            name: "superuser calls weston_create_partition and weston_etl_* (a loader run as postgres)",
            actor: "postgres".into(),
            command: superuser_loader.into(),
            rules: false,
            must_run: &["row trigger on DEFAULT", "CHECK constraint on the parent", "row trigger on etl_run", "column default on etl_run"],
        },
        PrivilegedPath {
            name: "superuser calls weston_create_partition and weston_etl_*, rules planted",
            actor: "postgres".into(),
            command: "SELECT weston_etl_progress(weston_etl_begin('loader', NULL, NULL), 1)".into(),
            rules: true,
            must_run: &["rule on etl_run"],
        },
        PrivilegedPath {
            name: "pg_cron nightly rotation, rules planted",
            actor: rotate_user,
            command: rotate_command,
            rules: true,
            must_run: &[],
        },
        // The corrections run with the caller's rights (and refuse a superuser).
        PrivilegedPath {
            name: "weston_correct_bar (caller's rights) called by dba",
            actor: "dba".into(),
            command: "SELECT weston_correct_bar('AAPL', (now() AT TIME ZONE 'America/New_York')::date,
                             10, 12, 9, 11, 100, 'planted-code path')"
                .into(),
            rules: false,
            must_run: &["row trigger on the parent", "CHECK constraint on the parent"],
        },
    ];
    let mut matrix = Vec::new();
    for (i, step) in paths.iter().enumerate() {
        let (path, actor, command, expected) =
            (step.name, &step.actor, &step.command, step.must_run);
        let db = planted_db(&format!("roles_plant_{i}"), step.rules).await;
        let outcome = match actor.as_str() {
            "dba" | "etl_writer" => {
                let caller = login(&db, actor).await;
                let result = sqlx::raw_sql(command).execute(&caller.pool).await;
                caller.drop(&db).await;
                result.map(|_| ())
            }
            user => run_as(&db, user, command).await,
        };
        let (ran, escalated) = probe(&db).await;
        let reached: Vec<&str> = ran.iter().map(|(v, _, _)| v.as_str()).collect();
        for (vector, ran_as, as_superuser) in &ran {
            matrix.push(format!(
                "owner's code | {path} | {vector}: ran as {ran_as}{}",
                if *as_superuser { " — SUPERUSER" } else { "" }
            ));
        }
        matrix.push(format!(
            "owner's code | {path} | call {}; owner superuser afterwards: {escalated}",
            match &outcome {
                Ok(()) => "succeeded".to_string(),
                Err(e) => format!("failed: {e}"),
            }
        ));
        for vector in expected.iter() {
            assert!(
                reached.contains(vector),
                "{path}: the planted {vector} did not run, so this path was not exercised: {ran:?} {outcome:?}"
            );
        }
        assert!(
            ran.iter().all(|(_, _, as_superuser)| !as_superuser) && !escalated,
            "{path}: planted code ran as a superuser: {ran:?}"
        );
        outcome.unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    // No group role can attach code to the market-data tables at all, dba included (0030).
    let db = TestDb::migrated("roles_plant_denied").await;
    for group in GROUPS {
        let user = login(&db, group).await;
        for sql in [
            "CREATE TRIGGER t BEFORE DELETE ON weston_data.prices_daily_default FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()",
            "CREATE TRIGGER t BEFORE UPDATE ON weston_data.etl_run FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()",
            "CREATE RULE r AS ON UPDATE TO weston_data.etl_run DO ALSO NOTIFY x",
            "ALTER TABLE weston_data.etl_run ALTER COLUMN stats SET DEFAULT '{}'",
            "ALTER TABLE weston_data.prices_daily ADD CONSTRAINT c CHECK (true)",
            "CREATE INDEX ON weston_data.prices_daily_default (close)",
            "CREATE FUNCTION weston.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "CREATE OPERATOR weston.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)",
            "CREATE TRIGGER t AFTER INSERT ON weston_data.splits FOR EACH STATEMENT EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()",
            "CREATE OR REPLACE FUNCTION weston.price_last_dates_truncated() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'",
            "ALTER TABLE weston_data.quality_findings ALTER COLUMN resolved_by SET DEFAULT 'someone'",
            // Nor to weston's views over them, nor redefine one (weston_owner's, 0034).
            "CREATE TRIGGER t INSTEAD OF UPDATE ON weston.etl_run FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()",
            "CREATE RULE r AS ON UPDATE TO weston.etl_run DO ALSO NOTIFY x",
            "ALTER VIEW weston.prices_daily ALTER COLUMN updated_at SET DEFAULT now()",
            "CREATE OR REPLACE VIEW weston.splits AS SELECT * FROM weston_data.splits",
        ] {
            user.denied(sql).await;
        }
        matrix.push(format!("{group} member | any path | cannot plant: trigger, rule, default, CHECK, index, function or operator all refused (42501)"));
        user.drop(&db).await;
    }
    eprintln!("role x path x result:\n{}", matrix.join("\n"));
}

/// A mistyped range must not make centuries of months: one weston_ensure_partitions call
/// creates at most the table's `max_partitions_per_call` months (120 unless a dba sets it);
/// the loader cannot raise it.
#[tokio::test]
async fn partition_creation_per_call_is_bounded_by_what_a_dba_configures() {
    let db = TestDb::migrated("roles_bounded").await;
    let count = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'prices_daily'::regclass",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let before = count().await;
    let etl = login(&db, "etl_writer").await;
    etl.error_contains(
        "SELECT weston_ensure_partitions('1900-01-01', '2100-12-31')",
        "more than its limit of 120 per call (weston_partition_config.max_partitions_per_call); \
         ask for a narrower range, or a dba raises the limit: UPDATE weston_partition_config \
         SET max_partitions_per_call = ",
    )
    .await;
    assert_eq!(count().await, before, "nothing was created");
    etl.denied("UPDATE weston_partition_config SET max_partitions_per_call = 5000")
        .await;

    let dba = login(&db, "dba").await;
    dba.ok("UPDATE weston_partition_config SET max_partitions_per_call = 2 WHERE parent = 'weston_data.prices_daily'::regclass")
        .await;
    etl.error_contains(
        "SELECT weston_ensure_partitions('1990-01-01', '1990-03-31')",
        "would create 3 partitions of weston_data.prices_daily, more than its limit of 2 per call",
    )
    .await;
    // Months that exist already do not count.
    etl.ok("SELECT weston_ensure_partitions('1990-02-01', '1990-03-31')")
        .await;
    etl.ok("SELECT weston_ensure_partitions('1990-01-01', '1990-03-31')")
        .await;
    assert_eq!(count().await, before + 3);
    dba.error_contains(
        "UPDATE weston_partition_config SET max_partitions_per_call = 0",
        "weston_partition_config_max_partitions_positive",
    )
    .await;
    etl.drop(&db).await;
    dba.drop(&db).await;
}
