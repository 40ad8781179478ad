use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use sqlx::postgres::PgPoolOptions;
use weston_loader::cli::{Cli, Command};
use weston_loader::{migrate, run, status, LoaderError};

fn main() -> ExitCode {
    // A missing .env.local is normal; a malformed one is a configuration error.
    if let Err(e) = dotenvy::from_filename(".env.local") {
        if !e.not_found() {
            eprintln!("weston-loader: .env.local: {e}");
            return ExitCode::from(2);
        }
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = weston_loader::error::describe(&e);
            tracing::error!("{message}");
            eprintln!("weston-loader: {message}");
            e.exit_code()
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Humans on a terminal, JSON lines for log collectors.
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}

async fn dispatch(cli: Cli) -> Result<(), LoaderError> {
    let url = cli.database_url.ok_or_else(|| {
        LoaderError::Config(
            "DATABASE_URL is not set (flag --database-url, the environment, or .env.local)".into(),
        )
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .map_err(|e| LoaderError::Config(format!("cannot connect to the database: {e}")))?;
    match cli.command {
        Command::Migrate => {
            let applied = migrate::migrate(&pool).await?;
            if applied.is_empty() {
                println!("migrate: already up to date");
            } else {
                println!("migrate: applied {applied:?}");
            }
        }
        Command::Status(args) => {
            let status = status::collect(&pool).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status).map_err(anyhow::Error::from)?
                );
            } else {
                print!("{}", status::render_human(&status));
            }
        }
        Command::Run(args) => {
            let outcome = run::run(&pool, args).await?;
            let w = &outcome.stats.written;
            println!(
                "run {} succeeded in {:.1}s: {} symbols, {} rows written ({} bars, {} splits, {} dividends, {} securities), {} rows rejected",
                outcome.run_id,
                outcome.seconds,
                outcome.stats.symbols,
                w.total(),
                w.prices_daily,
                w.splits,
                w.dividends,
                w.securities,
                outcome.stats.rejected
            );
        }
    }
    Ok(())
}
