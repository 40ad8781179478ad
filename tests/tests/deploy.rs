//! deploy/compose.yaml cannot run here (no Docker): its structure is checked instead, and
//! the monitoring configuration it mounts by promtool and amtool and against the exporters.
//! The image itself is built and smoke-tested by scripts/image.sh; the monitoring stack runs
//! for real in tests/tests/alerting.rs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;
use weston_tests::promql::{dashboard, dashboard_queries, data_panels, grafana_dir, metric_names};
use weston_tests::{backup_textfile_metrics, monitoring_dir, monitoring_exported_metrics};

fn compose() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/compose.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).expect("compose.yaml parses")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_runs_the_database_the_nightly_loader_and_the_exporter_privately() {
    let compose = compose();
    let services = &compose["services"];
    let db = &services["db"];
    assert_eq!(db["build"]["dockerfile"].as_str(), Some("Dockerfile.pg15"));
    assert!(strings(&db["volumes"]).contains(&"pgdata:/var/lib/postgresql/data".to_string()));
    assert!(
        db["environment"]["POSTGRES_PASSWORD"]
            .as_str()
            .unwrap()
            .contains(":?"),
        "password required"
    );
    for service in ["db", "exporter"] {
        for port in strings(&services[service]["ports"]) {
            assert!(
                port.starts_with("${WESTON_BIND_ADDRESS"),
                "{service} publishes {port} on every interface, not only the private address"
            );
        }
    }
    let loader = &services["loader"];
    assert_eq!(
        loader["image"], db["image"],
        "the loader runs from the database image"
    );
    assert_eq!(
        loader["entrypoint"][0].as_str(),
        Some("/usr/local/bin/weston-nightly-loader")
    );
    assert_eq!(
        loader["depends_on"]["db"]["condition"].as_str(),
        Some("service_healthy")
    );
    assert!(loader["environment"]["DATABASE_URL"]
        .as_str()
        .unwrap()
        .starts_with("postgres://weston_loader:"));
    let exporter = &services["exporter"];
    assert!(strings(&exporter["volumes"])
        .iter()
        .any(|v| v.starts_with("./monitoring/queries.yaml:")));
    assert!(strings(&exporter["command"])
        .iter()
        .any(|c| c.starts_with("--extend.query-path=")));
    assert!(exporter["environment"]["DATA_SOURCE_NAME"]
        .as_str()
        .unwrap()
        .contains("weston_exporter:"));
    // The compose network must be among the networks pg_hba accepts by default.
    let subnet = compose["networks"]["weston"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .unwrap();
    assert!(db["environment"]["WESTON_ALLOWED_CIDRS"]
        .as_str()
        .unwrap()
        .contains(subnet));
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path:?} parses: {e}"))
}

/// `(host path, container path)` of a service's bind mounts and volumes.
fn mounts(service: &Value) -> Vec<(String, String)> {
    strings(&service["volumes"])
        .iter()
        .map(|v| {
            // A host path may be a `${VAR:-default}`, colon and all.
            let host_end = if v.starts_with("${") {
                v.find('}').unwrap() + 1
            } else {
                v.find(':').unwrap_or(v.len())
            };
            let (host, rest) = v.split_at(host_end);
            let target = rest.trim_start_matches(':').split(':').next().unwrap();
            (host.to_string(), target.to_string())
        })
        .collect()
}

fn mounted_at(service: &Value, host_path: &str) -> String {
    mounts(service)
        .into_iter()
        .find(|(host, _)| host == host_path)
        .unwrap_or_else(|| panic!("{host_path} is not mounted"))
        .1
}

/// The `${NAME}` placeholders of the Alertmanager template (comments left out).
fn template_placeholders() -> BTreeSet<String> {
    let text = std::fs::read_to_string(monitoring_dir().join("alertmanager.yml.tmpl")).unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split("${").skip(1))
        .map(|rest| rest.split('}').next().unwrap().to_string())
        .collect()
}

#[test]
fn compose_runs_the_monitoring_stack_on_the_private_address() {
    let compose = compose();
    let services = &compose["services"];
    for service in [
        "db",
        "loader",
        "exporter",
        "node-exporter",
        "prometheus",
        "alertmanager",
        "grafana",
    ] {
        assert!(services[service].is_mapping(), "service {service} missing");
        for port in strings(&services[service]["ports"]) {
            assert!(
                port.starts_with("${WESTON_BIND_ADDRESS"),
                "{service} publishes {port} on every interface, not only the private address"
            );
        }
    }
    assert!(
        services["node-exporter"]["ports"].is_null(),
        "node_exporter is for Prometheus only"
    );

    // node_exporter reads the directory the backup scripts write to.
    let node = &services["node-exporter"];
    let textfile = mounted_at(
        node,
        "${WESTON_METRICS_TEXTFILE_DIR:-/var/lib/weston/metrics}",
    );
    assert!(
        strings(&node["command"]).contains(&format!("--collector.textfile.directory={textfile}"))
    );

    // Prometheus loads the shipped rules beside its configuration and scrapes the services.
    let prometheus = &services["prometheus"];
    let config = mounted_at(prometheus, "./monitoring/prometheus.yml");
    assert!(strings(&prometheus["command"]).contains(&format!("--config.file={config}")));
    let config_dir = Path::new(&config).parent().unwrap();
    let prometheus_yml = yaml(&monitoring_dir().join("prometheus.yml"));
    for rule_file in strings(&prometheus_yml["rule_files"]) {
        assert_eq!(
            mounted_at(prometheus, &format!("./monitoring/{rule_file}")),
            config_dir.join(&rule_file).to_str().unwrap(),
            "{rule_file} sits beside prometheus.yml"
        );
    }
    let target_services = |targets: &Value| -> Vec<(String, String)> {
        strings(targets)
            .iter()
            .map(|t| {
                let (host, port) = t.split_once(':').unwrap();
                (host.to_string(), port.to_string())
            })
            .collect()
    };
    let mut jobs = BTreeSet::new();
    for job in prometheus_yml["scrape_configs"].as_sequence().unwrap() {
        jobs.insert(job["job_name"].as_str().unwrap().to_string());
        for (host, _) in target_services(&job["static_configs"][0]["targets"]) {
            assert!(
                services[host.as_str()].is_mapping(),
                "scrape target {host} is no service"
            );
        }
    }
    assert_eq!(jobs, BTreeSet::from(["postgres".into(), "node".into()]));
    let alertmanagers = &prometheus_yml["alerting"]["alertmanagers"][0]["static_configs"][0];
    assert_eq!(
        target_services(&alertmanagers["targets"]),
        [("alertmanager".to_string(), "9093".to_string())]
    );

    // Alertmanager renders its template from variables compose passes, the receivers' required.
    let alertmanager = &services["alertmanager"];
    let template = mounted_at(alertmanager, "./monitoring/alertmanager.yml.tmpl");
    let script = mounted_at(alertmanager, "./monitoring/render-alertmanager.sh");
    let start = strings(&alertmanager["command"]).join(" ");
    assert!(
        start.starts_with(&format!("sh {script} {template} ")),
        "{start}"
    );
    assert!(
        start.contains("exec /bin/alertmanager --config.file="),
        "{start}"
    );
    let environment = alertmanager["environment"].as_mapping().unwrap();
    for name in template_placeholders() {
        let value = environment
            .get(name.as_str())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("compose does not pass {name} to Alertmanager"));
        assert!(value.starts_with(&format!("${{{name}:")), "{name}: {value}");
    }
    for required in [
        "WESTON_SMTP_SMARTHOST",
        "WESTON_ALERT_EMAIL_FROM",
        "WESTON_ALERT_EMAIL_TO",
        "WESTON_SLACK_WEBHOOK_URL",
    ] {
        assert!(
            environment[required].as_str().unwrap().contains(":?"),
            "{required} must be required"
        );
    }

    // Grafana: provisioning and the dashboards directory its provider reads.
    let grafana = &services["grafana"];
    assert_eq!(
        mounted_at(grafana, "./monitoring/grafana/provisioning"),
        "/etc/grafana/provisioning"
    );
    let provider = yaml(&grafana_dir().join("provisioning/dashboards/pg_weston.yml"));
    assert_eq!(
        provider["providers"][0]["options"]["path"].as_str(),
        Some(mounted_at(grafana, "./monitoring/grafana/dashboards").as_str())
    );
    assert!(grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
        .as_str()
        .unwrap()
        .contains(":?"));
}

fn tool(program: &str) -> PathBuf {
    ["/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is installed (scripts/setup.sh)"))
}

fn run(command: &mut Command) -> (bool, String) {
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Renders the Alertmanager template with `variables` as the whole environment.
fn render(variables: &[(&str, &str)], output: &Path) -> (bool, String) {
    let mut command = Command::new("sh");
    command
        .arg(monitoring_dir().join("render-alertmanager.sh"))
        .arg(monitoring_dir().join("alertmanager.yml.tmpl"))
        .arg(output)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(variables.iter().copied());
    run(&mut command)
}

#[test]
fn prometheus_and_alertmanager_configs_pass_their_checkers() {
    let (ok, text) = run(Command::new(tool("promtool"))
        .args(["check", "config", "prometheus.yml"])
        .current_dir(monitoring_dir()));
    assert!(ok, "promtool check config: {text}");
    assert!(
        text.contains("rule files found"),
        "the rules are loaded: {text}"
    );

    let dir = std::env::temp_dir().join(format!("weston-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rendered = dir.join("alertmanager.yml");
    // A password with a quote, a backslash and a dollar survives rendering unchanged.
    let password = r"it's $a\1&x";
    let mut variables = vec![
        ("WESTON_SMTP_SMARTHOST", "smtp.example.org:587"),
        ("WESTON_ALERT_EMAIL_FROM", "weston@example.org"),
        ("WESTON_ALERT_EMAIL_TO", "team@example.org"),
        ("WESTON_SMTP_USERNAME", "weston"),
        ("WESTON_SMTP_PASSWORD", password),
        (
            "WESTON_SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0/B0/abc",
        ),
        ("WESTON_SLACK_CHANNEL", "#pg-weston"),
    ];
    assert_eq!(
        variables
            .iter()
            .map(|(k, _)| k.to_string())
            .collect::<BTreeSet<_>>(),
        template_placeholders(),
        "the test sets every placeholder"
    );
    let (ok, text) = render(&variables, &rendered);
    assert!(ok, "render: {text}");
    let config = yaml(&rendered);
    assert_eq!(
        config["global"]["smtp_auth_password"].as_str(),
        Some(password)
    );
    assert_eq!(
        config["receivers"][0]["email_configs"][0]["to"].as_str(),
        Some("team@example.org")
    );
    let (ok, text) = run(Command::new(tool("amtool"))
        .arg("check-config")
        .arg(&rendered));
    assert!(ok, "amtool check-config: {text}");

    // A receiver setting left out stops the start, naming it; nothing half-rendered is left.
    variables.retain(|(k, _)| *k != "WESTON_SLACK_WEBHOOK_URL");
    std::fs::remove_file(&rendered).unwrap();
    let (ok, text) = render(&variables, &rendered);
    assert!(!ok, "rendered without the Slack webhook URL");
    assert!(
        text.contains("WESTON_SLACK_WEBHOOK_URL is not set"),
        "{text}"
    );
    assert!(!rendered.exists() && !dir.join("alertmanager.yml.tmp").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_dashboard_shows_what_matters_and_reads_only_exported_metrics() {
    let dashboard = dashboard();
    let datasource = yaml(&grafana_dir().join("provisioning/datasources/prometheus.yml"));
    let uid = datasource["datasources"][0]["uid"].as_str().unwrap();
    let panels = data_panels(&dashboard);
    for panel in &panels {
        let title = panel["title"].as_str().unwrap();
        assert_eq!(panel["datasource"]["uid"], uid, "{title}: data source");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], uid, "{title}: data source");
        }
        assert!(
            panel["gridPos"]["w"].as_u64().unwrap() > 0,
            "{title}: placed"
        );
    }
    // What the dashboard is for, each read by at least one panel.
    let read: BTreeSet<String> = dashboard_queries(&dashboard)
        .iter()
        .flat_map(|(_, expr)| metric_names(expr))
        .collect();
    for needed in [
        "pg_up",
        "weston_freshness_days_behind",
        "weston_etl_failed",
        "weston_etl_runs_last_7d",
        "weston_etl_rows_loaded",
        "weston_partitions_months",
        "weston_default_partition_rows",
        "weston_future_partitions_missing",
        "weston_backup_last_success_timestamp_seconds",
        "node_filesystem_avail_bytes",
        "weston_extension_update_pending",
        "weston_reconciliation_disagreements",
        "weston_reconciliation_unanswered",
    ] {
        assert!(read.contains(needed), "no panel shows {needed}");
    }
    // pg_weston's own metrics: from queries.yaml or the backup scripts' textfile. The
    // exporters' built-in ones (pg_*, node_*) are checked against the live exporters in
    // tests/tests/alerting.rs.
    let ours: BTreeSet<String> = monitoring_exported_metrics()
        .into_iter()
        .chain(backup_textfile_metrics())
        .collect();
    assert!(ours.contains("weston_backup_last_run_failed"), "{ours:?}");
    for (title, expr) in dashboard_queries(&dashboard) {
        for name in metric_names(&expr) {
            assert!(
                !name.starts_with("weston_") || ours.contains(&name),
                "{title}: {name} is exported by nothing"
            );
            assert!(
                name.starts_with("weston_")
                    || name.starts_with("pg_")
                    || name.starts_with("node_")
                    || weston_tests::promql::PROMETHEUS_SERIES.contains(&name.as_str()),
                "{title}: {name} comes from no exporter of the stack"
            );
        }
    }
}
