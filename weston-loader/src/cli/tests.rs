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
