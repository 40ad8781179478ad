//! Alert delivery end to end on this machine. The real Prometheus and Alertmanager (Debian
//! packages) scrape the real postgres_exporter (deploy/monitoring/queries.yaml) on a database
//! of the tier-2 cluster and the real node_exporter, whose textfile collector reads what the
//! real deploy/backup/nightly-dump.sh writes. Four faults are injected (stale data, a failed
//! loader run, a row in DEFAULT, a failed backup); each alert must reach a local receiver
//! twice, in Alertmanager's webhook format and through the shipped Slack receiver, with its
//! labels and human summary, and resolve once the fault is undone. The delivery latency from
//! fault to webhook is printed per alert (`--nocapture`). The dashboard's queries are then
//! checked against the live exporters and Prometheus.
//!
//! The configurations are the shipped ones of deploy/monitoring, changed only where a test
//! must: local addresses, 1 s scrape, evaluation and grouping intervals, and the rules' `for:`
//! durations removed (see `rules_without_for`). The email receiver is kept and delivers to a
//! local SMTP listener (see `smtp_sink`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use weston_tests::promql::{
    dashboard, dashboard_queries, exposition_names, metric_names, PROMETHEUS_SERIES,
};
use weston_tests::{admin_url, monitoring_dir, pg_config, TestDb};

/// How long one alert may take to arrive (or to resolve) before the test gives up.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(40);

/// Loopback ports: WESTON_TEST_MONITORING_PORT_BASE + slot (so parallel runs on one machine
/// can be given apart ranges), else one the kernel says is free now.
fn port(slot: u16) -> u16 {
    match std::env::var("WESTON_TEST_MONITORING_PORT_BASE") {
        Ok(base) => {
            base.parse::<u16>()
                .expect("WESTON_TEST_MONITORING_PORT_BASE is a port")
                + slot
        }
        Err(_) => std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port(),
    }
}

/// The monitoring processes; all killed when dropped, so also when an assertion fails.
struct Stack {
    dir: PathBuf,
    children: Vec<(String, Child)>,
}

impl Stack {
    fn start(&mut self, name: &str, program: &str, args: &[String], env: &[(&str, &str)]) {
        let log = File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {program} (scripts/setup.sh installs it): {e}"));
        self.children.push((name.to_string(), child));
    }

    /// The end of each process's log, and which ones have exited, for failure messages.
    fn logs(&mut self) -> String {
        let mut out = String::new();
        for (name, child) in &mut self.children {
            let state = match child.try_wait() {
                Ok(Some(status)) => format!("EXITED {status}"),
                _ => "running".to_string(),
            };
            let log =
                std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            out += &format!("\n--- {name} ({state}):\n");
            for line in tail.into_iter().rev() {
                out += line;
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("logs and configurations kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One request a receiver got: which endpoint, when, and its JSON body (or the mail text).
#[derive(Clone, Debug)]
struct Received {
    path: String,
    at: Instant,
    body: Json,
}

/// Everything Alertmanager delivered so far, in arrival order.
struct Inbox {
    rx: mpsc::UnboundedReceiver<Received>,
    seen: Vec<Received>,
}

impl Inbox {
    /// The first delivery matching `wanted`, waiting for it until `deadline`.
    async fn wait(
        &mut self,
        deadline: Instant,
        wanted: impl Fn(&Received) -> bool,
    ) -> Option<Received> {
        loop {
            if let Some(found) = self.seen.iter().find(|r| wanted(r)) {
                return Some(found.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(received)) => self.seen.push(received),
                _ => return None,
            }
        }
    }

    fn drain(&mut self) -> &[Received] {
        while let Ok(received) = self.rx.try_recv() {
            self.seen.push(received);
        }
        &self.seen
    }
}

/// A local HTTP server taking Alertmanager's webhook (`/webhook`) and Slack (`/slack`) posts.
async fn http_receiver(port: u16, tx: mpsc::UnboundedSender<Received>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("receiver port {port}: {e}"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let path = request.uri().path().to_string();
                        let body = request.into_body().collect().await?.to_bytes();
                        let body = serde_json::from_slice(&body).unwrap_or_else(|_| {
                            Json::String(String::from_utf8_lossy(&body).into())
                        });
                        let _ = tx.send(Received {
                            path,
                            at: Instant::now(),
                            body,
                        });
                        Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from("ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// A local SMTP listener speaking just enough of RFC 5321 for Alertmanager's email receiver
/// (no TLS, no login); each message arrives in the inbox as `/smtp` with the mail as text.
async fn smtp_sink(port: u16, tx: mpsc::UnboundedSender<Received>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("SMTP port {port}: {e}"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 weston-test ESMTP\r\n").await;
                let (mut in_data, mut mail) = (false, String::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            let text = std::mem::take(&mut mail);
                            let _ = tx.send(Received {
                                path: "/smtp".into(),
                                at: Instant::now(),
                                body: Json::String(text),
                            });
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            mail += line.strip_prefix('.').unwrap_or(&line);
                            mail.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-weston-test\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            in_data = true;
                            b"354 end with .\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
}

/// The shipped rules with every `for:` removed: the shipped durations (1 h for DEFAULT rows,
/// 2 h for stale data, ...) ride out passing states in production and are proved by
/// `promtool test rules` (alerts_test.yml); here they would only make the test hours long.
/// Expressions, labels and summaries are the shipped ones.
fn rules_without_for(path: &Path) {
    let mut rules: Yaml = serde_norway::from_str(
        &std::fs::read_to_string(monitoring_dir().join("alerts.yml")).unwrap(),
    )
    .unwrap();
    for group in rules["groups"].as_sequence_mut().unwrap() {
        for rule in group["rules"].as_sequence_mut().unwrap() {
            rule.as_mapping_mut().unwrap().remove("for");
        }
    }
    std::fs::write(path, serde_norway::to_string(&rules).unwrap()).unwrap();
}

/// The shipped prometheus.yml with local targets, 1 s intervals and the test's rules copy.
fn prometheus_config(path: &Path, rules: &Path, alertmanager: u16, targets: &BTreeMap<&str, u16>) {
    let mut config: Yaml = serde_norway::from_str(
        &std::fs::read_to_string(monitoring_dir().join("prometheus.yml")).unwrap(),
    )
    .unwrap();
    config["global"]["scrape_interval"] = "1s".into();
    config["global"]["evaluation_interval"] = "1s".into();
    config["rule_files"] = Yaml::Sequence(vec![rules.to_str().unwrap().into()]);
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] =
        Yaml::Sequence(vec![format!("127.0.0.1:{alertmanager}").into()]);
    for job in config["scrape_configs"].as_sequence_mut().unwrap() {
        let name = job["job_name"].as_str().unwrap().to_string();
        let port = targets
            .get(name.as_str())
            .unwrap_or_else(|| panic!("the test runs no target for job {name}"));
        job["static_configs"][0]["targets"] =
            Yaml::Sequence(vec![format!("127.0.0.1:{port}").into()]);
    }
    std::fs::write(path, serde_norway::to_string(&config).unwrap()).unwrap();
}

/// The shipped template rendered by the shipped script (Slack and SMTP pointed at the local
/// receivers), with 1 s grouping and a webhook added to every receiver.
fn alertmanager_config(path: &Path, receiver: u16, smtp: u16) {
    let rendered = path.with_extension("rendered.yml");
    let slack = format!("http://127.0.0.1:{receiver}/slack");
    let smarthost = format!("127.0.0.1:{smtp}");
    let out = Command::new("sh")
        .arg(monitoring_dir().join("render-alertmanager.sh"))
        .arg(monitoring_dir().join("alertmanager.yml.tmpl"))
        .arg(&rendered)
        .env("WESTON_SMTP_SMARTHOST", &smarthost)
        .env("WESTON_ALERT_EMAIL_FROM", "weston@alerting.test")
        .env("WESTON_ALERT_EMAIL_TO", "team@alerting.test")
        .env("WESTON_SMTP_USERNAME", "")
        .env("WESTON_SMTP_PASSWORD", "")
        .env("WESTON_SLACK_WEBHOOK_URL", &slack)
        .env("WESTON_SLACK_CHANNEL", "#pg-weston")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "render: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut config: Yaml =
        serde_norway::from_str(&std::fs::read_to_string(&rendered).unwrap()).unwrap();
    // The local SMTP listener has no TLS (the shipped config requires it of real servers).
    config["global"]["smtp_require_tls"] = false.into();
    // Every grouping interval the shipped routes set, shortened.
    fn quick(route: &mut Yaml) {
        for (key, value) in [
            ("group_wait", "1s"),
            ("group_interval", "1s"),
            ("repeat_interval", "1h"),
        ] {
            if route.get(key).is_some() {
                route[key] = value.into();
            }
        }
        if let Some(routes) = route.get_mut("routes").and_then(Yaml::as_sequence_mut) {
            routes.iter_mut().for_each(quick);
        }
    }
    quick(&mut config["route"]);
    let webhook: Yaml = serde_norway::from_str(&format!(
        "[{{url: 'http://127.0.0.1:{receiver}/webhook', send_resolved: true}}]"
    ))
    .unwrap();
    for receiver in config["receivers"].as_sequence_mut().unwrap() {
        receiver["webhook_configs"] = webhook.clone();
    }
    std::fs::write(path, serde_norway::to_string(&config).unwrap()).unwrap();
}

/// A quiet database: one listed symbol with today's bar, a succeeded run, a rotation.
async fn healthy(db: &TestDb) {
    sqlx::raw_sql(
        "INSERT INTO securities (symbol) VALUES ('AAPL');
         INSERT INTO securities (symbol, delisted_date) VALUES ('GONE', '2020-01-01');
         INSERT INTO etl_run (job_name, status, finished_at, rows_loaded) VALUES ('nightly', 'succeeded', now(), 1);
         INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
         SELECT 'AAPL', (now() AT TIME ZONE 'America/New_York')::date, 1, 1, 1, 1, 1, 'mock', max(run_id) FROM etl_run;
         INSERT INTO weston_maintenance_log (status, finished_at) VALUES ('succeeded', now());",
    )
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn sql(db: &TestDb, statements: &str) {
    sqlx::raw_sql(statements)
        .execute(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

/// Runs the real nightly dump of `database`, its metrics into `textfile`; true if it succeeded.
fn nightly_dump(dir: &Path, textfile: &Path, database: &str) -> bool {
    let admin = url::Url::parse(&admin_url()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/backup/nightly-dump.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("PGHOST", admin.host_str().unwrap())
        .env("PGPORT", admin.port().unwrap_or(5432).to_string())
        .env("PGUSER", admin.username())
        .env("WESTON_DB", database)
        .env("WESTON_DUMP_DIR", dir.join("dumps"))
        .env("WESTON_PG_BINDIR", pg_config("bindir"))
        .env("WESTON_METRICS_TEXTFILE_DIR", textfile)
        .output()
        .unwrap();
    out.status.success()
}

/// Prometheus's answer to an instant query.
async fn query(prometheus: &str, expr: &str) -> Result<Vec<Json>, String> {
    let url = url::Url::parse_with_params(&format!("{prometheus}/api/v1/query"), [("query", expr)])
        .unwrap();
    let answer: Json = reqwest::get(url)
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if answer["status"] != "success" {
        return Err(answer.to_string());
    }
    Ok(answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// One fault: the alert it must raise, the labels and summary the alert must carry.
struct Expected {
    alert: &'static str,
    labels: &'static [(&'static str, &'static str)],
    summary: &'static str,
}

const EXPECTED: &[Expected] = &[
    Expected {
        alert: "WestonDataStale",
        labels: &[("severity", "warning"), ("universe", "active"), ("job", "postgres"), ("instance", "weston-db")],
        summary: "Market data of universe active is stale (no new bars for over 4 days, or symbols with none)",
    },
    Expected {
        alert: "WestonEtlFailed",
        labels: &[("severity", "warning"), ("status", "failed"), ("job", "postgres")],
        summary: "The last loader run ended failed",
    },
    Expected {
        alert: "WestonDefaultPartitionRows",
        labels: &[("severity", "warning"), ("parent", "weston_data.prices_daily"), ("job", "postgres")],
        summary: "1 rows of weston_data.prices_daily wait in its DEFAULT partition",
    },
    Expected {
        alert: "WestonBackupFailed",
        labels: &[("severity", "critical"), ("kind", "pg_dump"), ("job", "node"), ("instance", "weston-host")],
        summary: "The last pg_dump backup failed",
    },
];

/// The webhook alert named `alert` with `status` ("firing" or "resolved"), if `r` has it.
fn webhook_alert<'a>(r: &'a Received, alert: &str, status: &str) -> Option<&'a Json> {
    if r.path != "/webhook" {
        return None;
    }
    r.body["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == alert && a["status"] == status)
}

fn slack_says(r: &Received, title: &str, text: &str) -> bool {
    let attachment = &r.body["attachments"][0];
    r.path == "/slack"
        && attachment["title"]
            .as_str()
            .is_some_and(|t| t.starts_with(title))
        && attachment["text"]
            .as_str()
            .is_some_and(|t| t.contains(text))
}

/// Whether the mail `r` has `subject` and, in its plain-text part, `text` (quoted-printable
/// soft line breaks undone).
fn mail_says(r: &Received, subject: &str, text: &str) -> bool {
    let Some(mail) = r.body.as_str().filter(|_| r.path == "/smtp") else {
        return false;
    };
    let decoded = mail.replace("=\n", "").replace("=3D", "=");
    mail.contains(&format!("Subject: {subject}")) && decoded.contains(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_raises_its_alert_at_the_receivers_and_undoing_it_resolves_it() {
    let db = TestDb::migrated("alerting").await;
    healthy(&db).await;
    let dir = std::env::temp_dir().join(format!("weston-alerting-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let textfile = dir.join("textfile");
    std::fs::create_dir_all(&textfile).unwrap();
    assert!(
        nightly_dump(&dir, &textfile, &db.name),
        "the nightly dump of a healthy database"
    );

    let (tx, rx) = mpsc::unbounded_channel();
    let mut inbox = Inbox {
        rx,
        seen: Vec::new(),
    };
    let [prom_port, am_port, node_port, pg_port, hook_port, smtp_port] =
        [0, 1, 2, 3, 4, 5].map(port);
    http_receiver(hook_port, tx.clone()).await;
    smtp_sink(smtp_port, tx).await;

    let mut stack = Stack {
        dir: dir.clone(),
        children: Vec::new(),
    };
    let dsn = format!("{}?sslmode=disable", db.url.split('?').next().unwrap());
    let queries = monitoring_dir().join("queries.yaml");
    stack.start(
        "postgres_exporter",
        "prometheus-postgres-exporter",
        &[
            format!("--web.listen-address=127.0.0.1:{pg_port}"),
            format!("--extend.query-path={}", queries.display()),
        ],
        &[("DATA_SOURCE_NAME", dsn.as_str())],
    );
    stack.start(
        "node_exporter",
        "prometheus-node-exporter",
        &[
            format!("--web.listen-address=127.0.0.1:{node_port}"),
            format!("--collector.textfile.directory={}", textfile.display()),
        ],
        &[],
    );
    let am_config = dir.join("alertmanager.yml");
    alertmanager_config(&am_config, hook_port, smtp_port);
    stack.start(
        "alertmanager",
        "prometheus-alertmanager",
        &[
            format!("--config.file={}", am_config.display()),
            format!("--storage.path={}", dir.join("alertmanager-data").display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".into(),
        ],
        &[],
    );
    let rules = dir.join("alerts.yml");
    rules_without_for(&rules);
    let prom_config = dir.join("prometheus.yml");
    prometheus_config(
        &prom_config,
        &rules,
        am_port,
        &BTreeMap::from([("postgres", pg_port), ("node", node_port)]),
    );
    stack.start(
        "prometheus",
        "prometheus",
        &[
            format!("--config.file={}", prom_config.display()),
            format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
        &[],
    );
    let prometheus = format!("http://127.0.0.1:{prom_port}");

    // Both targets scraped and the rules evaluated on them a few times, all healthy.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = query(&prometheus, "up == 1").await.unwrap_or_default();
        let evaluated = query(&prometheus, "weston_etl_failed")
            .await
            .unwrap_or_default();
        if up.len() == 2 && !evaluated.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "targets not up within 30 s: {up:?}{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let firing = query(&prometheus, "ALERTS").await.unwrap();
    for expected in EXPECTED {
        assert!(
            !firing
                .iter()
                .any(|a| a["metric"]["alertname"] == expected.alert),
            "{} fires on a healthy database: {firing:?}",
            expected.alert
        );
    }
    assert!(
        !inbox.drain().iter().any(|r| EXPECTED
            .iter()
            .any(|e| webhook_alert(r, e.alert, "firing").is_some())),
        "notified before any fault: {:?}",
        inbox.seen
    );

    // The faults, each timed from the moment it is in place.
    let mut injected = BTreeMap::new();
    sql(&db, "DELETE FROM prices_daily WHERE symbol = 'AAPL';
              INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
              SELECT 'AAPL', (now() AT TIME ZONE 'America/New_York')::date - 10, 1, 1, 1, 1, 1, 'mock', max(run_id) FROM etl_run;").await;
    injected.insert("WestonDataStale", Instant::now());
    sql(&db, "INSERT INTO etl_run (job_name, status, finished_at, error) VALUES ('nightly', 'failed', now(), 'provider down');").await;
    injected.insert("WestonEtlFailed", Instant::now());
    sql(
        &db,
        "INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
              SELECT 'GONE', '2099-01-15', 1, 1, 1, 1, 1, 'mock', max(run_id) FROM etl_run;",
    )
    .await;
    injected.insert("WestonDefaultPartitionRows", Instant::now());
    assert!(
        !nightly_dump(&dir, &textfile, &format!("{}_missing", db.name)),
        "the dump of a missing database fails"
    );
    injected.insert("WestonBackupFailed", Instant::now());

    let mut latency = BTreeMap::new();
    for expected in EXPECTED {
        let deadline = injected[expected.alert] + DELIVERY_DEADLINE;
        let Some(received) = inbox
            .wait(deadline, |r| {
                webhook_alert(r, expected.alert, "firing").is_some()
            })
            .await
        else {
            panic!(
                "{} did not reach the webhook within {DELIVERY_DEADLINE:?}{}",
                expected.alert,
                stack.logs()
            );
        };
        latency.insert(
            expected.alert,
            (received.at - injected[expected.alert], Duration::ZERO),
        );
        let alert = webhook_alert(&received, expected.alert, "firing").unwrap();
        for (label, value) in expected.labels {
            assert_eq!(
                alert["labels"][label], *value,
                "{}: label {label} in {alert}",
                expected.alert
            );
        }
        assert_eq!(
            alert["annotations"]["summary"], expected.summary,
            "{}",
            expected.alert
        );
        let title = format!("[FIRING] {}", expected.alert);
        assert!(
            inbox
                .wait(deadline, |r| slack_says(r, &title, expected.summary))
                .await
                .is_some(),
            "{} did not reach Slack: {:?}",
            expected.alert,
            inbox
                .seen
                .iter()
                .filter(|r| r.path == "/slack")
                .collect::<Vec<_>>()
        );
        let subject = format!("[pg_weston FIRING] {}", expected.alert);
        assert!(
            inbox
                .wait(deadline, |r| mail_says(r, &subject, expected.summary))
                .await
                .is_some(),
            "{} was not mailed{}",
            expected.alert,
            stack.logs()
        );
    }

    dashboard_reads_live_metrics(&prometheus, &[pg_port, node_port]).await;

    // Undo the faults; each alert must resolve.
    let mut undone = BTreeMap::new();
    sql(&db, "INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
              SELECT 'AAPL', (now() AT TIME ZONE 'America/New_York')::date, 1, 1, 1, 1, 1, 'mock', max(run_id) FROM etl_run;").await;
    undone.insert("WestonDataStale", Instant::now());
    sql(&db, "INSERT INTO etl_run (job_name, status, finished_at) VALUES ('nightly', 'succeeded', now());").await;
    undone.insert("WestonEtlFailed", Instant::now());
    sql(&db, "DELETE FROM prices_daily WHERE symbol = 'GONE';").await;
    undone.insert("WestonDefaultPartitionRows", Instant::now());
    assert!(
        nightly_dump(&dir, &textfile, &db.name),
        "the nightly dump succeeds again"
    );
    undone.insert("WestonBackupFailed", Instant::now());
    for expected in EXPECTED {
        let deadline = undone[expected.alert] + DELIVERY_DEADLINE;
        let Some(received) = inbox
            .wait(deadline, |r| {
                webhook_alert(r, expected.alert, "resolved").is_some()
            })
            .await
        else {
            panic!(
                "{} did not resolve within {DELIVERY_DEADLINE:?}{}",
                expected.alert,
                stack.logs()
            );
        };
        latency.get_mut(expected.alert).unwrap().1 = received.at - undone[expected.alert];
        let title = format!("[RESOLVED] {}", expected.alert);
        let resolved_text = format!("Resolved: {}", expected.summary);
        assert!(
            inbox
                .wait(deadline, |r| slack_says(r, &title, &resolved_text))
                .await
                .is_some(),
            "{}: no resolved message on Slack",
            expected.alert
        );
        let subject = format!("[pg_weston RESOLVED] {}", expected.alert);
        assert!(
            inbox
                .wait(deadline, |r| mail_says(r, &subject, expected.summary))
                .await
                .is_some(),
            "{}: no resolved mail",
            expected.alert
        );
    }
    eprintln!("alert delivery latency (fault in place -> webhook received; fault undone -> resolved received):");
    for (alert, (fire, resolve)) in &latency {
        eprintln!(
            "  {alert:<28} fired after {:>5.1} s, resolved after {:>5.1} s",
            fire.as_secs_f64(),
            resolve.as_secs_f64()
        );
    }
    drop(stack);
}

/// The dashboard reads only metrics the live exporters produce (or Prometheus's own), and
/// every one of its queries returns data from the live Prometheus.
async fn dashboard_reads_live_metrics(prometheus: &str, exporter_ports: &[u16]) {
    let mut produced: BTreeSet<String> = PROMETHEUS_SERIES.iter().map(|s| s.to_string()).collect();
    for port in exporter_ports {
        let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        produced.extend(exposition_names(&body));
    }
    for (title, expr) in dashboard_queries(&dashboard()) {
        for name in metric_names(&expr) {
            assert!(
                produced.contains(&name),
                "panel {title:?}: no exporter produces {name}"
            );
        }
        let result = query(prometheus, &expr)
            .await
            .unwrap_or_else(|e| panic!("panel {title:?}: {expr}: {e}"));
        assert!(
            !result.is_empty(),
            "panel {title:?}: {expr} returns no data"
        );
    }
}
