//! `weston-loader scratch create|list|drop`: isolation both ways. The scratch owner reads
//! the shared market data (and adjusted prices) and cannot write it, through the foreign
//! tables or directly; their own tables are theirs and nobody else's; dropping it leaves the
//! shared data as it was; `drop` refuses any database `create` did not make.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use weston_loader::verify::diff::diff;
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
