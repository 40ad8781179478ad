//! Where pg_weston lives: the extension's schema (`weston` since 0.4.0), with its tables in
//! `weston_data` since 0.8.0 (migration 0034 moves the migrations' tables there; `weston`
//! keeps views of the same names for people). The loader's own SQL names pg_weston's tables
//! and functions unqualified and runs on sessions whose `search_path` the loader sets to
//! `pg_catalog, weston_data, <that schema>`, so it writes the tables themselves (COPY cannot
//! target a view), neither the database's nor a role's default `search_path` decides what it
//! reads or writes, and a database whose extension update or migration is still pending (an
//! earlier version, in public; tables still in weston) keeps working until it is done.

use sqlx::postgres::PgConnection;

/// pg_weston's schema since 0.4.0.
pub const SCHEMA: &str = "weston";

/// The database's default `search_path`, set by migration 0009: every name of the contract
/// resolves unqualified, and what a session creates unqualified never lands in `SCHEMA`.
pub const DATABASE_SEARCH_PATH: &str = "\"$user\", app, public, weston";

/// The schema pg_weston lives in on this connection's database (`SCHEMA` before it is installed).
pub async fn schema(conn: &mut PgConnection) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(include_str!("../sql/home_schema.sql"))
        .fetch_one(conn)
        .await
}

/// The schema of pg_weston's tables when the extension made one (`weston_data`, 0.8.0).
pub async fn data_schema(conn: &mut PgConnection) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(include_str!("../sql/data_schema.sql"))
        .fetch_optional(conn)
        .await
}

/// Makes this session resolve unqualified names in pg_catalog, then in the tables' schema,
/// then in pg_weston's (temporary tables, always searched first, are named `pg_temp.` by
/// the loader).
pub async fn pin_search_path(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let home = schema(conn).await?;
    let data = data_schema(conn).await?;
    sqlx::query(
        "SELECT pg_catalog.set_config('search_path', 'pg_catalog, '
                || coalesce(pg_catalog.quote_ident($2) || ', ', '') || pg_catalog.quote_ident($1), false)",
    )
    .bind(home)
    .bind(data)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `search_path` for applying migrations: pg_weston's schema, then public; once migration
/// 0034 has moved the tables (and the history) to `weston_data`, that schema first. Unqualified
/// names in a migration are created in, and resolved from, the first, and sqlx finds its
/// history (`_sqlx_migrations`, unqualified in sqlx) there. Once pg_weston is in `SCHEMA`
/// the history moves there too from public, where loaders before 0.4.0 kept it. Returns the
/// session's `search_path` before, to put back with `restore_search_path`.
pub async fn enter_for_migrations(conn: &mut PgConnection) -> Result<String, sqlx::Error> {
    let before: String = sqlx::query_scalar("SELECT pg_catalog.current_setting('search_path')")
        .fetch_one(&mut *conn)
        .await?;
    let home = schema(conn).await?;
    if home == SCHEMA {
        sqlx::raw_sql(include_str!("../sql/history_to_weston.sql"))
            .execute(&mut *conn)
            .await?;
    }
    let moved: bool = sqlx::query_scalar(
        "SELECT pg_catalog.to_regclass('weston_data._sqlx_migrations') IS NOT NULL",
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "SELECT pg_catalog.set_config('search_path',
                CASE WHEN $2 THEN 'weston_data, ' ELSE '' END || pg_catalog.quote_ident($1) || ', public', false)",
    )
    .bind(home)
    .bind(moved)
    .execute(&mut *conn)
    .await?;
    Ok(before)
}

/// Puts back the `search_path` `enter_for_migrations` returned.
pub async fn restore_search_path(conn: &mut PgConnection, before: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_catalog.set_config('search_path', $1, false)")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(())
}
