//! `weston-loader scratch create|list|drop`: isolation both ways. The scratch owner reads
//! the shared market data (and adjusted prices) and cannot write it, through the foreign
//! tables or directly; their own tables are theirs and nobody else's; dropping it leaves the
//! shared data as it was; `drop` refuses any database `create` did not make.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use weston_loader::verify::diff::diff;
use weston_tests::planted::{plant_what_a_dba_can, plants, read_adjusted};
use weston_tests::{
    data_fingerprint, output_text, seed_small_market, superuser_loader_command, TestDb,
};

async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new().max_connections(1).connect(url).await
}

fn as_role(url: &str, role: &str) -> String {
    let options: PgConnectOptions = url.parse().unwrap();
    options.username(role).to_url_lossy().to_string()
}

async fn refused(pool: &PgPool, sql: &str) -> String {
    match sqlx::raw_sql(sql).execute(pool).await {
        Ok(_) => panic!("{sql} was allowed"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_scratch_database_reads_the_shared_data_and_writes_only_its_own() {
    let shared = TestDb::migrated("scratch_shared").await;
    seed_small_market(&shared.pool).await;
    let suffix = shared.name.trim_start_matches("t_");
    let developer = format!("dev_{suffix}");
    let outsider = format!("outsider_{suffix}");
    sqlx::raw_sql(&format!(
        "CREATE ROLE {developer} LOGIN IN ROLE app_ro; CREATE ROLE {outsider} LOGIN IN ROLE dba;"
    ))
    .execute(&shared.pool)
    .await
    .unwrap();
    let before = data_fingerprint(&shared.url).await;

    let out = superuser_loader_command(
        &shared,
        &["scratch", "create", suffix, "--owner", &developer],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let url = stdout.lines().last().unwrap().to_string();
    let scratch_name = format!("weston_scratch_{suffix}");
    assert!(
        url.starts_with(&format!("postgres://{developer}@"))
            && url.contains(&format!("/{scratch_name}")),
        "{stdout}"
    );

    // The owner reads the shared market data, adjusted prices included, as in the shared database.
    let mine = connect(&url)
        .await
        .expect("the owner connects to the scratch database");
    let adjusted = "SELECT count(*)::bigint, md5(string_agg(t::text, ',' ORDER BY t.date))
                      FROM weston_adjusted_prices('S1', '2024-01-01', '2024-03-31') t";
    let here: (i64, String) = sqlx::query_as(adjusted).fetch_one(&mine).await.unwrap();
    let there: (i64, String) = sqlx::query_as(adjusted)
        .fetch_one(&shared.pool)
        .await
        .unwrap();
    assert_eq!(here, there);
    assert!(here.0 > 50, "{here:?}");
    let factor: String = sqlx::query_scalar(
        "SELECT price_factor::text FROM weston_adjusted_prices('S1', '2024-02-01', '2024-02-01')",
    )
    .fetch_one(&mine)
    .await
    .unwrap();
    assert_eq!(
        factor, "0.25",
        "the 4-for-1 split adjusts in the scratch database"
    );

    // ... and cannot write it, through the foreign tables or in the shared database.
    for sql in [
        "INSERT INTO securities (symbol) VALUES ('NEW')",
        "UPDATE prices_daily SET close = 1 WHERE symbol = 'S1'",
        "DELETE FROM splits",
        "TRUNCATE dividends",
    ] {
        let e = refused(&mine, sql).await;
        assert!(e.contains("permission denied"), "{sql}: {e}");
    }
    let direct = connect(&as_role(&shared.url, &developer)).await.unwrap();
    for sql in [
        "INSERT INTO securities (symbol) VALUES ('NEW')",
        "UPDATE prices_daily SET close = 1",
        "DELETE FROM splits",
    ] {
        let e = refused(&direct, sql).await;
        assert!(e.contains("permission denied"), "{sql}: {e}");
    }
    direct.close().await;
    // Their own tables are theirs.
    sqlx::raw_sql("CREATE TABLE my_signals (symbol text, score numeric); INSERT INTO my_signals VALUES ('S1', 1.5)")
        .execute(&mine)
        .await
        .expect("the owner creates their own tables");
    mine.close().await;

    // Nobody else gets in: not a dba member, nor the reader role of the user mapping.
    let scratch_as = |role: &str| as_role(&url, role);
    for role in [outsider.clone(), format!("{scratch_name}_reader")] {
        let e = connect(&scratch_as(&role))
            .await
            .err()
            .unwrap_or_else(|| panic!("{role} connected"));
        assert!(
            e.to_string().contains("permission denied for database"),
            "{role}: {e}"
        );
    }

    let list = superuser_loader_command(&shared, &["scratch", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        listed.lines().any(|l| l.starts_with(&scratch_name)
            && l.contains(&developer)
            && l.contains(&shared.name)),
        "{}",
        output_text(&list)
    );
    assert!(!listed.to_lowercase().contains("password"), "{listed}");

    // drop refuses anything but a scratch database.
    for other in [shared.name.as_str(), "postgres", "weston_scratch_none_such"] {
        let out = superuser_loader_command(&shared, &["scratch", "drop", other])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "drop {other}: {}",
            output_text(&out)
        );
    }
    let out = superuser_loader_command(&shared, &["scratch", "drop", &scratch_name])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let gone: bool = sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)
            AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1 || '_reader')",
    )
    .bind(&scratch_name)
    .fetch_one(&shared.pool)
    .await
    .unwrap();
    assert!(gone);
    assert_eq!(
        diff(&before, &data_fingerprint(&shared.url).await),
        vec![],
        "dropping the scratch database changed the shared data"
    );
    sqlx::raw_sql(&format!("DROP ROLE {developer}; DROP ROLE {outsider};"))
        .execute(&shared.pool)
        .await
        .unwrap();
}

/// A LOGIN role named `name`, connected to `database`: a test's way of being a team member.
async fn login_to(database_url: &str, name: &str) -> PgPool {
    connect(&as_role(database_url, name))
        .await
        .unwrap_or_else(|e| panic!("{name} connects: {e}"))
}

/// `scratch create NAME --owner OWNER` run by the superuser of `shared` (scratch's role);
/// the owner's URL it printed.
fn scratch_create(shared: &TestDb, name: &str, owner: &str) -> String {
    let out = superuser_loader_command(shared, &["scratch", "create", name, "--owner", owner])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string()
}

/// A `dba` login replaces migration 0016's `ticker_pieces` (or re-creates it, once gone)
/// and plants look-alikes of the extension's `weston_ticker_pieces` where it can create
/// functions; then a superuser runs `scratch create`, and adjusted prices are read in the
/// scratch database (by its owner, and by a superuser: the named exception) and in the
/// shared one (by an `app_ro` login and a superuser). None of the planted code runs, and
/// the attacker stays a non-superuser.
#[tokio::test]
async fn scratch_create_and_adjusted_reads_run_nothing_a_dba_planted() {
    let shared = TestDb::migrated("scratch_planted").await;
    seed_small_market(&shared.pool).await;
    let suffix = shared.name.trim_start_matches("t_");
    let developer = format!("dev_{suffix}");
    let analyst = format!("ro_{suffix}");
    let attacker = format!("mallory_{suffix}");
    sqlx::raw_sql(&format!(
        "CREATE ROLE {developer} LOGIN IN ROLE app_ro;
         CREATE ROLE {analyst} LOGIN IN ROLE app_ro;
         CREATE ROLE {attacker} LOGIN IN ROLE dba;
         GRANT CREATE ON SCHEMA public TO dba;"
    ))
    .execute(&shared.pool)
    .await
    .unwrap();
    let mallory = login_to(&shared.url, &attacker).await;
    let refused = plant_what_a_dba_can(&mallory, &attacker).await;
    assert!(
        refused.len() < plants(&attacker).len(),
        "the look-alikes in public were planted: {refused:?}"
    );
    mallory.close().await;

    let url = scratch_create(&shared, suffix, &developer);
    let scratch_name = format!("weston_scratch_{suffix}");

    let superuser_in_scratch = connect(&url.replace(&format!("{developer}@"), "postgres@"))
        .await
        .unwrap();
    let expected = read_adjusted(&shared.pool, "a superuser in the shared database").await;
    let mut ran = Vec::new();
    for (who, pool) in [
        ("the scratch owner", connect(&url).await.unwrap()),
        ("a superuser in the scratch database", superuser_in_scratch),
        (
            "an app_ro login in the shared database",
            login_to(&shared.url, &analyst).await,
        ),
        (
            "a superuser in the shared database",
            connect(&shared.url).await.unwrap(),
        ),
    ] {
        let (rows, planted) = read_adjusted(&pool, who).await;
        assert_eq!(
            rows, expected.0,
            "{who}: the same bars as the shared database"
        );
        if let Some(planted) = planted {
            ran.push(format!("{who}: {planted}"));
        }
        pool.close().await;
    }
    let escalated: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = $1")
        .bind(&attacker)
        .fetch_one(&shared.pool)
        .await
        .unwrap();
    // The scratch database holds no function of that name but the extension's.
    let scratch_admin = connect(&url.replace(&format!("{developer}@"), "postgres@"))
        .await
        .unwrap();
    let strays: Vec<String> = sqlx::query_scalar(
        "SELECT p.oid::regprocedure::text FROM pg_proc p
          WHERE p.proname LIKE '%ticker_pieces'
            AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')",
    )
    .fetch_all(&scratch_admin)
    .await
    .unwrap();
    scratch_admin.close().await;

    let out = superuser_loader_command(&shared, &["scratch", "drop", &scratch_name])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    sqlx::raw_sql(&format!(
        "ALTER ROLE {attacker} NOSUPERUSER;
         DROP OWNED BY {attacker}; DROP ROLE {attacker};
         DROP ROLE {developer}; DROP ROLE {analyst};"
    ))
    .execute(&shared.pool)
    .await
    .unwrap();
    assert!(ran.is_empty(), "planted code ran: {ran:#?}");
    assert!(!escalated, "the dba login became a superuser");
    assert!(
        strays.is_empty(),
        "functions not of the extension in the scratch database: {strays:?}"
    );
}

/// The scratch owner rewrites her database's comment to name another role (a superuser
/// login) as its reader; `scratch drop` drops her real reader role and leaves that one.
/// Nobody but a superuser can add to the registry, a database it does not name is never
/// dropped, and a superuser role it names is refused.
#[tokio::test]
async fn scratch_drop_trusts_only_the_registry_and_never_drops_a_superuser() {
    let shared = TestDb::migrated("scratch_registry").await;
    seed_small_market(&shared.pool).await;
    let suffix = shared.name.trim_start_matches("t_");
    let developer = format!("dev_{suffix}");
    let admin = format!("admin_{suffix}");
    let dba = format!("dba_{suffix}");
    sqlx::raw_sql(&format!(
        "CREATE ROLE {developer} LOGIN IN ROLE app_ro;
         CREATE ROLE {admin} LOGIN SUPERUSER;
         CREATE ROLE {dba} LOGIN IN ROLE dba;"
    ))
    .execute(&shared.pool)
    .await
    .unwrap();
    let url = scratch_create(&shared, suffix, &developer);
    let scratch_name = format!("weston_scratch_{suffix}");
    let reader = format!("{scratch_name}_reader");

    // The owner names the superuser in her database's comment, as the old marker did.
    let mine = connect(&url).await.unwrap();
    sqlx::raw_sql(&format!(
        r#"COMMENT ON DATABASE {scratch_name} IS '{{"weston_scratch_of":"{}","created":"2026-01-01T00:00:00Z","reader":"{admin}"}}'"#,
        shared.name
    ))
    .execute(&mine)
    .await
    .expect("the owner may comment on her database");
    mine.close().await;

    let out = superuser_loader_command(&shared, &["scratch", "drop", &scratch_name])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE rolname IN ($1, $2) ORDER BY 1",
    )
    .bind(&admin)
    .bind(&reader)
    .fetch_all(&shared.pool)
    .await
    .unwrap();
    assert_eq!(
        roles,
        std::slice::from_ref(&admin),
        "the superuser the comment named stays; the registered reader is gone"
    );

    // Neither she nor a dba login can write the registry.
    for role in [&developer, &dba] {
        let pool = connect(&as_role(&shared.url, role)).await.unwrap();
        for sql in [
            format!(
                "INSERT INTO weston_data.scratch_databases (database, owner_role, reader_role)
                 VALUES ('weston_scratch_x_{suffix}', '{role}', 'weston_scratch_x_{suffix}_reader')"
            ),
            format!("UPDATE weston_data.scratch_databases SET owner_role = '{role}'"),
            "DELETE FROM weston_data.scratch_databases".to_string(),
        ] {
            let e = refused(&pool, &sql).await;
            assert!(e.contains("permission denied"), "{role}: {sql}: {e}");
        }
        pool.close().await;
    }

    // A database made by hand, with a scratch name and a forged marker, is not dropped.
    let forged = format!("weston_scratch_forged_{suffix}");
    for sql in [
        format!("CREATE DATABASE {forged} OWNER {developer}"),
        format!(
            r#"COMMENT ON DATABASE {forged} IS '{{"weston_scratch_of":"{}","created":"2026-01-01T00:00:00Z","reader":"{admin}"}}'"#,
            shared.name
        ),
    ] {
        sqlx::raw_sql(&sql).execute(&shared.pool).await.unwrap();
    }
    let out = superuser_loader_command(&shared, &["scratch", "drop", &forged])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("not in the scratch registry"),
        "{}",
        output_text(&out)
    );
    let list = superuser_loader_command(&shared, &["scratch", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(!listed.contains(&forged), "{listed}");

    // A registry row whose reader role is a superuser (say a superuser made one of that
    // name): drop refuses, and drops neither the role nor the database.
    let odd = format!("weston_scratch_odd_{suffix}");
    for sql in [
        format!("CREATE ROLE {odd}_reader LOGIN SUPERUSER"),
        format!("CREATE DATABASE {odd} OWNER {developer}"),
        format!(
            "INSERT INTO weston_data.scratch_databases (database, owner_role, reader_role)
             VALUES ('{odd}', '{developer}', '{odd}_reader')"
        ),
    ] {
        sqlx::raw_sql(&sql).execute(&shared.pool).await.unwrap();
    }
    let out = superuser_loader_command(&shared, &["scratch", "drop", &odd])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let kept: (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1 || '_reader'),
                EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
    )
    .bind(&odd)
    .fetch_one(&shared.pool)
    .await
    .unwrap();
    assert_eq!(kept, (true, true), "{}", output_text(&out));

    for sql in [
        format!("DROP DATABASE {forged}"),
        format!("DROP DATABASE {odd}"),
        format!(
            "DROP ROLE {odd}_reader;
             DELETE FROM weston_data.scratch_databases WHERE database = '{odd}';
             DROP ROLE {developer}; DROP ROLE {admin}; DROP ROLE {dba};"
        ),
    ] {
        sqlx::raw_sql(&sql).execute(&shared.pool).await.unwrap();
    }
}
