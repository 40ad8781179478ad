//! What this database's extension and migrations provide, asked once per command
//! (`sql/provides.sql`) and handed to whoever needs it; nothing else in the loader asks.
//! A database whose extension is older than the loader holds the later migrations back
//! (`migrate`'s WAIT_FOR_EXTENSION) until the DBA runs ALTER EXTENSION pg_weston UPDATE;
//! `run` and `status` keep working there without what those migrations add. Each flag says
//! when it goes away: once every supported database has what it asks about.

use sqlx::PgExecutor;

/// The optional parts of the schema, as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Provides {
    /// `ticker_history` (migration 0016, held back before extension 0.4.0): renames and
    /// delistings are detected. Goes once every supported database has migration 0016.
    pub ticker_history: bool,
    /// `quality_findings` (migration 0018, extension 0.4.0): `status` shows open findings.
    /// Goes once every supported database has migration 0018.
    pub quality_findings: bool,
    /// `quality_thresholds` (migration 0025, extension 0.4.0): `run` audits what it loaded.
    /// Goes once every supported database has migration 0025.
    pub quality_thresholds: bool,
    /// `price_last_dates` (migration 0028, extension 0.4.0): a symbol's last bar is a row,
    /// not a probe of `prices_daily`. Goes once every supported database has migration 0028.
    pub price_last_dates: bool,
    /// `securities.bars_asked_through` (migration 0033, extension 0.7.0): delisted tickers
    /// asked through their last session leave the universe. Goes once every supported
    /// database has migration 0033.
    pub bars_asked_through: bool,
    /// `weston_etl_set_stats` (extension 0.3.0): a run's stats are stored. Goes once every
    /// supported database has extension 0.3.0.
    pub etl_set_stats: bool,
    /// `weston_etl_finish_partial` (extension 0.4.0): a run can end partial. Goes once every
    /// supported database has extension 0.4.0.
    pub etl_finish_partial: bool,
    /// `weston_partition_health(regclass)` (extension 0.1.0, every release): only a database
    /// without the extension lacks it; the flag can go now.
    pub partition_health: bool,
}

impl Provides {
    /// Asks the database (on the loader's pinned search_path).
    pub async fn probe<'c>(executor: impl PgExecutor<'c>) -> Result<Provides, sqlx::Error> {
        sqlx::query_as(include_str!("../sql/provides.sql"))
            .fetch_one(executor)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The schema's optional parts are asked about here only. `migrate` asks about its own
    /// objects (what a waiting migration needs) and `home` where the migration history
    /// lives: both about migrating, not about what a command may use.
    #[test]
    fn nothing_else_asks_what_the_database_provides() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let allowed = ["provides.rs", "migrate.rs", "home.rs"];
        let askers: Vec<String> = files
            .iter()
            .filter(|f| !allowed.iter().any(|a| f.ends_with(a)))
            .filter(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                [
                    "to_regclass(",
                    "to_regprocedure(",
                    "has_table(",
                    "has_column(",
                ]
                .iter()
                .any(|probe| text.contains(probe))
            })
            .map(|f| f.display().to_string())
            .collect();
        assert!(askers.is_empty(), "asked outside provides.rs: {askers:?}");
        assert!(files.len() > 40, "the sources were read: {}", files.len());
    }
}
