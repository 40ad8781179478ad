//! A database's fingerprint, read from the catalog and the data (queries in `sql/verify_*.sql`).

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};

use super::diff::{Fields, Fingerprint};
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

/// Rows become text the same way on both sides, whatever the servers' defaults.
fn fixed_options(url: &str, application_name: &str) -> Result<PgConnectOptions, LoaderError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| LoaderError::Config(format!("the database URL: {e}")))?;
    Ok(options
        .application_name(application_name)
        .options([
            ("TimeZone", "UTC"),
            ("DateStyle", "ISO"),
            ("IntervalStyle", "postgres"),
            ("extra_float_digits", "3"),
            ("bytea_output", "hex"),
        ])
        .disable_statement_logging())
}

/// The fingerprint of the database at `url`; `sample` symbols' adjusted prices.
pub async fn fingerprint(url: &str, sample: usize) -> Result<Fingerprint, LoaderError> {
    let options = fixed_options(url, "weston-loader verify")?;
    let mut conn = options.connect().await.map_err(|e| {
        LoaderError::Config(format!(
            "cannot connect to {}: {}",
            describe_target(&options),
            crate::error::describe(&e)
        ))
    })?;
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
        let config = include_str!("../../sql/verify_config.sql").replace("{schema}", &schema);
        keyed(&mut conn, &mut print, CONFIG, &config).await?;
        adjusted(&mut conn, &mut print, sample).await?;
    }
    cron_jobs(&mut conn, &options, &mut print).await?;
    let _ = conn.close().await;
    Ok(print)
}

/// "database weston on 127.0.0.1:5432" (no user, no password).
pub fn describe_target(options: &PgConnectOptions) -> String {
    format!(
        "database {} on {}:{}",
        options.get_database().unwrap_or("(default)"),
        options.get_host(),
        options.get_port()
    )
}

/// Rows and checksum of every table.
async fn tables(conn: &mut PgConnection, print: &mut Fingerprint) -> Result<(), LoaderError> {
    let names: Vec<String> = sqlx::query_scalar(include_str!("../../sql/verify_tables.sql"))
        .fetch_all(&mut *conn)
        .await?;
    let template = include_str!("../../sql/verify_table_checksum.sql");
    for name in names {
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
    sample: usize,
) -> Result<(), LoaderError> {
    let present: bool = sqlx::query_scalar(
        "SELECT pg_catalog.to_regclass('securities') IS NOT NULL
            AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE proname = 'weston_adjusted_prices')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !present {
        return Ok(());
    }
    let symbols: Vec<String> =
        sqlx::query_scalar(include_str!("../../sql/verify_sample_symbols.sql"))
            .bind(i64::try_from(sample).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await?;
    for symbol in symbols {
        let mut fields = Fields::new();
        for (label, total_return) in [("split-adjusted", false), ("total return", true)] {
            let outcome = sqlx::query(include_str!("../../sql/verify_adjusted.sql"))
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
            fields.insert(label.into(), text);
        }
        print.insert(ADJUSTED, &symbol, fields);
    }
    Ok(())
}

/// This database's pg_cron jobs, wherever pg_cron keeps them on its server.
async fn cron_jobs(
    conn: &mut PgConnection,
    options: &PgConnectOptions,
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
        let mut cron = options
            .clone()
            .database(&cron_database)
            .connect()
            .await
            .map_err(|e| {
                LoaderError::Failed(anyhow::anyhow!(
                    "pg_cron keeps this server's jobs in database {cron_database}, which cannot be read: {}",
                    crate::error::describe(&e)
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
