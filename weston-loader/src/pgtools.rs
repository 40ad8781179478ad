//! PostgreSQL's client programs (pg_dump, pg_restore, psql) able to work with a server: the
//! snapshot of `migrate` runs them, and words the rollback with them.

use std::path::PathBuf;

use sqlx::PgPool;

use crate::cli::{PgToolsArgs, PG_BINDIR_ENV};
use crate::LoaderError;

/// pg_dump, pg_restore and psql of one PostgreSQL installation.
#[derive(Debug, Clone)]
pub struct PgTools {
    pub(crate) bindir: Option<PathBuf>,
}

impl PgTools {
    /// The client programs able to work with this server: `--pg-bindir`, else the Debian
    /// layout's directory of the server's major version, else the PATH; refused when their
    /// major version is older than the server's (pg_dump cannot dump a newer server).
    pub async fn find(pool: &PgPool, args: &PgToolsArgs) -> Result<PgTools, LoaderError> {
        let server: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(pool)
            .await?;
        let server_major = server / 10_000;
        let bindir = args.pg_bindir.clone().or_else(|| {
            let debian = PathBuf::from(format!("/usr/lib/postgresql/{server_major}/bin"));
            debian.join("pg_dump").exists().then_some(debian)
        });
        let tools = PgTools { bindir };
        let dump_major = tools.major_version("pg_dump").await?;
        if dump_major < server_major {
            return Err(LoaderError::Config(format!(
                "{} is version {dump_major}, older than the server ({server_major}): \
                 set {PG_BINDIR_ENV} to the bin directory of PostgreSQL {server_major} or newer",
                tools.program("pg_dump").display()
            )));
        }
        Ok(tools)
    }

    pub fn program(&self, name: &str) -> PathBuf {
        self.bindir
            .as_ref()
            .map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
    }

    /// `NAME --version`'s major version ("pg_dump (PostgreSQL) 15.10 (Debian …)" → 15).
    async fn major_version(&self, name: &str) -> Result<i32, LoaderError> {
        let program = self.program(name);
        let out = tokio::process::Command::new(&program)
            .arg("--version")
            .output()
            .await
            .map_err(|e| {
                LoaderError::Config(format!(
                    "cannot run {}: {e} (set {PG_BINDIR_ENV} to PostgreSQL's bin directory)",
                    program.display()
                ))
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        parse_major(&text).ok_or_else(|| {
            LoaderError::Config(format!(
                "{} --version said {text:?}, not a PostgreSQL version",
                program.display()
            ))
        })
    }
}

fn parse_major(version_output: &str) -> Option<i32> {
    let after = version_output.split(')').nth(1)?.trim();
    after.split(['.', ' ']).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_the_client_programs() {
        assert_eq!(
            parse_major("pg_dump (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(parse_major("pg_dump (PostgreSQL) 17beta1\n"), None);
        assert_eq!(parse_major("pg_dump (PostgreSQL) 16.2\n"), Some(16));
    }
}
