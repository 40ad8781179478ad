//! `weston-loader verify`: is the other database (a restore, the managed host after a move)
//! the same as this one? Exit 0 when they match, 1 listing every difference, 2 for bad
//! usage. The fingerprint is read by `collect.rs`; the comparison (`diff.rs`) is pure.

pub mod collect;
pub mod diff;

use std::path::Path;

use crate::cli::{VerifyArgs, VERIFY_AGAINST_ENV};
use crate::database::Database;
use crate::LoaderError;

pub use diff::{Difference, Fingerprint};

/// Fingerprints this database (and saves it when asked), then compares it with the other.
pub async fn verify(here_db: &Database, args: &VerifyArgs) -> Result<(), LoaderError> {
    // The other database's URL is checked before anything is read.
    let against = match &args.against {
        Some(url) => Some(
            Database::parse(url, here_db.connect_timeout(), "weston-loader verify")
                .map_err(|e| LoaderError::Config(format!("--against ({VERIFY_AGAINST_ENV}): {e}")))?
                .called("the other database (--against)"),
        ),
        None => None,
    };
    let here = collect::fingerprint(here_db, args.sample_symbols).await?;
    if let Some(path) = &args.save {
        save(&here, path)?;
        println!(
            "verify: this database's fingerprint is saved in {}",
            path.display()
        );
    }
    let (there, what) = if let Some(other) = &against {
        (
            collect::fingerprint(other, args.sample_symbols).await?,
            "the other database".to_string(),
        )
    } else if let Some(path) = &args.against_saved {
        (
            load(path)?,
            format!("the fingerprint saved in {}", path.display()),
        )
    } else {
        return Ok(());
    };
    let differences = diff::diff(&here, &there);
    if differences.is_empty() {
        println!("verify: this database matches {what}: {}", summary(&here));
        return Ok(());
    }
    println!(
        "verify: {} difference(s) between this database and {what} (\"here\": this database):",
        differences.len()
    );
    for difference in &differences {
        println!("  {difference}");
    }
    Err(LoaderError::Failed(anyhow::anyhow!(
        "the databases differ in {} place(s), listed above",
        differences.len()
    )))
}

/// What was compared, counted.
pub fn summary(print: &Fingerprint) -> String {
    format!(
        "{} tables (rows and checksums), {} partitions, {} extensions, {} configured tables, \
         {} cron jobs, {} privilege entries, {} roles, {} symbols' adjusted prices",
        print.count(collect::TABLE),
        print.count(collect::PARTITION),
        print.count(collect::EXTENSION),
        print.count(collect::CONFIG),
        print.count(collect::CRON),
        print.count(collect::PRIVILEGES),
        print.count(collect::ROLE),
        print.count(collect::ADJUSTED),
    )
}

fn save(print: &Fingerprint, path: &Path) -> Result<(), LoaderError> {
    let text = serde_json::to_string_pretty(print).map_err(anyhow::Error::from)?;
    std::fs::write(path, text).map_err(|e| {
        LoaderError::Config(format!(
            "cannot write the fingerprint to {}: {e}",
            path.display()
        ))
    })
}

fn load(path: &Path) -> Result<Fingerprint, LoaderError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        LoaderError::Config(format!(
            "cannot read the fingerprint {}: {e}",
            path.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        LoaderError::Config(format!(
            "{} is not a fingerprint written by `verify --save`: {e}",
            path.display()
        ))
    })
}
