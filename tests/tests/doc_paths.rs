//! Every repository path the README and `docs/*.md` name exists. No database: the docs
//! are the first thing a newcomer reads, and a path that moved without them is a dead end.
//!
//! A path is a backticked span without spaces whose first component is a top-level entry
//! of the repository (`scripts/test.sh`, `weston-loader/src/cli.rs`, `docs/REFERENCE.md`,
//! `.ci/run`), read from the repository root; or a Markdown link's target, read from the
//! page's own folder. A span naming an item after the file (`mod.rs::build`, `x.rs:12`) is
//! checked up to the file; one with a pattern (`bench_*.rs`, `<table>`, `A--B`) is checked
//! up to the folder before the pattern.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Files and folders a page names on purpose that the repository does not hold: made by
/// the reader from a template, or by a build.
const NOT_IN_THE_REPOSITORY: &[&str] = &["deploy/.env", "target"];

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn top_level() -> BTreeSet<String> {
    std::fs::read_dir(repo())
        .expect("the repository root")
        .map(|entry| {
            entry
                .expect("root entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name != ".git" && name != "target")
        .collect()
}

/// The part of a named path that must exist: up to an item (`::`, `:line`) or a pattern.
fn checkable(path: &str) -> Option<String> {
    let path = path.split("::").next().unwrap_or(path);
    let path = match path.rsplit_once(':') {
        Some((file, line)) if line.chars().all(|c| c.is_ascii_digit()) => file,
        _ => path,
    };
    let path = path.trim_end_matches(['.', ',', ')']);
    let pattern = |part: &str| {
        part.contains(['*', '<', '>', '{', '}', '…', '$'])
            || part.contains("...")
            || part.contains("A--B")
            || part.contains("YYYY")
    };
    let parts: Vec<&str> = path.split('/').collect();
    let kept: Vec<&str> = parts
        .iter()
        .take_while(|part| !pattern(part))
        .copied()
        .collect();
    if kept.is_empty() || kept.iter().all(|part| part.is_empty()) {
        return None;
    }
    Some(kept.join("/").trim_end_matches('/').to_owned())
}

fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn link_targets(text: &str) -> Vec<&str> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            targets.push(&rest[..end]);
        }
    }
    targets
}

#[test]
fn every_path_the_docs_name_exists() {
    let top = top_level();
    let mut missing = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("a page");
        let name = page
            .strip_prefix(repo())
            .unwrap_or(&page)
            .display()
            .to_string();
        for span in backticked(&text) {
            if span.contains(char::is_whitespace) || !span.contains('/') {
                continue;
            }
            let first = span.split('/').next().unwrap_or_default();
            if !top.contains(first) || NOT_IN_THE_REPOSITORY.contains(&first) {
                continue;
            }
            let Some(path) = checkable(span) else {
                continue;
            };
            if NOT_IN_THE_REPOSITORY.contains(&path.as_str()) {
                continue;
            }
            checked += 1;
            if !repo().join(&path).exists() {
                missing.push(format!("{name}: `{span}`"));
            }
        }
        let folder = page.parent().expect("a page's folder");
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap_or(target);
            checked += 1;
            if !folder.join(file).exists() {
                missing.push(format!("{name}: link ({target})"));
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} paths found: is the extraction broken?"
    );
    assert!(
        missing.is_empty(),
        "paths named in the docs that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_path_is_checked_up_to_its_item_or_pattern() {
    assert_eq!(
        checkable("weston-loader/src/providers/mod.rs::build").as_deref(),
        Some("weston-loader/src/providers/mod.rs")
    );
    assert_eq!(
        checkable("pg_weston/src/lib.rs:12").as_deref(),
        Some("pg_weston/src/lib.rs")
    );
    assert_eq!(
        checkable("bench/src/bin/bench_*.rs").as_deref(),
        Some("bench/src/bin")
    );
    assert_eq!(
        checkable("pg_weston/sql/pg_weston--A--B.sql").as_deref(),
        Some("pg_weston/sql")
    );
    assert_eq!(
        checkable("deploy/backup/").as_deref(),
        Some("deploy/backup")
    );
    assert_eq!(checkable("*/x").as_deref(), None);
}

/// The source files the module map must account for: the loader's and the extension's.
const MAPPED: &[&str] = &[
    "weston-loader/src",
    "weston-loader/sql",
    "pg_weston/src",
    "pg_weston/core/src",
    "pg_weston/sql",
];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every source file of the loader and the extension is in ARCHITECTURE.md's module map: a
/// row names it, or its folder (the row's path ends in `/`) and its file name, or the folder
/// alone for the folders of one kind of file (`weston-loader/sql/`, `pg_weston/sql/released/`).
#[test]
fn the_module_map_names_every_source_file() {
    let text =
        std::fs::read_to_string(repo().join("docs/ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let rows: Vec<(Vec<&str>, &str)> = text
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|row| {
            let path_cell = row.split(" | ").next().unwrap_or(row);
            (backticked(path_cell), row)
        })
        .collect();
    assert!(
        rows.len() > 30,
        "the module map is a table: {} rows",
        rows.len()
    );
    // Folders of one kind of file, and the upgrade scripts, named as a whole.
    let whole = [
        "weston-loader/sql/",
        "pg_weston/sql/released/",
        "pg_weston/sql/queries/",
        "pg_weston/sql/pg_weston--",
    ];
    let mut files = Vec::new();
    for dir in MAPPED {
        files_under(&repo().join(dir), &mut files);
    }
    let root = repo().canonicalize().expect("root");
    let mut missing = Vec::new();
    for file in &files {
        let file = file.canonicalize().expect("file");
        let relative = file.strip_prefix(&root).expect("in the repository");
        let relative = relative.to_string_lossy().replace('\\', "/");
        let (folder, name) = relative.rsplit_once('/').expect("a folder");
        let folder = format!("{folder}/");
        let named = whole.iter().any(|w| relative.starts_with(w))
            || rows.iter().any(|(paths, row)| {
                paths.iter().any(|p| *p == relative)
                    || (paths.iter().any(|p| *p == folder)
                        && (row.contains(&format!("`{name}`"))
                            || row.contains(&format!("/{name}`"))))
            });
        if !named {
            missing.push(relative);
        }
    }
    assert!(files.len() > 60, "the sources were read: {}", files.len());
    assert!(
        missing.is_empty(),
        "not in ARCHITECTURE.md's module map: {missing:#?}"
    );
}
