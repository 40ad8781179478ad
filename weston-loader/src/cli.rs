//! Command line and environment of CONTRACT.md.

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "weston-loader",
    version,
    about = "Loads daily prices into pg_weston"
)]
pub struct Cli {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations/ (extension, tables, initial partitions, rotation schedule).
    Migrate,
    /// The nightly job: load bars, splits, dividends and security metadata.
    Run(RunArgs),
    /// Recent runs, freshness per symbol, partition health.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// First date to load (default: per symbol, its last stored date minus a few days).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last date to load (default: the last completed US trading session).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Comma-separated symbols (default: the universe, securities not delisted).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Providers in order of preference (default: fmp,polygon among those with keys).
    #[arg(long = "provider", value_delimiter = ',')]
    pub providers: Vec<ProviderName>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum ProviderName {
    Fmp,
    Polygon,
    Mock,
}

impl ProviderName {
    /// The value stored in the `provider` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderName::Fmp => "fmp",
            ProviderName::Polygon => "polygon",
            ProviderName::Mock => "mock",
        }
    }
}

impl std::fmt::Display for ProviderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
