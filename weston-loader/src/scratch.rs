//! `weston-loader scratch create|list|drop NAME`: a developer's own database on the shared
//! server. The shared market data is readable there through postgres_fdw foreign tables
//! (not copied, not writable: the foreign server is not updatable and its user mapping logs
//! in as the scratch database's own reader role, a member of app_ro in the shared
//! database); everything else in it is the developer's. Run with a superuser's
//! DATABASE_URL naming the shared database (creating pg_weston, a C extension, needs one).
//!
//! Which databases and roles are scratch ones is kept in the shared database's registry
//! (`scratch_databases`, migration 0032, in weston_data since migration 0034), which only
//! superusers can write: `list` and `drop` read nothing else, so a scratch owner (who can
//! rewrite her database's comment) cannot point `drop` at another role. Nothing read back from a database is
//! executed as SQL: the scratch database gets all of pg_weston from `CREATE EXTENSION`.

use rand::distr::{Alphanumeric, SampleString};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, PgPool};

use crate::cli::ScratchAction;
use crate::database::Database;
use crate::LoaderError;

pub const PREFIX: &str = "weston_scratch_";

#[derive(Debug, sqlx::FromRow)]
struct Shared {
    host: String,
    port: String,
    dbname: String,
    tables_schema: Option<String>,
    extension_schema: Option<String>,
    data_schema: String,
    extension_version: Option<String>,
    search_path: String,
    caller_is_superuser: Option<bool>,
}

/// A row of the registry: what `create` made, as only a superuser can have written it.
#[derive(Debug, sqlx::FromRow)]
struct Registered {
    owner_role: String,
    reader_role: String,
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

/// The registry's qualified name, once it is sure only superusers can write it: it exists
/// (migration 0032, which waits for pg_weston 0.7.0) and a superuser owns it.
async fn registry(pool: &PgPool) -> Result<String, LoaderError> {
    let found: Option<(String, String, bool)> =
        sqlx::query_as(include_str!("../sql/scratch_registry.sql"))
            .fetch_optional(pool)
            .await?;
    match found {
        Some((name, _, true)) => Ok(name),
        Some((name, owner, false)) => Err(LoaderError::Config(format!(
            "refusing to use the scratch registry {name}: its owner {owner} is not a superuser, \
             so it could name roles for scratch drop to remove; as a superuser run \
             ALTER TABLE {name} OWNER TO postgres"
        ))),
        None => Err(LoaderError::Config(
            "this database has no scratch registry (scratch_databases, migration 0032): \
             as a superuser run ALTER EXTENSION pg_weston UPDATE, then weston-loader migrate"
                .into(),
        )),
    }
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
    let registry = registry(pool).await?;
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
    let reader = format!("{database}_reader");
    let (database_exists, reader_exists): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1),
                EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $2)",
    )
    .bind(&database)
    .bind(&reader)
    .fetch_one(pool)
    .await?;
    if database_exists {
        return Err(LoaderError::Config(format!(
            "database {database} exists already"
        )));
    }
    if reader_exists {
        return Err(LoaderError::Config(format!(
            "role {reader} exists already: scratch create makes its own reader role"
        )));
    }
    // Registered first: whatever happens next, `drop` knows what may be taken away.
    sqlx::query(&format!(
        "INSERT INTO {registry} (database, owner_role, reader_role) VALUES ($1, $2, $3)"
    ))
    .bind(&database)
    .bind(&owner)
    .bind(&reader)
    .execute(pool)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => LoaderError::Config(format!(
            "{database} is in the scratch registry already: scratch drop {database} first"
        )),
        e => e.into(),
    })?;
    let built = build(
        pool,
        shared_db,
        &database,
        &owner,
        &reader,
        &shared,
        tables_schema,
        extension_schema,
        version,
    )
    .await;
    if let Err(e) = built {
        // Half a scratch database is none: take away what this call made, then report.
        let _ = drop_registered(pool, &registry, &database).await;
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
    shared: &Shared,
    tables_schema: &str,
    extension_schema: &str,
    version: &str,
) -> Result<(), LoaderError> {
    let db = quote_ident(database);
    // The caller's until it is set up: an owner could connect at once and create schemas
    // (one named like pg_weston's, which CREATE EXTENSION would then install into).
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(pool)
        .await?;
    // Nobody else connects until it is set up, then only the owner (and superusers).
    sqlx::query(&format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC"))
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
        ("weston_scratch.data_schema", shared.data_schema.as_str()),
        ("weston_scratch.extension_version", version),
        ("weston_scratch.search_path", shared.search_path.as_str()),
    ] {
        set(&mut scratch, name, value).await?;
    }
    let setup = sqlx::raw_sql(include_str!("../sql/scratch_setup.sql"))
        .execute(&mut scratch)
        .await;
    let _ = scratch.close().await;
    setup?;
    sqlx::raw_sql(&format!(
        "ALTER DATABASE {db} OWNER TO {0}; GRANT ALL ON DATABASE {db} TO {0}",
        quote_ident(owner)
    ))
    .execute(pool)
    .await?;
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

/// The registered scratch databases as a table (no secrets: the reader's password is in
/// no catalog a list shows); one gone from the server shows as `(missing)`.
pub async fn list(pool: &PgPool) -> Result<String, LoaderError> {
    let registry = registry(pool).await?;
    let sql = include_str!("../sql/scratch_list.sql").replace("{registry}", &registry);
    let rows: Vec<(String, String, String, String, String, String)> =
        sqlx::query_as(&sql).fetch_all(pool).await?;
    let mut out = format!(
        "{:<40} {:<20} {:>10}  {:<20}  {:<20}  {}\n",
        "name", "owner", "size", "created", "by", "of"
    );
    for (name, owner, size, created, by, of) in rows {
        out.push_str(&format!(
            "{name:<40} {owner:<20} {size:>10}  {created:<20}  {by:<20}  {of}\n"
        ));
    }
    Ok(out)
}

/// Drops a registered scratch database and its reader role (refusing anything the
/// registry does not name, and any superuser role).
pub async fn drop_scratch(pool: &PgPool, name: &str) -> Result<String, LoaderError> {
    let database = database_name(name).map_err(|_| {
        LoaderError::Config(format!("refusing to drop {name}: not a scratch database"))
    })?;
    let registry = registry(pool).await?;
    drop_registered(pool, &registry, &database).await?;
    Ok(database)
}

/// Drops `database` and the reader role as the registry names them, then their row.
async fn drop_registered(pool: &PgPool, registry: &str, database: &str) -> Result<(), LoaderError> {
    let registered: Option<Registered> = sqlx::query_as(&format!(
        "SELECT owner_role::text, reader_role::text FROM {registry} WHERE database = $1"
    ))
    .bind(database)
    .fetch_optional(pool)
    .await?;
    let Some(registered) = registered else {
        return Err(LoaderError::Config(format!(
            "refusing to drop {database}: it is not in the scratch registry {registry} \
             (scratch drop takes away only what scratch create made)"
        )));
    };
    let reader_is_superuser: Option<bool> =
        sqlx::query_scalar("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1")
            .bind(&registered.reader_role)
            .fetch_optional(pool)
            .await?;
    if reader_is_superuser == Some(true) || registered.reader_role == registered.owner_role {
        return Err(LoaderError::Config(format!(
            "refusing to drop {database}: its registered reader role {} is a superuser or its owner",
            registered.reader_role
        )));
    }
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(database)
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "DROP ROLE IF EXISTS {}",
        quote_ident(&registered.reader_role)
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!("DELETE FROM {registry} WHERE database = $1"))
        .bind(database)
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
