//! A database's fingerprint, read from the catalog and the data (queries in `sql/verify_*.sql`).

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};

use super::diff::{Fields, Fingerprint};
use crate::database::Database;
use crate::LoaderError;

/// Sections of the fingerprint, as they are named in the list of differences.
pub const TABLE: &str = "table";
pub const PARTITION: &str = "partition";
pub const EXTENSION: &str = "extension";
pub const CONFIG: &str = "config";
pub const CRON: &str = "cron job";
pub const PRIVILEGES: &str = "privileges of";
pub const ROLE: &str = "role";
pub const ADJUSTED: &str = "adjusted prices of";

/// A session in which nothing a database user can define runs, and rows become text the same
/// way on both sides whatever the servers' defaults. `verify` runs as a superuser over
/// tables other roles own: its search_path is pg_catalog then pg_temp (no function,
/// operator or cast of another schema is found unqualified, and its SQL qualifies
/// pg_weston's objects by the extension's schema), row security off (an error, never a
/// policy's function), and every read in one read-only transaction.
fn fixed_options(database: &Database) -> Result<PgConnectOptions, LoaderError> {
    Ok(database
        .connect_options()?
        .options([
            // No space: the startup options are split at whitespace.
            ("search_path", "pg_catalog,pg_temp"),
            ("row_security", "off"),
            ("TimeZone", "UTC"),
            ("DateStyle", "ISO"),
            ("IntervalStyle", "postgres"),
            ("extra_float_digits", "3"),
            ("bytea_output", "hex"),
        ])
        .disable_statement_logging())
}

/// A session of `fixed_options` in its read-only transaction (one snapshot of the database).
async fn read_only_session(database: &Database) -> Result<PgConnection, LoaderError> {
    let mut conn = database.connect_with(&fixed_options(database)?).await?;
    sqlx::raw_sql(include_str!("../../sql/verify_session.sql"))
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// The fingerprint of `database`; `sample` symbols' adjusted prices.
pub async fn fingerprint(database: &Database, sample: usize) -> Result<Fingerprint, LoaderError> {
    let mut conn = read_only_session(database).await?;
    let mut print = Fingerprint::default();
    tables(&mut conn, &mut print).await?;
    keyed(
        &mut conn,
        &mut print,
        PARTITION,
        include_str!("../../sql/verify_partitions.sql"),
    )
    .await?;
    keyed(
        &mut conn,
        &mut print,
        EXTENSION,
        include_str!("../../sql/verify_extensions.sql"),
    )
    .await?;
    keyed(
        &mut conn,
        &mut print,
        PRIVILEGES,
        include_str!("../../sql/verify_privileges.sql"),
    )
    .await?;
    keyed(
        &mut conn,
        &mut print,
        ROLE,
        include_str!("../../sql/verify_roles.sql"),
    )
    .await?;
    let schema: Option<String> =
        sqlx::query_scalar(include_str!("../../sql/verify_extension_schema.sql"))
            .fetch_optional(&mut conn)
            .await?;
    if let Some(schema) = schema {
        // The extension's tables: in weston_data once pg_weston 0.8.0 made it.
        let tables = match crate::home::data_schema(&mut conn).await? {
            Some(data) => format!("\"{}\"", data.replace('"', "\"\"")),
            None => schema.clone(),
        };
        let config = include_str!("../../sql/verify_config.sql").replace("{schema}", &tables);
        keyed(&mut conn, &mut print, CONFIG, &config).await?;
        adjusted(&mut conn, &mut print, &schema, &tables, sample).await?;
    }
    cron_jobs(&mut conn, database, &mut print).await?;
    let _ = sqlx::raw_sql("COMMIT").execute(&mut conn).await;
    let _ = conn.close().await;
    Ok(print)
}

/// Rows and checksum of every table.
async fn tables(conn: &mut PgConnection, print: &mut Fingerprint) -> Result<(), LoaderError> {
    let names: Vec<String> = sqlx::query_scalar(include_str!("../../sql/verify_tables.sql"))
        .fetch_all(&mut *conn)
        .await?;
    let template = include_str!("../../sql/verify_table_checksum.sql");
    for name in names {
        // Held to the transaction's end: the table cannot become a view (whose query
        // would run) between this check and the read.
        sqlx::raw_sql(&format!("LOCK TABLE ONLY {name} IN ACCESS SHARE MODE"))
            .execute(&mut *conn)
            .await?;
        let still_a_table: bool =
            sqlx::query_scalar(include_str!("../../sql/verify_still_a_table.sql"))
                .bind(&name)
                .fetch_one(&mut *conn)
                .await?;
        if !still_a_table {
            return Err(LoaderError::Failed(anyhow::anyhow!(
                "{name} stopped being a table while verify read the database: verify again"
            )));
        }
        let row = sqlx::query(&template.replace("{table}", &name))
            .fetch_one(&mut *conn)
            .await?;
        let rows: i64 = row.try_get("rows")?;
        let checksum: String = row.try_get("checksum")?;
        print.insert(
            TABLE,
            &name,
            Fields::from([
                ("rows".into(), rows.to_string()),
                ("checksum".into(), checksum),
            ]),
        );
    }
    Ok(())
}

/// A query of `object text, fields jsonb` rows into `section`.
async fn keyed(
    conn: &mut PgConnection,
    print: &mut Fingerprint,
    section: &str,
    sql: &str,
) -> Result<(), LoaderError> {
    let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(sql).fetch_all(&mut *conn).await?;
    for (object, fields) in rows {
        print.insert(section, &object, json_fields(&fields));
    }
    Ok(())
}

fn json_fields(value: &serde_json::Value) -> Fields {
    value
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::Null => "NULL".to_string(),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The adjusted series (splits only, and total return) of a deterministic sample of symbols.
/// A series the function refuses is compared by its error message.
async fn adjusted(
    conn: &mut PgConnection,
    print: &mut Fingerprint,
    schema: &str,
    config_schema: &str,
    sample: usize,
) -> Result<(), LoaderError> {
    let tables: String = sqlx::query_scalar(
        &include_str!("../../sql/verify_tables_schema.sql").replace("{schema}", config_schema),
    )
    .fetch_one(&mut *conn)
    .await?;
    let present: bool = sqlx::query_scalar(include_str!("../../sql/verify_adjusted_present.sql"))
        .bind(&tables)
        .bind(schema)
        .fetch_one(&mut *conn)
        .await?;
    if !present {
        return Ok(());
    }
    let symbols: Vec<String> = sqlx::query_scalar(
        &include_str!("../../sql/verify_sample_symbols.sql").replace("{tables}", &tables),
    )
    .bind(i64::try_from(sample).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    let adjusted_sql = include_str!("../../sql/verify_adjusted.sql").replace("{schema}", schema);
    for symbol in symbols {
        let mut fields = Fields::new();
        for (label, total_return) in [("split-adjusted", false), ("total return", true)] {
            // A refused series must not end the transaction the other reads are in.
            sqlx::raw_sql("SAVEPOINT adjusted")
                .execute(&mut *conn)
                .await?;
            let outcome = sqlx::query(&adjusted_sql)
                .bind(&symbol)
                .bind(total_return)
                .fetch_one(&mut *conn)
                .await;
            let text = match outcome {
                Ok(row) => format!(
                    "{} rows, md5 {}",
                    row.try_get::<i64, _>("rows")?,
                    row.try_get::<String, _>("checksum")?
                ),
                Err(sqlx::Error::Database(e)) => format!("error: {}", e.message()),
                Err(e) => return Err(e.into()),
            };
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT adjusted; RELEASE SAVEPOINT adjusted")
                .execute(&mut *conn)
                .await?;
            fields.insert(label.into(), text);
        }
        print.insert(ADJUSTED, &symbol, fields);
    }
    Ok(())
}

/// This database's pg_cron jobs, wherever pg_cron keeps them on its server.
async fn cron_jobs(
    conn: &mut PgConnection,
    database: &Database,
    print: &mut Fingerprint,
) -> Result<(), LoaderError> {
    let (here, this_database, cron_database): (bool, String, Option<String>) =
        sqlx::query_as(include_str!("../../sql/verify_cron_location.sql"))
            .fetch_one(&mut *conn)
            .await?;
    let sql = include_str!("../../sql/verify_cron_jobs.sql");
    let jobs: Vec<(String, serde_json::Value)> = if here {
        sqlx::query_as(sql)
            .bind(&this_database)
            .fetch_all(&mut *conn)
            .await?
    } else if let Some(cron_database) = cron_database {
        let cron_db = database
            .with_database(&cron_database)
            .called("pg_cron's database (cron.database_name)");
        let mut cron = read_only_session(&cron_db).await.map_err(|e| {
            LoaderError::Failed(anyhow::anyhow!(
                "pg_cron keeps this server's jobs in database {cron_database}, which cannot be read: {e}"
            ))
        })?;
        let jobs = sqlx::query_as(sql)
            .bind(&this_database)
            .fetch_all(&mut cron)
            .await;
        let _ = cron.close().await;
        match jobs {
            Ok(jobs) => jobs,
            // pg_cron preloaded but not created in its database: no job anywhere.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Vec::new(),
            Err(e) => return Err(e.into()),
        }
    } else {
        Vec::new()
    };
    for (object, fields) in jobs {
        print.insert(CRON, &object, json_fields(&fields));
    }
    Ok(())
}
