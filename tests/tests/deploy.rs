//! deploy/compose.yaml cannot run here (no Docker): its structure is checked instead.
//! The image itself is built and smoke-tested by scripts/image.sh.

use std::path::Path;

use serde_norway::Value;

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
