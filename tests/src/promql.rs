//! The metric names PromQL expressions read, and the expressions of the Grafana dashboard:
//! enough of PromQL's lexical rules to check that the dashboard reads only what the exporters
//! produce (tests/tests/deploy.rs statically, tests/tests/alerting.rs against live exporters).

use std::collections::BTreeSet;
use std::path::PathBuf;

/// Series Prometheus makes itself, which no exporter produces.
pub const PROMETHEUS_SERIES: &[&str] = &["ALERTS", "ALERTS_FOR_STATE", "up"];

/// Aggregation operators: they may be followed by `by (...)` before their parenthesis.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];
const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "inf", "nan"];
/// Keywords whose parenthesised list holds label names, not metrics.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` reads (label names, functions, keywords and numbers left out).
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_to = |from: usize, close: char| {
        chars[from..]
            .iter()
            .position(|&c| c == close)
            .map_or(chars.len(), |p| from + p + 1)
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            i = skip_to(i + 1, '}');
        } else if c == '[' {
            i = skip_to(i + 1, ']');
        } else if c == '"' || c == '\'' || c == '`' {
            i = skip_to(i + 1, c);
        } else if c.is_ascii_digit() || c == '.' {
            // A number or duration, exponent and unit letters included.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace()).copied();
            let lower = word.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) {
                if next == Some('(') {
                    let open = i + chars[i..].iter().position(|&c| c == '(').unwrap();
                    i = skip_to(open + 1, ')');
                }
            } else if next != Some('(')
                && !AGGREGATIONS.contains(&lower.as_str())
                && !KEYWORDS.contains(&lower.as_str())
            {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// deploy/monitoring/grafana.
pub fn grafana_dir() -> PathBuf {
    crate::monitoring_dir().join("grafana")
}

/// The shipped dashboard, `deploy/monitoring/grafana/dashboards/pg_weston.json`.
pub fn dashboard() -> serde_json::Value {
    let path = grafana_dir().join("dashboards/pg_weston.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// The panels of a dashboard that show data (rows left out), nested rows included.
pub fn data_panels(dashboard: &serde_json::Value) -> Vec<&serde_json::Value> {
    fn walk<'a>(panels: &'a serde_json::Value, out: &mut Vec<&'a serde_json::Value>) {
        for panel in panels.as_array().into_iter().flatten() {
            if panel["type"] == "row" {
                walk(&panel["panels"], out);
            } else {
                out.push(panel);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// `(panel title, PromQL expression)` of every query of the dashboard, with Grafana's
/// interval variables replaced by a plain duration so Prometheus can evaluate them.
pub fn dashboard_queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    data_panels(dashboard)
        .into_iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or("?").to_string();
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| {
                    let expr = t["expr"].as_str().unwrap_or("").to_string();
                    (
                        title.clone(),
                        expr.replace("$__rate_interval", "1m")
                            .replace("$__interval", "1m")
                            .replace("$__range", "1h"),
                    )
                })
        })
        .collect()
}

/// The metric names of a Prometheus text exposition (`/metrics`).
pub fn exposition_names(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or("").to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::metric_names;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn reads_metrics_and_leaves_out_labels_functions_and_numbers() {
        assert_eq!(
            names(r#"100 * (1 - node_a{fstype!~"tmpfs|x"} / node_b{fstype!~"tmpfs"}) > 0.8"#),
            ["node_a", "node_b"]
        );
        assert_eq!(
            names("sum by (state) (pg_stat_activity_count) or vector(0)"),
            ["pg_stat_activity_count"]
        );
        assert_eq!(
            names("time() - weston_backup_last_success_timestamp_seconds > 26 * 3600"),
            ["weston_backup_last_success_timestamp_seconds"]
        );
        assert_eq!(
            names("rate(x_total[5m]) / on(instance) group_left(kind) y offset 1h"),
            ["x_total", "y"]
        );
        assert_eq!(
            names(r#"count(ALERTS{alertstate="firing"}) or vector(0)"#),
            ["ALERTS"]
        );
        assert_eq!(
            names("max without (a, b) (m1) and bool m2 1e3"),
            ["m1", "m2"]
        );
    }
}
