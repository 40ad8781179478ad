//! `weston-loader scratch create|list|drop NAME`: a developer's own database on the shared
//! server. The shared market data is readable there through postgres_fdw foreign tables
//! (not copied, not writable: the foreign server is not updatable and its user mapping logs
//! in as the scratch database's own reader role, a member of app_ro in the shared
//! database); everything else in it is the developer's. Run with a superuser's
//! DATABASE_URL naming the shared database (creating pg_weston, a C extension, needs one).

use chrono::{SecondsFormat, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, PgPool};

use crate::cli::ScratchAction;
use crate::database::Database;
use crate::LoaderError;

pub const PREFIX: &str = "weston_scratch_";

/// What `create` writes as the database's comment: marks it as a scratch database (`drop`
/// refuses any database without it) and says what `list` shows. No secret.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    weston_scratch_of: String,
    created: String,
    reader: String,
}

#[derive(Debug, sqlx::FromRow)]
struct Shared {
    host: String,
    port: String,
    dbname: String,
    tables_schema: Option<String>,
    extension_schema: Option<String>,
    extension_version: Option<String>,
    search_path: String,
    /// The definition of the reads' ticker resolution (migration 0016), '' before it.
    ticker_pieces: String,
    caller_is_superuser: Option<bool>,
}

pub async fn scratch(
    pool: &PgPool,
    shared_db: &Database,
    action: &ScratchAction,
) -> Result<(), LoaderError> {
    match action {
        ScratchAction::Create { name, owner } => {
            let created = create(pool, shared_db, name, owner.as_deref()).await?;
            println!("{created}");
        }
        ScratchAction::List => print!("{}", list(pool).await?),
        ScratchAction::Drop { name } => {
            let dropped = drop_scratch(pool, name).await?;
            println!(
                "scratch: dropped {dropped} and its reader role; the shared data is untouched"
            );
        }
    }
    Ok(())
}

/// `alice` or `weston_scratch_alice` → `weston_scratch_alice`; letters, digits and `_` only.
pub fn database_name(name: &str) -> Result<String, LoaderError> {
    let short = name.strip_prefix(PREFIX).unwrap_or(name);
    let valid = !short.is_empty()
        && short.len() <= 40
        && short
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(format!("{PREFIX}{short}"))
    } else {
        Err(LoaderError::Config(format!(
            "scratch name {name:?}: use 1 to 40 lower-case letters, digits or _"
        )))
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the scratch database; returns its connection URL (as the owner, no password).
pub async fn create(
    pool: &PgPool,
    shared_db: &Database,
    name: &str,
    owner: Option<&str>,
) -> Result<String, LoaderError> {
    let database = database_name(name)?;
    let shared: Shared = sqlx::query_as(include_str!("../sql/scratch_shared.sql"))
        .fetch_one(pool)
        .await?;
    if shared.caller_is_superuser != Some(true) {
        return Err(LoaderError::Config(
            "scratch create needs a superuser's DATABASE_URL (it creates a database, a role and pg_weston, a C extension)".into(),
        ));
    }
    let (Some(tables_schema), Some(extension_schema), Some(version)) = (
        &shared.tables_schema,
        &shared.extension_schema,
        &shared.extension_version,
    ) else {
        return Err(LoaderError::Config(format!(
            "database {} has no pg_weston market data to share: migrate it first",
            shared.dbname
        )));
    };
    let owner = match owner {
        Some(o) => o.to_string(),
        None => {
            sqlx::query_scalar("SELECT current_user::text")
                .fetch_one(pool)
                .await?
        }
    };
    let owner_can_login: Option<bool> =
        sqlx::query_scalar("SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1")
            .bind(&owner)
            .fetch_optional(pool)
            .await?;
    if owner_can_login != Some(true) {
        return Err(LoaderError::Config(format!(
            "--owner {owner}: no such login role (create it first, e.g. CREATE ROLE {owner} LOGIN IN ROLE app_ro)"
        )));
    }
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)",
    )
    .bind(&database)
    .fetch_one(pool)
    .await?;
    if exists {
        return Err(LoaderError::Config(format!(
            "database {database} exists already"
        )));
    }
    let reader = format!("{database}_reader");
    let marker = Marker {
        weston_scratch_of: shared.dbname.clone(),
        created: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        reader: reader.clone(),
    };
    sqlx::query(&format!(
        "CREATE DATABASE {} OWNER {}",
        quote_ident(&database),
        quote_ident(&owner)
    ))
    .execute(pool)
    .await?;
    let built = build(
        pool,
        shared_db,
        &database,
        &owner,
        &reader,
        &marker,
        &shared,
        tables_schema,
        extension_schema,
        version,
    )
    .await;
    if let Err(e) = built {
        // Half a scratch database is none: take it away again, then report.
        let _ = drop_database_and_reader(pool, &database, &reader).await;
        return Err(e);
    }
    // The owner's URL: no password (the caller's is not the owner's, and is never printed).
    Ok(shared_db
        .with_database(&database)
        .with_user(&owner)
        .redacted())
}

#[allow(clippy::too_many_arguments)]
async fn build(
    pool: &PgPool,
    shared_db: &Database,
    database: &str,
    owner: &str,
    reader: &str,
    marker: &Marker,
    shared: &Shared,
    tables_schema: &str,
    extension_schema: &str,
    version: &str,
) -> Result<(), LoaderError> {
    let db = quote_ident(database);
    let comment = serde_json::to_string(marker).map_err(anyhow::Error::from)?;
    sqlx::query(&format!(
        "COMMENT ON DATABASE {db} IS '{}'",
        comment.replace('\'', "''")
    ))
    .execute(pool)
    .await?;
    // Only the owner (and superusers) connect; nobody else sees into it.
    sqlx::query(&format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC"))
        .execute(pool)
        .await?;
    sqlx::query(&format!(
        "GRANT ALL ON DATABASE {db} TO {}",
        quote_ident(owner)
    ))
    .execute(pool)
    .await?;
    let password = Alphanumeric.sample_string(&mut rand::rng(), 40);
    let mut conn = pool.acquire().await?;
    quiet(&mut conn).await?;
    set(&mut conn, "weston_scratch.reader", reader).await?;
    set(&mut conn, "weston_scratch.password", &password).await?;
    sqlx::raw_sql(include_str!("../sql/scratch_reader.sql"))
        .execute(&mut *conn)
        .await?;
    set(&mut conn, "weston_scratch.password", "").await?;
    drop_conn(conn);

    let mut scratch = shared_db
        .with_database(database)
        .called("the new scratch database")
        .connect()
        .await?;
    quiet(&mut scratch).await?;
    for (name, value) in [
        ("weston_scratch.owner", owner),
        ("weston_scratch.reader", reader),
        ("weston_scratch.password", password.as_str()),
        ("weston_scratch.host", shared.host.as_str()),
        ("weston_scratch.port", shared.port.as_str()),
        ("weston_scratch.dbname", shared.dbname.as_str()),
        ("weston_scratch.tables_schema", tables_schema),
        ("weston_scratch.extension_schema", extension_schema),
        ("weston_scratch.extension_version", version),
        ("weston_scratch.search_path", shared.search_path.as_str()),
        (
            "weston_scratch.ticker_pieces",
            shared.ticker_pieces.as_str(),
        ),
    ] {
        set(&mut scratch, name, value).await?;
    }
    let setup = sqlx::raw_sql(include_str!("../sql/scratch_setup.sql"))
        .execute(&mut scratch)
        .await;
    let _ = scratch.close().await;
    setup?;
    Ok(())
}

/// A pooled session that held a secret in its settings is closed, not reused.
fn drop_conn(conn: sqlx::pool::PoolConnection<sqlx::Postgres>) {
    std::mem::drop(conn.detach());
}

/// No statement of this session reaches the server log (its settings hold a password).
async fn quiet(conn: &mut PgConnection) -> Result<(), LoaderError> {
    sqlx::raw_sql("SET log_statement = 'none'; SET log_min_duration_statement = -1; SET log_min_error_statement = 'panic'")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn set(conn: &mut PgConnection, name: &str, value: &str) -> Result<(), LoaderError> {
    sqlx::query("SELECT pg_catalog.set_config($1, $2, false)")
        .bind(name)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The scratch databases as a table (no secrets: the reader's password is in no catalog a
/// list shows).
pub async fn list(pool: &PgPool) -> Result<String, LoaderError> {
    let rows: Vec<(String, String, String, Option<String>)> =
        sqlx::query_as(include_str!("../sql/scratch_list.sql"))
            .fetch_all(pool)
            .await?;
    let mut out = format!(
        "{:<40} {:<20} {:>10}  {:<20}  {}\n",
        "name", "owner", "size", "created", "of"
    );
    for (name, owner, size, marker) in rows {
        let marker = marker.and_then(|m| serde_json::from_str::<Marker>(&m).ok());
        let (created, of) = marker.map_or_else(
            || ("(not made by scratch create)".to_string(), String::new()),
            |m| (m.created, m.weston_scratch_of),
        );
        out.push_str(&format!(
            "{name:<40} {owner:<20} {size:>10}  {created:<20}  {of}\n"
        ));
    }
    Ok(out)
}

/// Drops a scratch database (refusing any database `create` did not make) and its reader.
pub async fn drop_scratch(pool: &PgPool, name: &str) -> Result<String, LoaderError> {
    let database = database_name(name).map_err(|_| {
        LoaderError::Config(format!("refusing to drop {name}: not a scratch database"))
    })?;
    let marker: Option<Option<String>> = sqlx::query_scalar(
        "SELECT pg_catalog.shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database WHERE datname = $1",
    )
    .bind(&database)
    .fetch_optional(pool)
    .await?;
    let Some(marker) = marker else {
        return Err(LoaderError::Config(format!(
            "there is no scratch database {database}"
        )));
    };
    let Some(marker) = marker.and_then(|m| serde_json::from_str::<Marker>(&m).ok()) else {
        return Err(LoaderError::Config(format!(
            "refusing to drop {database}: it was not made by `weston-loader scratch create`"
        )));
    };
    drop_database_and_reader(pool, &database, &marker.reader).await?;
    Ok(database)
}

async fn drop_database_and_reader(
    pool: &PgPool,
    database: &str,
    reader: &str,
) -> Result<(), LoaderError> {
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(database)
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!("DROP ROLE IF EXISTS {}", quote_ident(reader)))
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_the_prefix_once_and_nothing_else_passes() {
        assert_eq!(database_name("alice").unwrap(), "weston_scratch_alice");
        assert_eq!(
            database_name("weston_scratch_alice").unwrap(),
            "weston_scratch_alice"
        );
        for bad in [
            "",
            "weston_scratch_",
            "Alice",
            "a-b",
            "a;drop",
            &"x".repeat(41),
        ] {
            assert!(database_name(bad).is_err(), "{bad:?}");
        }
    }
}
