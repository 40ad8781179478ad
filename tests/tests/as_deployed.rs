//! The loader as it is deployed (deploy/compose.yaml): `run`, `status` and `audit` as a LOGIN
//! role that is a member of `etl_writer` only, the harness's default (`loader_command`). Two
//! nights, planted errors for the audit to record and to see again, metadata asked again,
//! then `status` in both forms and `audit`; and a database migrated before the history was
//! readable by the deployed roles gets that at its next `migrate`.

use weston_tests::{
    loader_command, loader_command_as, migrate_through, output_text, run_loader,
    superuser_loader_command, TestDb, ANALYST, BACKEND, DBA, EXPORTER, LOADER,
};

/// A window of the mock market that holds planted errors (`providers::mock::planted`).
const FROM: &str = "2021-02-01";
const TO: &str = "2021-04-30";

/// The symbols of the plants in the window, and two clean ones.
fn symbols() -> String {
    let mut symbols: Vec<String> = weston_loader::providers::mock::planted::plants()
        .into_iter()
        .filter(|p| (FROM..=TO).contains(&p.finding_date.to_string().as_str()))
        .map(|p| p.symbol)
        .chain(["MOCK0001".to_string(), "MOCK0002".to_string()])
        .collect();
    symbols.sort();
    symbols.dedup();
    symbols.join(",")
}

/// `run` of the mock market over the window for `symbols`, as the loader's login.
fn night(db: &TestDb, symbols: &str) -> String {
    loader_ok(
        db,
        &[
            "run",
            "--provider",
            "mock",
            "--from",
            FROM,
            "--to",
            TO,
            "--symbols",
            symbols,
        ],
    )
}

fn loader_ok(db: &TestDb, args: &[&str]) -> String {
    let env = [
        (weston_loader::cli::MOCK_PLANTED_ENV, "true"),
        (weston_loader::cli::METADATA_REFRESH_ENV, "1"),
    ];
    let out = run_loader(db, args, &env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?} as {}: {}",
        LOADER.role,
        output_text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_job_status_and_audit_run_as_an_etl_writer_login() {
    let db = TestDb::migrated("as_deployed").await;
    // The login is what production has: no superuser, no owner, etl_writer only.
    let (superuser, groups): (bool, String) = sqlx::query_as(
        "SELECT r.rolsuper, string_agg(g.rolname, ',' ORDER BY g.rolname)
           FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid
          WHERE r.rolname = $1 GROUP BY r.rolsuper",
    )
    .bind(LOADER.role)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((superuser, groups.as_str()), (false, "etl_writer"));
    assert!(db
        .loader_url()
        .starts_with(&format!("postgres://{}@", LOADER.role)));

    let symbols = symbols();
    assert!(
        symbols.split(',').count() > 2,
        "plants in the window: {symbols}"
    );
    let first = night(&db, &symbols);
    assert!(first.contains("run 1 succeeded"), "{first}");
    // The same nights again: every row an update, findings seen again.
    let second = night(&db, &symbols);
    assert!(second.contains("run 2 succeeded"), "{second}");
    let status = loader_ok(&db, &["status"]);
    assert!(status.contains("succeeded"), "{status}");
    let json: serde_json::Value = serde_json::from_str(&loader_ok(&db, &["status", "--json"]))
        .expect("status --json is JSON");
    assert_eq!(json["recent_runs"][0]["status"], "succeeded", "{json}");
    let audit = loader_ok(&db, &["audit", "--from", FROM, "--to", TO]);
    assert!(audit.contains("findings"), "{audit}");
    // Whoever else runs `status`: an analyst, the exporter's login, the backend, a DBA.
    for login in [ANALYST, EXPORTER, BACKEND, DBA] {
        let out = loader_command_as(&db.url_for(login), &["status"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "status as {}: {}",
            login.role,
            output_text(&out)
        );
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            shown.contains("recent runs") && shown.contains("succeeded"),
            "status as {}: {shown}",
            login.role
        );
    }

    let (runs, bars, findings): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM etl_run WHERE status = 'succeeded'),
                (SELECT count(*) FROM prices_daily),
                (SELECT count(*) FROM quality_findings)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(runs, 3, "two nights and the audit");
    assert!(bars > 300, "{bars} bars stored");
    assert!(findings > 0, "the planted errors were recorded");
}

#[tokio::test]
async fn a_database_migrated_before_gets_the_loaders_read_of_its_history_at_the_next_migrate() {
    let db = TestDb::empty("as_deployed_before").await;
    // The database as a loader without migration 31 left it.
    migrate_through(&db, 30).await;
    db.ensure_logins().await;

    // The defect as it was: the deployed loader could not even read which migrations it has.
    let out = loader_command(&db, &["status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("permission denied for table _sqlx_migrations"),
        "{}",
        output_text(&out)
    );

    // The superuser's migrate (the named exception) applies 31 ...
    let out = superuser_loader_command(&db, &["migrate", "--no-snapshot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("applied [31"),
        "{}",
        output_text(&out)
    );
    // ... and the loader works.
    night(&db, "MOCK0001");
    loader_ok(&db, &["status"]);
}
