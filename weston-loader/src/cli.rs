//! The command line and every environment knob, parsed once, here. Each knob is a flag
//! with its environment variable and default shown in `--help`; values are checked against
//! their bounds while parsing, so a bad one stops with exit 2 before anything is recorded.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use reqwest::Url;

use crate::audit::AuditRequest;
use crate::model::ProviderName;
use crate::plan::{Asked, Request};
use crate::providers::http::{parse_base_url, HttpLimits, RateLimit, DEFAULT_MAX_BODY_BYTES};
use crate::providers::{FmpProvider, PolygonProvider, ProviderSettings};
use crate::run::RunRequest;
use crate::validate::symbol_list;
use crate::LoaderError;

/// Symbols per batch (one transaction).
pub const BATCH_ENV: &str = "WESTON_BATCH_SYMBOLS";
/// Days over which every described symbol's metadata is asked again; 0 never.
pub const METADATA_REFRESH_ENV: &str = "WESTON_METADATA_REFRESH_DAYS";
/// Days over which every symbol's whole history of splits and dividends is asked again; 0 never.
pub const EVENTS_RECHECK_ENV: &str = "WESTON_EVENTS_RECHECK_DAYS";
/// `off`: the operator acknowledges that no provider of the plan lists ticker changes.
pub const IDENTITY_DETECTION_ENV: &str = "WESTON_IDENTITY_DETECTION";
/// How many symbols the mock market has (MOCK0001…).
pub const MOCK_SYMBOLS_ENV: &str = "WESTON_MOCK_SYMBOLS";
/// The earliest date a window may start at.
pub const EARLIEST_DATE_ENV: &str = "WESTON_EARLIEST_DATE";
pub const HTTP_TIMEOUT_ENV: &str = "WESTON_HTTP_TIMEOUT_SECS";
pub const HTTP_MAX_RETRIES_ENV: &str = "WESTON_HTTP_MAX_RETRIES";
pub const HTTP_MAX_RETRY_AFTER_ENV: &str = "WESTON_HTTP_MAX_RETRY_AFTER_SECS";
pub const HTTP_MAX_BODY_ENV: &str = "WESTON_HTTP_MAX_BODY_BYTES";
pub const DB_CONNECT_TIMEOUT_ENV: &str = "WESTON_DB_CONNECT_TIMEOUT_SECS";
/// Where `migrate` and `snapshot` keep snapshots.
pub const SNAPSHOT_DIR_ENV: &str = "WESTON_SNAPSHOT_DIR";
/// How many snapshots `migrate` and `snapshot` keep per database.
pub const SNAPSHOT_KEEP_ENV: &str = "WESTON_SNAPSHOT_KEEP";
/// The directory of pg_dump and pg_restore (the backup scripts read it too).
pub const PG_BINDIR_ENV: &str = "WESTON_PG_BINDIR";
/// How many symbols' adjusted prices `verify` compares.
pub const VERIFY_SAMPLE_ENV: &str = "WESTON_VERIFY_SAMPLE_SYMBOLS";
/// The other database of `verify`.
pub const VERIFY_AGAINST_ENV: &str = "WESTON_VERIFY_AGAINST";
/// Securities whose stored history the audit holds in memory at once.
pub const AUDIT_BATCH_ENV: &str = "WESTON_AUDIT_BATCH_SYMBOLS";
/// Securities whose latest session `run` asks a second provider for (0: no reconciliation).
pub const RECONCILE_SAMPLE_ENV: &str = "WESTON_RECONCILE_SAMPLE";
/// Mock only: plant one error of each audit rule into the mock market (`providers::mock::planted`).
pub const MOCK_PLANTED_ENV: &str = "WESTON_MOCK_PLANTED_ERRORS";

#[derive(Debug, Parser)]
#[command(
    name = "weston-loader",
    version,
    about = "Loads daily prices into pg_weston"
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Log filter (tracing's EnvFilter syntax). Logs go to stderr.
    #[arg(
        long = "log",
        env = "RUST_LOG",
        default_value = "info,sqlx=warn",
        global = true
    )]
    pub log: String,

    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process and moved, never copied in bulk: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations/ (extension, tables, initial partitions, rotation schedule), after a
    /// snapshot (pg_dump) when any is pending.
    Migrate(MigrateArgs),
    /// The nightly job: load bars, splits, dividends and security metadata.
    Run(RunArgs),
    /// Recent runs, freshness per symbol, partition health, open findings.
    Status(StatusArgs),
    /// Run the data-quality rules over stored data and record their findings (exit 0 when
    /// the audit ran, whatever it found).
    Audit(AuditArgs),
    /// Compare this database with another (rows and checksums per table and partition,
    /// partition bounds, extensions, configuration, cron jobs, privileges, adjusted prices):
    /// exit 0 when they match, 1 listing the differences.
    Verify(VerifyArgs),
    /// A developer's own database on this server, the shared market data readable in it
    /// (postgres_fdw, read-only); run with a superuser's DATABASE_URL.
    Scratch(ScratchArgs),
    /// Take the snapshot `migrate` takes (pg_dump of the whole database), before any change:
    /// prints the file, its size and the command that rolls back to it; `snapshot list`
    /// lists them, `snapshot check` says whether a superuser may restore one.
    Snapshot(SnapshotArgs),
}

impl Command {
    /// The `application_name` of the loader's database sessions, so that `pg_stat_activity`
    /// (and the loader's own "who holds the lock" message) names the job.
    pub fn application_name(&self) -> &'static str {
        match self {
            Command::Migrate(_) => "weston-loader migrate",
            Command::Verify(_) => "weston-loader verify",
            Command::Scratch(_) => "weston-loader scratch",
            Command::Snapshot(_) => "weston-loader snapshot",
            Command::Run(_) => crate::provenance::JOB_NAME,
            Command::Status(_) => "weston-loader status",
            Command::Audit(_) => crate::provenance::AUDIT_JOB_NAME,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Seconds to wait for the database connection; a refused port fails at once.
    #[arg(long = "db-connect-timeout-secs", env = DB_CONNECT_TIMEOUT_ENV, default_value_t = 10,
          value_parser = |s: &str| bounded::<u64>(s, DB_CONNECT_TIMEOUT_ENV, "seconds", 1..=300), global = true)]
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// First date to load (default: per symbol, its last stored date minus a few days).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last date to load, at most the last completed US trading session (the default).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Comma-separated symbols (default: the universe, securities not delisted).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Providers in order of preference (default: fmp,polygon among those with keys).
    #[arg(long = "provider", value_delimiter = ',')]
    pub providers: Vec<ProviderName>,
    /// No window may start before this date (guards against a mistyped --from making
    /// centuries of partitions).
    #[arg(long, env = EARLIEST_DATE_ENV, default_value = "1990-01-01")]
    pub earliest_date: NaiveDate,
    /// Symbols per batch (one transaction).
    #[arg(long, env = BATCH_ENV, default_value_t = 50, value_parser = |s: &str| bounded::<usize>(s, BATCH_ENV, "a number of symbols", 1..=10_000))]
    pub batch_symbols: usize,
    /// Days over which every described symbol's metadata is asked again, a share of the
    /// symbols each night (0: never again).
    #[arg(long, env = METADATA_REFRESH_ENV, default_value_t = 30, value_parser = |s: &str| bounded::<u32>(s, METADATA_REFRESH_ENV, "a number of days (0: never)", 0..=3650))]
    pub metadata_refresh_days: u32,
    /// Days over which every symbol's splits and dividends since its first stored bar are
    /// asked again, a share of the symbols each night, for events published late (0: never).
    #[arg(long, env = EVENTS_RECHECK_ENV, default_value_t = 30, value_parser = |s: &str| bounded::<u32>(s, EVENTS_RECHECK_ENV, "a number of days (0: never)", 0..=3650))]
    pub events_recheck_days: u32,
    /// Detection of ticker changes and delistings: `on`, or `off` where no provider of the
    /// plan lists them (runs are then not partial for it, and status says so).
    #[arg(long, env = IDENTITY_DETECTION_ENV, default_value = "on", value_parser = on_off)]
    pub identity_detection: bool,
    #[command(flatten)]
    pub audit: AuditKnobs,
    /// Securities whose latest stored session is compared, each night, with a second
    /// configured provider's (close in basis points, volume as a ratio); 0: none.
    #[arg(long, env = RECONCILE_SAMPLE_ENV, default_value_t = 25, value_parser = |s: &str| bounded::<usize>(s, RECONCILE_SAMPLE_ENV, "a number of symbols (0: none)", 0..=100_000))]
    pub reconcile_sample: usize,
    #[command(flatten)]
    pub providers_config: ProviderArgs,
}

impl RunArgs {
    /// The request `run` takes, checked at `now` (see `plan::Request::check`).
    pub fn request(&self, now: DateTime<Utc>) -> Result<RunRequest, LoaderError> {
        let asked = Asked {
            from: self.from,
            to: self.to,
            symbols: self.symbols.clone(),
            earliest_date: self.earliest_date,
            metadata_refresh_days: self.metadata_refresh_days,
        };
        Ok(RunRequest {
            request: Request::check(&asked, now)?,
            providers: self.providers.clone(),
            provider_settings: self.providers_config.settings(),
            batch_symbols: self.batch_symbols,
            events_recheck_days: self.events_recheck_days,
            identity_detection: self.identity_detection,
            audit_batch_symbols: self.audit.audit_batch_symbols,
            reconcile_sample: self.reconcile_sample,
        })
    }
}

/// How the audit reads (shared by `run` and `audit`).
#[derive(Debug, Clone, Args)]
pub struct AuditKnobs {
    /// Securities whose stored history the audit reads and holds at once (1 to 10000).
    #[arg(long = "audit-batch-symbols", env = AUDIT_BATCH_ENV, default_value_t = 100, value_parser = |s: &str| bounded::<usize>(s, AUDIT_BATCH_ENV, "a number of symbols", 1..=10_000))]
    pub audit_batch_symbols: usize,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// First date whose findings are recorded (default: the first stored bar); the rules
    /// read a few sessions before it for context.
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last date audited (default: the last stored bar).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Comma-separated symbols (default: every security, delisted included).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    #[command(flatten)]
    pub knobs: AuditKnobs,
}

impl AuditArgs {
    /// The request `audit` takes, its symbols checked.
    pub fn request(&self) -> Result<AuditRequest, LoaderError> {
        Ok(AuditRequest {
            from: self.from,
            to: self.to,
            symbols: symbol_list(&self.symbols).map_err(LoaderError::Config)?,
            batch_symbols: self.knobs.audit_batch_symbols,
        })
    }
}

/// Keys, addresses and limits of the providers.
#[derive(Debug, Clone, Args)]
pub struct ProviderArgs {
    /// Financial Modeling Prep API key (prefer the environment: flags show in `ps`).
    #[arg(long, env = "FMP_API_KEY", hide_env_values = true)]
    pub fmp_api_key: Option<String>,
    /// Polygon.io API key (prefer the environment: flags show in `ps`).
    #[arg(long, env = "POLYGON_API_KEY", hide_env_values = true)]
    pub polygon_api_key: Option<String>,
    /// FMP's address (http or https).
    #[arg(long, env = "WESTON_FMP_BASE_URL", default_value = FmpProvider::DEFAULT_BASE_URL,
          value_parser = |s: &str| parse_base_url("WESTON_FMP_BASE_URL", s))]
    pub fmp_base_url: Url,
    /// Polygon's address (http or https).
    #[arg(long, env = "WESTON_POLYGON_BASE_URL", default_value = PolygonProvider::DEFAULT_BASE_URL,
          value_parser = |s: &str| parse_base_url("WESTON_POLYGON_BASE_URL", s))]
    pub polygon_base_url: Url,
    /// Requests FMP allows: N/s, N/min or N/h; calls are spaced evenly.
    #[arg(long, env = "WESTON_FMP_RATE_LIMIT", default_value = "300/min", value_parser = |s: &str| rate(s, "WESTON_FMP_RATE_LIMIT"))]
    pub fmp_rate_limit: RateLimit,
    /// Requests Polygon allows (5/min is the free plan).
    #[arg(long, env = "WESTON_POLYGON_RATE_LIMIT", default_value = "5/min", value_parser = |s: &str| rate(s, "WESTON_POLYGON_RATE_LIMIT"))]
    pub polygon_rate_limit: RateLimit,
    /// Whole-request timeout of a provider call, in seconds (1 to 300).
    #[arg(long, env = HTTP_TIMEOUT_ENV, default_value_t = 30, value_parser = |s: &str| bounded::<u64>(s, HTTP_TIMEOUT_ENV, "seconds", 1..=300))]
    pub http_timeout_secs: u64,
    /// Retries of a transient or rate-limited call (0 to 10).
    #[arg(long, env = HTTP_MAX_RETRIES_ENV, default_value_t = 5, value_parser = |s: &str| bounded::<usize>(s, HTTP_MAX_RETRIES_ENV, "a number of retries", 0..=10))]
    pub http_max_retries: usize,
    /// A longer Retry-After (a daily quota) is not waited for: the next provider takes
    /// over (0 to 3600 seconds).
    #[arg(long, env = HTTP_MAX_RETRY_AFTER_ENV, default_value_t = 120, value_parser = |s: &str| bounded::<u64>(s, HTTP_MAX_RETRY_AFTER_ENV, "seconds", 0..=3600))]
    pub http_max_retry_after_secs: u64,
    /// Largest provider answer read, in bytes; a larger one is refused unparsed.
    #[arg(long, env = HTTP_MAX_BODY_ENV, default_value_t = DEFAULT_MAX_BODY_BYTES, value_parser = |s: &str| bounded::<u64>(s, HTTP_MAX_BODY_ENV, "bytes", 1024..=1024 * 1024 * 1024))]
    pub http_max_body_bytes: u64,
    /// Symbols of the mock market (MOCK0001…), 1 to 99999 (the whole US market is ~12,000).
    #[arg(long, env = MOCK_SYMBOLS_ENV, default_value_t = 750, value_parser = |s: &str| bounded::<usize>(s, MOCK_SYMBOLS_ENV, "a number of symbols", 1..=99_999))]
    pub mock_symbols: usize,
    /// Mock market only: plant errors of every audit rule in a few fixed symbols
    /// (MOCK0100…MOCK0192), to test the audit (true or false).
    #[arg(long, env = MOCK_PLANTED_ENV, default_value_t = false, action = clap::ArgAction::Set)]
    pub mock_planted_errors: bool,
}

impl ProviderArgs {
    /// What `providers::build` needs, in the providers' own words.
    pub fn settings(&self) -> ProviderSettings {
        let limits = |rate: RateLimit| HttpLimits {
            timeout: Duration::from_secs(self.http_timeout_secs),
            max_retries: self.http_max_retries,
            max_retry_after: Duration::from_secs(self.http_max_retry_after_secs),
            max_body_bytes: self.http_max_body_bytes,
            ..HttpLimits::with_rate(rate)
        };
        let key = |k: &Option<String>| k.clone().filter(|k| !k.trim().is_empty());
        ProviderSettings {
            fmp_key: key(&self.fmp_api_key),
            polygon_key: key(&self.polygon_api_key),
            fmp_base_url: self.fmp_base_url.clone(),
            polygon_base_url: self.polygon_base_url.clone(),
            fmp_limits: limits(self.fmp_rate_limit),
            polygon_limits: limits(self.polygon_rate_limit),
            mock_symbols: self.mock_symbols,
            mock_planted_errors: self.mock_planted_errors,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Apply pending migrations without taking a snapshot first.
    #[arg(long)]
    pub no_snapshot: bool,
    #[command(flatten)]
    pub store: SnapshotStoreArgs,
}

/// How a snapshot is taken and kept: `migrate`'s before it applies anything, and `snapshot`'s.
#[derive(Debug, Clone, Args)]
pub struct SnapshotStoreArgs {
    /// Directory of the snapshots (pg_dump custom format); default
    /// $XDG_STATE_HOME/weston-loader/snapshots, else ~/.local/state/weston-loader/snapshots.
    #[arg(long, env = SNAPSHOT_DIR_ENV, global = true)]
    pub snapshot_dir: Option<PathBuf>,
    /// Snapshots kept per database (the oldest beyond are deleted), 1 to 1000.
    #[arg(long = "snapshot-keep", visible_alias = "keep", env = SNAPSHOT_KEEP_ENV, default_value_t = 5,
          value_parser = |s: &str| bounded::<usize>(s, SNAPSHOT_KEEP_ENV, "a number of snapshots", 1..=1000))]
    pub keep: usize,
    #[command(flatten)]
    pub tools: PgToolsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: Option<SnapshotAction>,
    /// Also write the rollback note (Markdown, the Alembic revision before) to FILE, for a PR.
    #[arg(long, value_name = "FILE")]
    pub note: Option<PathBuf>,
    #[command(flatten)]
    pub store: SnapshotStoreArgs,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum SnapshotAction {
    /// This database's snapshots, oldest first: time, size, file (no connection needed).
    List,
    /// Whether a superuser may restore this database's dump: exit 0, or 2 naming each
    /// function a check or generated column would run that a less trusted role can replace.
    /// Dumps nothing.
    Check,
}

/// Where PostgreSQL's client programs are.
#[derive(Debug, Clone, Args)]
pub struct PgToolsArgs {
    /// Directory of pg_dump and pg_restore; default /usr/lib/postgresql/<server major>/bin,
    /// else the PATH. Their major version must be at least the server's.
    #[arg(long, env = PG_BINDIR_ENV)]
    pub pg_bindir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("other").required(true).multiple(true)
    .args(["against", "against_saved", "save"])))]
pub struct VerifyArgs {
    /// The other database's connection URL (prefer the environment: flags show in `ps`).
    #[arg(long, env = VERIFY_AGAINST_ENV, hide_env_values = true, conflicts_with = "against_saved")]
    pub against: Option<String>,
    /// Compare with a fingerprint written earlier by --save (a database as it was).
    #[arg(long, value_name = "FILE")]
    pub against_saved: Option<PathBuf>,
    /// Write this database's fingerprint (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Symbols whose adjusted prices are compared (the same deterministic sample on both
    /// sides), 1 to 1000000.
    #[arg(long, env = VERIFY_SAMPLE_ENV, default_value_t = 25,
          value_parser = |s: &str| bounded::<usize>(s, VERIFY_SAMPLE_ENV, "a number of symbols", 1..=1_000_000))]
    pub sample_symbols: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ScratchArgs {
    #[command(subcommand)]
    pub action: ScratchAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ScratchAction {
    /// Create weston_scratch_NAME, owned by --owner; prints its URL as the last line.
    Create {
        /// The scratch database's name (letters, digits, _), with or without the
        /// weston_scratch_ prefix.
        name: String,
        /// The developer's login role that owns it (default: the connecting user).
        #[arg(long)]
        owner: Option<String>,
    },
    /// The scratch databases: name, owner, size, created.
    List,
    /// Drop a scratch database (refuses any other database); the shared data is untouched.
    Drop {
        /// The scratch database's name, with or without the weston_scratch_ prefix.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// A whole number of `what` within `bounds`; the error names the variable and the bound.
/// `on` or `off`, naming the variable otherwise.
fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!(
            "{IDENTITY_DETECTION_ENV}={text:?}: must be on or off"
        )),
    }
}

fn bounded<T>(text: &str, var: &str, what: &str, bounds: RangeInclusive<T>) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let value: T = text
        .trim()
        .parse()
        .map_err(|_| format!("{var}={text:?}: expected {what}"))?;
    if bounds.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{var}={text:?}: must be from {} to {} ({what})",
            bounds.start(),
            bounds.end()
        ))
    }
}

fn rate(text: &str, var: &str) -> Result<RateLimit, String> {
    RateLimit::parse(text).map_err(|e| format!("{var}: {e}"))
}

#[cfg(test)]
mod tests;
