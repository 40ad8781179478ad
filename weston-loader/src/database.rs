//! A database the loader connects to, its URL parsed once: where it is, the password (from
//! the URL's user information or its `?password=` parameter, which libpq and sqlx both
//! accept), the connect timeout and the session's name. Every session any command opens
//! (the pool, `verify`'s and `scratch`'s own connections, pg_dump's) is made from it, so
//! each waits at most the timeout, and the password is never printed (the redacted URL is
//! the only text form) nor put in another program's argv (it goes in PGPASSWORD).

use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use reqwest::Url;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::ConnectOptions;

use crate::cli::{DatabaseArgs, DB_CONNECT_TIMEOUT_ENV};
use crate::LoaderError;

/// Query parameters of sqlx that libpq does not know (libpq refuses unknown ones).
const SQLX_ONLY_PARAMS: &[&str] = &["statement-cache-capacity"];

/// Query parameters that carry a secret: taken out of the URL, never printed.
const SECRET_PARAMS: &[&str] = &["password"];

/// The passphrase of an encrypted client key (libpq's `sslpassword`): sqlx cannot open such
/// a key and would log the parameter it does not know, value and all, so it is refused.
const UNUSABLE_SECRET_PARAMS: &[&str] = &["sslpassword"];

/// A database URL, parsed once. `Debug` and `Display` show the redacted URL only.
#[derive(Clone, PartialEq, Eq)]
pub struct Database {
    /// Without the password (user information and query), sqlx's own parameters kept.
    url: Url,
    password: Option<String>,
    connect_timeout: Duration,
    application_name: String,
    /// Who this database is in messages: "the database", "the other database (--against)".
    role: String,
}

impl Database {
    /// The command line's database (DATABASE_URL), its timeout, the command's session name.
    pub fn from_args(args: &DatabaseArgs, application_name: &str) -> Result<Database, LoaderError> {
        let url = args.database_url.as_deref().ok_or_else(|| {
            LoaderError::Config(
                "DATABASE_URL is not set (flag --database-url, the environment, or .env.local)"
                    .into(),
            )
        })?;
        Database::parse(
            url,
            Duration::from_secs(args.connect_timeout_secs),
            application_name,
        )
    }

    pub fn parse(
        text: &str,
        connect_timeout: Duration,
        application_name: &str,
    ) -> Result<Database, LoaderError> {
        // Never the URL itself in the message: it may hold the password.
        let mut url = Url::parse(text)
            .map_err(|e| LoaderError::Config(format!("the database URL is not a URL: {e}")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(LoaderError::Config(format!(
                "the database URL must start with postgres:// or postgresql://, not {}://",
                url.scheme()
            )));
        }
        let mut password = url
            .password()
            .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned());
        if password.is_some() {
            url.set_password(None)
                .map_err(|()| LoaderError::Config("the database URL has no host".into()))?;
        }
        let mut kept = Vec::new();
        for (key, value) in url.query_pairs() {
            if UNUSABLE_SECRET_PARAMS.contains(&key.as_ref()) {
                return Err(LoaderError::Config(format!(
                    "the database URL's {key} is not supported: the loader cannot open an \
                     encrypted client key; give it a key without a passphrase (sslkey, mode 600)"
                )));
            }
            if SECRET_PARAMS.contains(&key.as_ref()) {
                // libpq: a later setting wins over the user information.
                password = Some(value.into_owned());
            } else {
                kept.push((key.into_owned(), value.into_owned()));
            }
        }
        set_query(&mut url, &kept);
        Ok(Database {
            url,
            password,
            connect_timeout,
            application_name: application_name.to_string(),
            role: "the database".into(),
        })
    }

    /// The same database named otherwise in messages.
    #[must_use]
    pub fn called(mut self, role: &str) -> Database {
        self.role = role.to_string();
        self
    }

    /// The password the URL carried, for PGPASSWORD.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The URL as libpq programs and people take it: no password, no sqlx-only parameter.
    pub fn redacted(&self) -> String {
        let mut url = self.url.clone();
        for param in SQLX_ONLY_PARAMS {
            remove_param(&mut url, param);
        }
        url.to_string()
    }

    /// The same server, user and password, another database.
    #[must_use]
    pub fn with_database(&self, database: &str) -> Database {
        let mut other = self.clone();
        other.url.set_path(&format!("/{}", utf8_percent(database)));
        // A `dbname` parameter would win over the path.
        remove_param(&mut other.url, "dbname");
        other
    }

    /// The same server and database, another user and no password.
    #[must_use]
    pub fn with_user(&self, user: &str) -> Database {
        let mut other = self.clone();
        remove_param(&mut other.url, "user");
        // A URL without a host (a socket's, `postgres:///db?host=/run/x`) takes no user
        // name before it: the parameter then.
        if other.url.set_username(&utf8_percent(user)).is_err() {
            other.url.query_pairs_mut().append_pair("user", user);
        }
        other.password = None;
        other
    }

    /// The same server and database with no user (libpq then takes PGUSER, else the login
    /// name) and no password: for a command someone else runs.
    #[must_use]
    pub fn without_user(&self) -> Database {
        let mut other = self.clone();
        remove_param(&mut other.url, "user");
        // A URL without a host has no user to remove.
        let _ = other.url.set_username("");
        other.password = None;
        other
    }

    /// The database the URL names (libpq's default, the user's name, when none).
    pub fn name(&self) -> String {
        if let Some((_, name)) = self.url.query_pairs().find(|(k, _)| k == "dbname") {
            return name.into_owned();
        }
        let path = self.url.path().trim_start_matches('/');
        if path.is_empty() {
            self.user()
        } else {
            percent_decode_str(path).decode_utf8_lossy().into_owned()
        }
    }

    fn user(&self) -> String {
        if let Some((_, user)) = self.url.query_pairs().find(|(k, _)| k == "user") {
            return user.into_owned();
        }
        let user = percent_decode_str(self.url.username())
            .decode_utf8_lossy()
            .into_owned();
        if user.is_empty() {
            "postgres".into()
        } else {
            user
        }
    }

    /// sqlx's options for a session of this database (password and session name included).
    pub fn connect_options(&self) -> Result<PgConnectOptions, LoaderError> {
        let options = PgConnectOptions::from_str(self.url.as_str()).map_err(|e| {
            LoaderError::Config(format!("{} ({}): {e}", self.role, self.redacted()))
        })?;
        let options = match &self.password {
            Some(password) => options.password(password),
            None => options,
        };
        Ok(options.application_name(&self.application_name))
    }

    /// "database weston on db.example:5432" (no user, no password).
    pub fn describe(&self) -> String {
        match self.connect_options() {
            Ok(o) => match o.get_socket() {
                Some(socket) => format!("database {} on {}", self.name(), socket.display()),
                None => format!(
                    "database {} on {}:{}",
                    self.name(),
                    o.get_host(),
                    o.get_port()
                ),
            },
            Err(_) => format!("database {}", self.name()),
        }
    }

    /// One session with `options` (made from `connect_options`), given up after the connect
    /// timeout; the error names this database.
    pub async fn connect_with(
        &self,
        options: &PgConnectOptions,
    ) -> Result<PgConnection, LoaderError> {
        let cannot = |why: String| {
            LoaderError::Config(format!(
                "cannot connect to {} ({}): {why}",
                self.role,
                self.describe()
            ))
        };
        tokio::time::timeout(self.connect_timeout, options.connect())
            .await
            .map_err(|_| {
                cannot(format!(
                    "no answer within {}s ({DB_CONNECT_TIMEOUT_ENV})",
                    self.connect_timeout.as_secs()
                ))
            })?
            .map_err(|e| cannot(crate::error::describe(&e)))
    }

    /// One session, given up after the connect timeout.
    pub async fn connect(&self) -> Result<PgConnection, LoaderError> {
        self.connect_with(&self.connect_options()?).await
    }

    /// A libpq client program (pg_dump, pg_restore) for this database: `--dbname` gets the
    /// redacted URL, the password and the timeout go in its environment (argv shows in `ps`).
    pub fn client_command(&self, program: &std::path::Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command
            .arg("--dbname")
            .arg(self.redacted())
            .env(
                "PGCONNECT_TIMEOUT",
                self.connect_timeout.as_secs().to_string(),
            )
            .env("PGAPPNAME", &self.application_name);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password);
        }
        command
    }
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.redacted())
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

fn remove_param(url: &mut Url, name: &str) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    set_query(url, &kept);
}

fn set_query(url: &mut Url, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
}

/// RFC 3986's unreserved characters stay as they are.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn utf8_percent(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// Sets up every session of the loader's pool: names resolved from where pg_weston lives
/// (`home::pin_search_path`), and no JIT compilation. The loader's statements are short
/// but their estimates over a table of many monthly partitions pass `jit_above_cost`:
/// compiling them cost more than running them (the universe's old listing: 2 s at 12,000
/// symbols x 126 partitions, 0.37 s without JIT).
pub async fn set_up_session(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    crate::home::pin_search_path(&mut *conn).await?;
    sqlx::query("SELECT pg_catalog.set_config('jit', 'off', false)")
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Database {
        Database::parse(text, Duration::from_secs(3), "test").unwrap()
    }

    #[test]
    fn the_password_leaves_the_url() {
        let db = parse("postgres://loader:s%40cret@db.example:5432/weston?sslmode=require");
        assert_eq!(db.password(), Some("s@cret"));
        assert_eq!(
            db.redacted(),
            "postgres://loader@db.example:5432/weston?sslmode=require"
        );
        assert_eq!(db.name(), "weston");
        assert_eq!(
            db.with_database("postgres").redacted(),
            "postgres://loader@db.example:5432/postgres?sslmode=require"
        );
        assert_eq!(db.with_database("postgres").password(), Some("s@cret"));
        let alice = db.with_user("alice").with_database("weston_scratch_x");
        assert_eq!(
            alice.redacted(),
            "postgres://alice@db.example:5432/weston_scratch_x?sslmode=require"
        );
        assert_eq!(alice.password(), None);
        let anyone = db.without_user();
        assert_eq!(
            anyone.redacted(),
            "postgres://db.example:5432/weston?sslmode=require"
        );
        assert_eq!(anyone.password(), None);
        assert_eq!(
            parse("postgres://h/?dbname=w&user=u")
                .without_user()
                .redacted(),
            "postgres://h/?dbname=w"
        );
    }

    #[test]
    fn a_password_parameter_is_a_password() {
        let db = parse("postgres://loader@db:5432/weston?sslmode=disable&password=p%26zq%20w&application_name=x");
        assert_eq!(db.password(), Some("p&zq w"));
        let shown = [
            db.redacted(),
            db.to_string(),
            format!("{db:?}"),
            db.with_user("alice").redacted(),
            db.with_database("postgres").redacted(),
        ];
        for text in shown {
            assert!(
                !text.contains("zq") && !text.contains("password="),
                "{text}"
            );
        }
        let options = db.connect_options().unwrap();
        assert_eq!(options.get_database(), Some("weston"));
        assert_eq!(options.get_application_name(), Some("test"));
    }

    #[test]
    fn a_client_key_passphrase_is_refused_unprinted() {
        let e = Database::parse(
            "postgres://loader@db/weston?sslmode=verify-full&sslpassword=hunter2",
            Duration::from_secs(1),
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("sslpassword is not supported"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn socket_hosts_stay_and_sqlx_only_parameters_go() {
        let db =
            parse("postgres://postgres@localhost/weston?host=/tmp/sock&statement-cache-capacity=0");
        assert_eq!(
            db.redacted(),
            "postgres://postgres@localhost/weston?host=%2Ftmp%2Fsock"
        );
        assert_eq!(db.describe(), "database weston on /tmp/sock");
        assert!(Database::parse("mysql://x@y/z", Duration::from_secs(1), "t").is_err());
        let e = Database::parse("postgres://u:hunter2@[bad", Duration::from_secs(1), "t")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_url_without_a_host_is_a_socket_url() {
        let db = parse("postgres:///weston?host=/run/postgresql&password=zq");
        assert_eq!(db.password(), Some("zq"));
        assert_eq!(db.name(), "weston");
        assert_eq!(db.describe(), "database weston on /run/postgresql");
        let alice = db.with_user("alice");
        assert_eq!(alice.user(), "alice");
        assert!(!alice.redacted().contains("zq"), "{}", alice.redacted());
    }

    #[test]
    fn dbname_and_user_parameters_name_the_database_and_give_way() {
        let db = parse("postgres://h/?dbname=weston&user=loader");
        assert_eq!(db.name(), "weston");
        assert_eq!(db.with_database("other").name(), "other");
        assert_eq!(
            db.with_user("alice").redacted(),
            "postgres://alice@h/?dbname=weston"
        );
    }
}
