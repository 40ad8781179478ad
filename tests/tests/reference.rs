//! docs/REFERENCE.md is kept true: its SQL functions are the extension's functions in the
//! catalog of a migrated database (signature and `COMMENT ON FUNCTION`, as `\df+` shows
//! them), its CLI subcommands are those of `weston-loader --help`, and the environment
//! variables it lists for a subcommand are those that subcommand's `--help` shows. A
//! mismatch fails with a diff naming each function, subcommand or variable on either side.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use weston_tests::{loader_bin, TestDb};

const REFERENCE: &str = include_str!("../../docs/REFERENCE.md");

/// The lines of the section whose heading is exactly `heading`, up to the next heading of
/// the same or a higher level.
fn section(heading: &str) -> Vec<&'static str> {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let mut lines = REFERENCE.lines().skip_while(|l| *l != heading);
    assert!(
        lines.next().is_some(),
        "docs/REFERENCE.md has no `{heading}`"
    );
    lines
        .take_while(|l| {
            let hashes = l.chars().take_while(|c| *c == '#').count();
            !(hashes > 0 && hashes <= level && l[hashes..].starts_with(' '))
        })
        .collect()
}

/// What REFERENCE.md says a function without a comment has.
const NO_COMMENT: &str = "(no comment)";

/// `signature → comment` of every function REFERENCE.md documents: a line holding only
/// `` `name(arguments) → result` ``, then the catalog comment as a block quote (`> `
/// lines, joined by spaces).
fn documented_functions() -> BTreeMap<String, String> {
    let lines = section("## SQL functions");
    let mut functions = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        i += 1;
        let Some(signature) = line
            .strip_prefix('`')
            .and_then(|l| l.strip_suffix('`'))
            .filter(|s| s.contains(" → "))
        else {
            continue;
        };
        while i < lines.len() && lines[i].trim().is_empty() {
            i += 1;
        }
        let mut comment = Vec::new();
        while i < lines.len() {
            let Some(text) = lines[i].strip_prefix("> ") else {
                break;
            };
            comment.push(text.trim());
            i += 1;
        }
        assert!(
            !comment.is_empty(),
            "docs/REFERENCE.md: `{signature}` is not followed by its comment as a `> ` block quote"
        );
        let previous = functions.insert(signature.to_owned(), comment.join(" "));
        assert!(
            previous.is_none(),
            "docs/REFERENCE.md lists `{signature}` twice"
        );
    }
    functions
}

/// `signature → comment` of every function of the extension in a migrated database.
async fn catalog_functions() -> BTreeMap<String, String> {
    let db = TestDb::migrated("reference").await;
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') → '
                || pg_get_function_result(p.oid),
                obj_description(p.oid, 'pg_proc')
           FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
          WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
            AND d.refclassid = 'pg_extension'::regclass
            AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_weston')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(signature, comment)| (signature, comment.unwrap_or_else(|| NO_COMMENT.into())))
        .collect()
}

/// Every difference between what `source` (the catalog, `--help`) has and what
/// REFERENCE.md says, one line per `what`.
fn differences<V: PartialEq + std::fmt::Debug>(
    what: &str,
    source: &str,
    actual: &BTreeMap<String, V>,
    documented: &BTreeMap<String, V>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in actual {
        match documented.get(key) {
            None => out.push(format!(
                "{what} in {source}, missing from docs/REFERENCE.md: {key} {value:?}"
            )),
            Some(doc) if doc != value => out.push(format!(
                "{what} {key} differs:\n    {source}: {value:?}\n    docs/REFERENCE.md: {doc:?}"
            )),
            Some(_) => {}
        }
    }
    for (key, value) in documented {
        if !actual.contains_key(key) {
            out.push(format!(
                "{what} in docs/REFERENCE.md, not in {source}: {key} {value:?}"
            ));
        }
    }
    out
}

#[tokio::test]
async fn reference_lists_every_sql_function_with_its_catalog_comment() {
    let documented = documented_functions();
    assert!(
        documented.len() >= 10,
        "docs/REFERENCE.md's function lines were not recognised: {documented:?}"
    );
    let diff = differences(
        "function",
        "the catalog",
        &catalog_functions().await,
        &documented,
    );
    assert!(diff.is_empty(), "\n{}", diff.join("\n"));
}

/// `weston-loader <args> --help`.
fn help(args: &[&str]) -> String {
    let out = Command::new(loader_bin())
        .args(args)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", loader_bin().display()));
    assert!(out.status.success(), "{args:?} --help: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands `weston-loader --help` lists (without clap's own `help`).
fn subcommands_in_help() -> BTreeSet<String> {
    help(&[])
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// The subcommands REFERENCE.md documents (`### weston-loader <command>` headings).
fn documented_subcommands() -> BTreeSet<String> {
    section("## Command line: weston-loader")
        .into_iter()
        .filter_map(|l| l.strip_prefix("### `weston-loader "))
        .filter_map(|l| l.split([' ', '`']).next())
        .map(str::to_owned)
        .collect()
}

/// Environment variables per subcommand, from REFERENCE.md's table: rows
/// `` | `VAR` | migrate, run, status | ... ``.
fn documented_environment() -> BTreeMap<String, BTreeSet<String>> {
    let mut per_command: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in section("## Environment") {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, var, commands, ..] = cells[..] else {
            continue;
        };
        let Some(var) = var.strip_prefix('`').and_then(|v| v.strip_suffix('`')) else {
            continue;
        };
        for command in commands.split(',').map(str::trim) {
            per_command
                .entry(command.to_owned())
                .or_default()
                .insert(var.to_owned());
        }
    }
    per_command
}

/// The environment variables `--help` of `command` names (clap's `[env: VAR]`).
fn environment_in_help(command: &str) -> BTreeSet<String> {
    let text = help(&[command]);
    text.match_indices("[env: ")
        .map(|(at, marker)| {
            text[at + marker.len()..]
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn reference_documents_every_subcommand_and_its_environment() {
    let subcommands = subcommands_in_help();
    assert!(!subcommands.is_empty(), "no subcommands in --help");
    let as_map = |set: &BTreeSet<String>| -> BTreeMap<String, ()> {
        set.iter().map(|c| (c.clone(), ())).collect()
    };
    let mut diff = differences(
        "subcommand",
        "weston-loader --help",
        &as_map(&subcommands),
        &as_map(&documented_subcommands()),
    );
    let documented = documented_environment();
    for command in &subcommands {
        let in_help = as_map(&environment_in_help(command));
        let listed = as_map(documented.get(command).unwrap_or(&BTreeSet::new()));
        diff.extend(differences(
            "environment variable",
            &format!("weston-loader {command} --help"),
            &in_help,
            &listed,
        ));
    }
    assert!(diff.is_empty(), "\n{}", diff.join("\n"));
}
