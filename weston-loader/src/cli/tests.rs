use super::*;
use clap::{CommandFactory, Parser};

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
}

/// The audit's knobs sit next to the run's without a clash of names.
#[test]
fn run_and_audit_parse_their_knobs() {
    let cli = Cli::try_parse_from([
        "weston-loader",
        "run",
        "--provider",
        "mock",
        "--audit-batch-symbols",
        "7",
        "--batch-symbols",
        "9",
    ])
    .unwrap();
    let Command::Run(run) = cli.command else {
        panic!("run");
    };
    assert_eq!((run.audit.audit_batch_symbols, run.batch_symbols), (7, 9));
    let cli = Cli::try_parse_from(["weston-loader", "audit", "--symbols", "A,B"]).unwrap();
    let Command::Audit(audit) = cli.command else {
        panic!("audit");
    };
    assert_eq!(audit.symbols, ["A", "B"]);
}

#[test]
fn bounds_are_named() {
    let e = bounded("1000", HTTP_MAX_RETRIES_ENV, "retries", 0..=10).unwrap_err();
    assert!(
        e.contains(HTTP_MAX_RETRIES_ENV) && e.contains("0 to 10"),
        "{e}"
    );
    let e = bounded::<u32>("monthly", METADATA_REFRESH_ENV, "days", 0..=9).unwrap_err();
    assert!(
        e.contains("WESTON_METADATA_REFRESH_DAYS=\"monthly\""),
        "{e}"
    );
    let e = Cli::try_parse_from(["weston-loader", "run", "--fmp-base-url", "ftp://x/"]);
    assert!(e.unwrap_err().to_string().contains("http or https"));
}

/// `run` and `audit` clean `--symbols` with one parser: trimmed, upper-cased, a bad one named.
#[test]
fn run_and_audit_clean_their_symbols_alike() {
    let now = chrono::Utc::now();
    let parsed = |argv: &[&str]| Cli::try_parse_from(argv).unwrap().command;
    let Command::Audit(audit) = parsed(&["weston-loader", "audit", "--symbols", " aapl,AAPL,msft"])
    else {
        panic!("audit");
    };
    let Command::Run(run) = parsed(&[
        "weston-loader",
        "run",
        "--provider",
        "mock",
        "--to",
        "2020-01-02",
        "--symbols",
        " aapl,AAPL,msft",
    ]) else {
        panic!("run");
    };
    assert_eq!(audit.request().unwrap().symbols, ["AAPL", "MSFT"]);
    assert_eq!(run.request(now).unwrap().request.symbols, ["AAPL", "MSFT"]);
    let Command::Audit(bad) = parsed(&["weston-loader", "audit", "--symbols", "A B"]) else {
        panic!("audit");
    };
    let e = bad.request().unwrap_err().to_string();
    assert!(e.contains("\"A B\" is not a valid symbol"), "{e}");
}
