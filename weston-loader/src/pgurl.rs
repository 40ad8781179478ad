//! Connection URLs handed to other programs (pg_dump, pg_restore) and to people (a scratch
//! database's URL): the password is taken out, so it never shows in `ps`, a log or a
//! printed command; libpq finds it in PGPASSWORD or ~/.pgpass.

use percent_encoding::percent_decode_str;
use reqwest::Url;

use crate::LoaderError;

/// A PostgreSQL URL without its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    url: Url,
    password: Option<String>,
}

/// Query parameters of sqlx that libpq does not know (libpq refuses unknown ones).
const SQLX_ONLY_PARAMS: &[&str] = &["statement-cache-capacity"];

impl PgUrl {
    pub fn parse(text: &str) -> Result<PgUrl, LoaderError> {
        let mut url = Url::parse(text)
            .map_err(|e| LoaderError::Config(format!("the database URL is not a URL: {e}")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(LoaderError::Config(format!(
                "the database URL must start with postgres:// or postgresql://, not {}://",
                url.scheme()
            )));
        }
        let password = url
            .password()
            .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned());
        url.set_password(None)
            .map_err(|()| LoaderError::Config("the database URL has no host".into()))?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !SQLX_ONLY_PARAMS.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        Ok(PgUrl { url, password })
    }

    /// The password the URL carried, for PGPASSWORD.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The same server and user, another database.
    pub fn with_database(&self, database: &str) -> PgUrl {
        let mut url = self.url.clone();
        url.set_path(&format!("/{}", utf8_percent(database)));
        PgUrl {
            url,
            password: self.password.clone(),
        }
    }

    /// The same server and database, another user and no password.
    pub fn with_user(&self, user: &str) -> PgUrl {
        let mut url = self.url.clone();
        // A URL with a host always accepts a user name.
        let _ = url.set_username(&utf8_percent(user));
        PgUrl {
            url,
            password: None,
        }
    }

    /// The database the URL names (libpq's default, the user's name, when none).
    pub fn database(&self) -> String {
        let path = self.url.path().trim_start_matches('/');
        if path.is_empty() {
            self.user()
        } else {
            percent_decode_str(path).decode_utf8_lossy().into_owned()
        }
    }

    fn user(&self) -> String {
        let user = percent_decode_str(self.url.username())
            .decode_utf8_lossy()
            .into_owned();
        if user.is_empty() {
            "postgres".into()
        } else {
            user
        }
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

impl std::fmt::Display for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.url.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url() {
        let url = PgUrl::parse("postgres://loader:s%40cret@db.example:5432/weston?sslmode=require")
            .unwrap();
        assert_eq!(url.password(), Some("s@cret"));
        assert_eq!(
            url.as_str(),
            "postgres://loader@db.example:5432/weston?sslmode=require"
        );
        assert_eq!(url.database(), "weston");
        assert_eq!(
            url.with_database("postgres").as_str(),
            "postgres://loader@db.example:5432/postgres?sslmode=require"
        );
        let alice = url.with_user("alice").with_database("weston_scratch_x");
        assert_eq!(
            alice.as_str(),
            "postgres://alice@db.example:5432/weston_scratch_x?sslmode=require"
        );
        assert_eq!(alice.password(), None);
    }

    #[test]
    fn socket_hosts_stay_and_sqlx_only_parameters_go() {
        let url = PgUrl::parse(
            "postgres://postgres@localhost/weston?host=/tmp/sock&statement-cache-capacity=0",
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "postgres://postgres@localhost/weston?host=%2Ftmp%2Fsock"
        );
        assert!(PgUrl::parse("mysql://x@y/z").is_err());
    }
}
