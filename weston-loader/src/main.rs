use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use sqlx::postgres::PgPoolOptions;
use sqlx::Connection;
use weston_loader::cli::{Cli, Command, SnapshotAction, SnapshotArgs};
use weston_loader::database::Database;
use weston_loader::{
    audit, migrate, run, scratch, snapshot, status, verify, writable, LoaderError,
};

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
    init_tracing(&cli.log);
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

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
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

/// The pool, once one connection proved the database answers: a refused port or a wrong
/// password fails at once, a silent host after the connect timeout (the pool alone would
/// retry for 30 seconds).
async fn connect(database: &Database) -> Result<sqlx::PgPool, LoaderError> {
    let options = database.connect_options()?;
    let first = database.connect_with(&options).await?;
    let _ = first.close().await;
    // Every session names pg_weston's objects from where the extension lives (home.rs).
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(database.connect_timeout())
        .after_connect(|conn, _| Box::pin(weston_loader::database::set_up_session(conn)))
        .connect_with(options)
        .await
        .map_err(|e| {
            LoaderError::Config(format!(
                "cannot connect to the database ({}): {}",
                database.describe(),
                weston_loader::error::describe(&e)
            ))
        })
}

async fn dispatch(cli: Cli) -> Result<(), LoaderError> {
    let database = Database::from_args(&cli.database, cli.command.application_name())?;
    // Listing needs no server: it works while the database is down or being restored.
    if let Command::Snapshot(SnapshotArgs {
        action: Some(SnapshotAction::List),
        store,
        ..
    }) = &cli.command
    {
        let dir = snapshot::files::directory(store)?;
        let listed = snapshot::files::list(&dir, &database.name())?;
        print!(
            "{}",
            snapshot::files::render_list(&dir, &database.name(), &listed)
        );
        return Ok(());
    }
    let pool = connect(&database).await?;
    match cli.command {
        Command::Migrate(args) => {
            writable::require_writable(&pool, "migrate").await?;
            let pending = migrate::pending_versions(&pool).await?;
            if pending.is_empty() {
                // Nothing to apply: no snapshot.
            } else if args.no_snapshot {
                println!("migrate: no snapshot (--no-snapshot) before applying {pending:?}");
            } else {
                let taken = snapshot::take(
                    &pool,
                    &database,
                    &args.store,
                    "nothing was migrated (`migrate --no-snapshot` skips the snapshot)",
                )
                .await?;
                print!(
                    "{}",
                    taken.report("migrate", &format!("snapshot before applying {pending:?}"))
                );
            }
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
        Command::Audit(args) => {
            writable::require_writable(&pool, "audit").await?;
            let outcome = audit::audit_command(&pool, &args.request()?).await?;
            println!("{}", outcome.summary());
        }
        Command::Verify(args) => {
            verify::verify(&database, &args).await?;
        }
        Command::Scratch(args) => {
            scratch::scratch(&pool, &database, &args.action).await?;
        }
        Command::Snapshot(SnapshotArgs {
            action: Some(SnapshotAction::Check),
            ..
        }) => {
            snapshot::trust::require_trusted_restore(&pool, &database, "nothing was changed")
                .await?
                .release()
                .await;
            println!(
                "snapshot check: a superuser may restore {}: its restore runs no function that \
                 a role other than a trusted one can replace",
                database.describe()
            );
        }
        Command::Snapshot(args) => {
            // Read before the dump, so the note says where the database was.
            let revision = snapshot::note::alembic_revision(&pool).await?;
            let taken =
                snapshot::take(&pool, &database, &args.store, "nothing was changed").await?;
            print!(
                "{}",
                taken.report(
                    "snapshot",
                    &format!(
                        "{} ({})",
                        database.describe(),
                        snapshot::files::human_size(taken.bytes)
                    )
                )
            );
            if let Some(file) = &args.note {
                snapshot::note::write(
                    file,
                    &snapshot::note::render(&database, &taken, revision.as_deref()),
                )?;
                println!("snapshot: rollback note written to {}", file.display());
            }
        }
        Command::Run(args) => {
            writable::require_writable(&pool, "run").await?;
            let outcome = run::run(&pool, args.request(chrono::Utc::now())?).await?;
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
