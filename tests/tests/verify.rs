//! `weston-loader verify --against URL`: identical copies match; a changed row, a missing
//! partition, a different configuration value and a dropped cron job are each reported
//! (exit 1, the difference named); bad usage exits 2.

use sqlx::postgres::PgPoolOptions;
use weston_tests::{clone_database, loader_bin, output_text, seed_small_market, TestDb};

fn verify(this_url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(loader_bin())
        .arg("verify")
        .args(args)
        .env("DATABASE_URL", this_url)
        .env_remove("WESTON_VERIFY_AGAINST")
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run weston-loader verify")
}

async fn execute(url: &str, sql: &str) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    sqlx::raw_sql(sql)
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pool.close().await;
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn verify_reports_each_difference_by_name() {
    let original = TestDb::migrated("verify").await;
    seed_small_market(&original.pool).await;
    original.pool.close().await;
    let copy = |n: u32| {
        let name = format!("{}_copy{n}", original.name);
        let from = original.name.clone();
        async move { clone_database(&from, &name).await }
    };
    let (same, changed_row, missing_partition, other_config, no_cron) = (
        copy(1).await,
        copy(2).await,
        copy(3).await,
        copy(4).await,
        copy(5).await,
    );

    let out = verify(&original.url, &["--against", &same]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        stdout(&out).contains("matches the other database"),
        "{}",
        output_text(&out)
    );

    // A changed row: the table's checksum and the symbol's adjusted prices say so.
    execute(&changed_row, "UPDATE prices_daily SET close = close + 0.01, high = high + 0.01 WHERE symbol = 'S3' AND date = '2024-02-06'").await;
    let out = verify(&original.url, &["--against", &changed_row]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("table ") && l.contains("prices_daily_p2024_02: checksum is")),
        "{text}"
    );
    assert!(
        text.contains("adjusted prices of S3: split-adjusted is"),
        "{text}"
    );
    assert!(
        !text.contains("prices_daily_p2024_01"),
        "only the changed month differs: {text}"
    );

    // A missing partition (an empty month, so no row count hides it).
    execute(
        &missing_partition,
        "SELECT weston_ensure_partitions('2030-01-01', '2030-01-31')",
    )
    .await;
    let out = verify(&missing_partition, &["--against", &original.url]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.starts_with("  partition ")
            && l.contains("prices_daily_p2030_01: only in this database")),
        "{text}"
    );

    // A different configuration value.
    execute(
        &other_config,
        "UPDATE weston_partition_config SET retain_months = 120",
    )
    .await;
    let out = verify(&original.url, &["--against", &other_config]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("  config ")
                && l.ends_with("retain_months is NULL here, 120 there")),
        "{}",
        output_text(&out)
    );

    // A dropped cron job: pg_cron keeps every database's jobs in its own database; the
    // original has a job there, the copy none.
    let cron_url = std::env::var("WESTON_TEST_CRON_URL")
        .unwrap_or_else(|_| weston_tests::admin_url().replace("/postgres", "/weston_cron"));
    let cron = PgPoolOptions::new()
        .max_connections(1)
        .connect(&cron_url)
        .await
        .unwrap();
    weston_loader::migrate::migrate(&cron).await.unwrap();
    let job = format!("verify_test_{}", original.name);
    sqlx::query("SELECT cron.schedule_in_database($1, '15 6 * * *', 'SELECT 1', $2)")
        .bind(&job)
        .bind(&original.name)
        .execute(&cron)
        .await
        .unwrap();
    let out = verify(&original.url, &["--against", &no_cron]);
    sqlx::query("SELECT cron.unschedule($1)")
        .bind(&job)
        .execute(&cron)
        .await
        .unwrap();
    cron.close().await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        stdout(&out).contains(&format!("cron job {job}: only in this database")),
        "{}",
        output_text(&out)
    );

    // A fingerprint saved earlier stands for the database as it was.
    let saved = std::env::temp_dir().join(format!("{}.fingerprint.json", original.name));
    let out = verify(&same, &["--save", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let out = verify(&other_config, &["--against-saved", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        stdout(&out).contains("retain_months is 120 here, NULL there"),
        "{}",
        output_text(&out)
    );
    let _ = std::fs::remove_file(saved);
}

#[tokio::test]
async fn verify_without_another_database_is_bad_usage() {
    let db = TestDb::empty("verify_usage").await;
    let out = verify(&db.url, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let out = verify(
        &db.url,
        &["--against-saved", "/nonexistent/fingerprint.json"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/fingerprint.json"));
}

/// A port that accepts connections and never answers, as `--against`: verify gives up
/// after WESTON_DB_CONNECT_TIMEOUT_SECS, naming the other database (it once waited for
/// ever: the timeout covered the main connection only).
#[tokio::test]
async fn verify_against_a_silent_port_gives_up_after_the_timeout() {
    let db = TestDb::migrated("verify_silent").await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts, holds every connection open, says nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let mut child = std::process::Command::new(loader_bin())
        .args([
            "verify",
            "--against",
            &format!("postgres://postgres@127.0.0.1:{port}/silent"),
        ])
        .env("DATABASE_URL", &db.url)
        .env("WESTON_DB_CONNECT_TIMEOUT_SECS", "2")
        .env_remove("WESTON_VERIFY_AGAINST")
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Not a speed target: a guard far above the 2 s asked for.
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("verify still waits for a silent --against after 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot connect to the other database (--against) (database silent on 127.0.0.1:{port}): no answer within 2s (WESTON_DB_CONNECT_TIMEOUT_SECS)"
        )),
        "{}",
        output_text(&out)
    );
}
