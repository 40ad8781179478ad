//! deploy/monitoring: every query of the postgres_exporter queries file runs on a migrated
//! cluster with the columns it declares and the values the data implies; the real
//! postgres_exporter serves them; the alert rules pass promtool and refer only to metrics
//! that something exports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use sqlx::{Column, Row};
use weston_tests::{
    monitoring_dir, monitoring_exported_metrics as exported_metric_names,
    monitoring_queries as queries, MonitoringQuery as Query, TestDb, EXPORTER,
};

/// `(query name, column, usage)` in file order.
fn columns(query: &Query) -> Vec<(String, String)> {
    query
        .metrics
        .iter()
        .flat_map(|m| m.iter().map(|(c, m)| (c.clone(), m.usage.clone())))
        .collect()
}

/// Two securities in the universe (one without bars, one whose last bar is 3 New York days
/// old), a bar waiting in DEFAULT, next month's partition missing, a failed ETL run and a
/// partial rotation: written by the superuser (no role could break all of that).
async fn stale_and_broken(db: &TestDb) {
    sqlx::raw_sql(
        "INSERT INTO securities (symbol) VALUES ('AAPL'), ('MSFT');
         INSERT INTO securities (symbol, delisted_date) VALUES ('GONE', '2020-01-01');
         INSERT INTO etl_run (job_name, status, finished_at, started_at) VALUES ('nightly', 'succeeded', now() - interval '2 days', now() - interval '2 days');
         INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
         VALUES ('AAPL', (now() AT TIME ZONE 'America/New_York')::date - 3, 1, 1, 1, 1, 1, 'mock', 1),
                ('AAPL', '2099-01-15', 1, 1, 1, 1, 1, 'mock', 1);
         INSERT INTO etl_run (job_name, status, finished_at, error) VALUES ('nightly', 'failed', now(), 'provider down');
         -- An on-demand audit after it is no loader run: the failure stays the last run's.
         INSERT INTO etl_run (job_name, status, finished_at, started_at)
         VALUES ('weston-loader audit', 'succeeded', now(), now() + interval '1 second');
         INSERT INTO quality_findings (rule, symbol, date, details, first_run, last_run)
         VALUES ('unit_error', 'AAPL', '2024-01-02', '{}', 1, 1), ('unit_error', 'MSFT', '2024-01-02', '{}', 1, 1);
         INSERT INTO quality_findings (rule, symbol, date, details, first_run, last_run, resolved_at, resolution, resolved_by)
         VALUES ('stale_bars', 'AAPL', '2024-01-03', '{}', 1, 1, now(), 'false_positive', 'dba');
         -- Ten days ago (no run of the last 7 days, no latest run): a night that reconciled.
         INSERT INTO etl_run (job_name, status, started_at, finished_at, stats)
         VALUES ('nightly', 'succeeded', now() - interval '10 days', now() - interval '10 days',
                 '{\"reconciliation\": {\"sampled\": 5, \"compared\": 3, \"disagreements\": 2,
                   \"unanswered\": [\"MSFT\", \"AAPL\"], \"errors\": [\"polygon grouped daily: 503\"]}}');
         INSERT INTO weston_maintenance_log (status, finished_at) VALUES ('partial', now());
         DO $$ BEGIN
           EXECUTE format('DROP TABLE prices_daily_p%s', to_char((now() AT TIME ZONE 'America/New_York')::date + interval '1 month', 'YYYY_MM'));
         END $$;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn every_query_returns_its_declared_columns_and_the_right_values() {
    let db = TestDb::migrated("monitoring_queries").await;
    stale_and_broken(&db).await;
    // The queries run as the exporter's login does in production.
    let exporter = db.exporter_pool();
    let mut values: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for (name, query) in queries() {
        for metric in query.metrics.iter().flat_map(|m| m.values()) {
            assert!(
                ["LABEL", "GAUGE", "COUNTER"].contains(&metric.usage.as_str()),
                "{name}: usage {}",
                metric.usage
            );
            assert!(
                !metric.description.is_empty(),
                "{name}: a metric without description"
            );
        }
        let rows = sqlx::query(&query.query)
            .fetch_all(&exporter)
            .await
            .unwrap_or_else(|e| panic!("query {name} fails: {e}"));
        assert!(!rows.is_empty(), "query {name} returned no row");
        let declared: Vec<String> = columns(&query).into_iter().map(|(c, _)| c).collect();
        let returned: Vec<String> = rows[0]
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        assert_eq!(returned, declared, "columns of query {name}");
        for row in &rows {
            let mut by_column = BTreeMap::new();
            for (i, (column, usage)) in columns(&query).into_iter().enumerate() {
                let value = if usage == "LABEL" {
                    row.get::<Option<String>, _>(i)
                        .unwrap_or_else(|| "NULL".into())
                } else {
                    // postgres_exporter reads numbers as float8; NULL becomes NaN.
                    row.get::<Option<f64>, _>(i)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "NaN".into())
                };
                by_column.insert(column, value);
            }
            values.entry(name.clone()).or_default().push(by_column);
        }
    }
    let only = |query: &str| values[query][0].clone();
    let freshness = only("weston_freshness");
    assert_eq!(freshness["universe"], "active");
    assert_eq!(freshness["symbols"], "2", "GONE is delisted");
    assert_eq!(freshness["symbols_without_data"], "1");
    // The 2099 bar waits in DEFAULT, so the newest bar is far in the future.
    assert!(freshness["days_behind"].starts_with('-'), "{freshness:?}");
    assert_eq!(only("weston_default_partition")["rows"], "1");
    assert_eq!(
        only("weston_default_partition")["parent"],
        "weston_data.prices_daily"
    );
    assert_eq!(only("weston_future_partitions")["missing"], "1");
    assert_eq!(only("weston_future_partitions")["premake_months"], "3");
    assert_eq!(only("weston_rotation")["status"], "partial");
    assert_eq!(only("weston_rotation")["failed"], "1");
    let etl = only("weston_etl");
    assert_eq!(
        (etl["status"].as_str(), etl["failed"].as_str()),
        ("failed", "1")
    );
    let since_success: f64 = etl["last_success_age_seconds"].parse().unwrap();
    assert!((172_000.0..173_500.0).contains(&since_success), "{etl:?}");
    assert_eq!(etl["rows_loaded"], "0", "the failed run stored nothing");
    let runs: BTreeMap<&str, &str> = values["weston_etl_runs"]
        .iter()
        .map(|r| (r["status"].as_str(), r["last_7d"].as_str()))
        .collect();
    assert_eq!(
        runs,
        BTreeMap::from([
            ("abandoned", "0"),
            ("failed", "1"),
            ("partial", "0"),
            ("running", "0"),
            ("skipped", "0"),
            ("succeeded", "1")
        ]),
        "every status has a row"
    );
    let findings: BTreeMap<&str, (&str, &str)> = values["weston_quality_findings"]
        .iter()
        .map(|r| {
            (
                r["rule"].as_str(),
                (r["open"].as_str(), r["total"].as_str()),
            )
        })
        .collect();
    assert_eq!(
        findings,
        BTreeMap::from([
            ("all", ("2", "3")),
            ("stale_bars", ("0", "1")),
            ("unit_error", ("2", "2"))
        ]),
        "open findings by rule, resolved ones not open"
    );
    let reconciliation = only("weston_reconciliation");
    let age: f64 = reconciliation["age_seconds"].parse().unwrap();
    assert!((863_000.0..865_000.0).contains(&age), "{reconciliation:?}");
    let reconciliation: Vec<&str> = [
        "sampled",
        "compared",
        "disagreements",
        "unanswered",
        "provider_errors",
    ]
    .iter()
    .map(|c| reconciliation[*c].as_str())
    .collect();
    assert_eq!(
        reconciliation,
        ["5", "3", "2", "2", "1"],
        "the last reconciliation, unanswered samples counted"
    );
    let partitions = only("weston_partitions");
    assert_eq!(partitions["parent"], "weston_data.prices_daily");
    let months: f64 = partitions["months"].parse().unwrap();
    let expected_months: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'prices_daily'::regclass
            AND inhrelid <> 'prices_daily_default'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(months, expected_months as f64, "DEFAULT is not a month");
    assert!(partitions["bytes"].parse::<f64>().unwrap() > 0.0);
    assert_eq!(only("weston_archiver")["failing"], "0");
    let extension = only("weston_extension");
    assert_eq!(extension["installed"], env!("CARGO_PKG_VERSION"));
    assert_eq!(extension["available"], env!("CARGO_PKG_VERSION"));
    assert_eq!(extension["update_pending"], "0");
    assert_eq!(only("weston_restore")["untrusted_calls"], "0");
    assert!(values["weston_autovacuum"]
        .iter()
        .any(|r| r["relname"] == "prices_daily_default"));

    // Once the DEFAULT row is gone, freshness counts days from the last real bar.
    sqlx::query("DELETE FROM prices_daily WHERE date = '2099-01-15'")
        .execute(&db.pool)
        .await
        .unwrap();
    let days_behind: f64 = sqlx::query_scalar(&format!(
        "SELECT days_behind FROM ({}) q",
        queries()["weston_freshness"].query
    ))
    .fetch_one(&exporter)
    .await
    .unwrap();
    assert_eq!(days_behind, 3.0);
}

/// `weston_restore` counts the rows of the loader's own check
/// (`weston-loader/sql/restore_runs_untrusted.sql`, embedded line for line), so the alert and
/// `weston-loader snapshot check` never disagree; a check the backend's login writes calling
/// its own function counts.
#[tokio::test]
async fn the_restore_metric_counts_what_snapshot_check_refuses() {
    let query = queries()["weston_restore"].query.clone();
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let embedded = lines(&query);
    assert_eq!(
        embedded[1..embedded.len() - 1],
        lines(include_str!(
            "../../weston-loader/sql/restore_runs_untrusted.sql"
        ))[..],
        "queries.yaml's weston_restore is not the loader's restore_runs_untrusted.sql"
    );
    let db = TestDb::migrated("monitoring_restore").await;
    let exporter = db.exporter_pool();
    let calls = || async {
        sqlx::query_scalar::<_, f64>(&query)
            .fetch_one(&exporter)
            .await
            .unwrap()
    };
    assert_eq!(calls().await, 0.0);
    sqlx::raw_sql(
        "SET ROLE app_rw;
         CREATE FUNCTION app.is_even(x int) RETURNS boolean LANGUAGE sql AS 'SELECT x % 2 = 0';
         CREATE TABLE app.evens (x int CHECK (app.is_even(x)))",
    )
    .execute(&db.backend_pool())
    .await
    .unwrap();
    assert_eq!(calls().await, 1.0);
}

#[tokio::test]
async fn postgres_exporter_serves_every_query() {
    let db = TestDb::migrated("monitoring_exporter").await;
    stale_and_broken(&db).await;
    let exporter = which("prometheus-postgres-exporter")
        .or_else(|| which("postgres_exporter"))
        .expect("postgres_exporter is installed (scripts/setup.sh installs prometheus-postgres-exporter)");
    // A port the kernel says is free now, so a running development cluster or another
    // test run on the same machine cannot collide with the exporter.
    let port = std::env::var("WESTON_TEST_EXPORTER_PORT").unwrap_or_else(|_| {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        probe.local_addr().unwrap().port().to_string()
    });
    // Logged in as in production: an app_ro and pg_monitor member.
    let dsn = format!(
        "{}?sslmode=disable",
        db.url_for(EXPORTER).split('?').next().unwrap()
    );
    let mut child = Command::new(exporter)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--extend.query-path={}",
            monitoring_dir().join("queries.yaml").display()
        ))
        .env("DATA_SOURCE_NAME", dsn)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(&url).await {
            body = response.text().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        !body.is_empty(),
        "no answer from the exporter on {url}: {log}"
    );
    assert!(body.contains("\npg_up 1"), "pg_up 1 in:\n{body}");
    for metric in exported_metric_names() {
        assert!(
            body.lines()
                .any(|l| l.starts_with(&format!("{metric}{{"))
                    || l.starts_with(&format!("{metric} "))),
            "{metric} is not exported; exporter log:\n{log}"
        );
    }
    assert!(
        body.contains(r#"weston_default_partition_rows{parent="weston_data.prices_daily",server="#),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("weston_future_partitions_missing{") && l.ends_with(" 1")),
        "one future month missing"
    );
    assert!(
        body.lines().any(|l| l.starts_with("weston_etl_failed{")
            && l.contains(r#"status="failed""#)
            && l.ends_with(" 1")),
        "the failed ETL run"
    );
}

#[derive(Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
struct RuleGroup {
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    alert: String,
    expr: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

#[test]
fn alert_rules_cover_the_issue_and_use_only_exported_metrics() {
    let dir = monitoring_dir();
    let text = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let file: RuleFile = serde_norway::from_str(&text).expect("alerts.yml parses");
    let rules: Vec<&Rule> = file.groups.iter().flat_map(|g| &g.rules).collect();
    let exported = exported_metric_names();
    for rule in &rules {
        assert!(
            ["critical", "warning"].contains(&rule.labels["severity"].as_str()),
            "{}: severity",
            rule.alert
        );
        assert!(
            rule.annotations.contains_key("summary"),
            "{}: summary",
            rule.alert
        );
        // Our metrics come from queries.yaml, except the backup scripts' textfile.
        for word in rule
            .expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        {
            if word.starts_with("weston_") && !word.starts_with("weston_backup_") {
                assert!(
                    exported.contains(&word.to_string()),
                    "{}: {word} is exported by nothing",
                    rule.alert
                );
            }
        }
    }
    let names: Vec<&str> = rules.iter().map(|r| r.alert.as_str()).collect();
    for required in [
        "WestonDatabaseDown",
        "WestonBackupFailed",
        "WestonBackupStale",
        "WestonWalArchivingFailing",
        "WestonDiskAlmostFull",
        "WestonAutovacuumLagging",
        "WestonSlowQueries",
        "WestonDataStale",
        "WestonEtlFailed",
        "WestonRotationFailed",
        "WestonQualityFindingsOpen",
        "WestonProviderDisagreements",
        "WestonReconciliationUnanswered",
    ] {
        assert!(names.contains(&required), "missing alert {required}");
    }

    let promtool =
        which("promtool").expect("promtool is installed (scripts/setup.sh installs prometheus)");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/bin", "/usr/sbin"])
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}
