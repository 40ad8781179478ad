//! Whether the connected role can dump the whole database, asked before pg_dump starts: a
//! role that cannot (an analyst's login, the nightly loader's) is told what it lacks and
//! nothing is written, rather than pg_dump failing part-way with the first table it meets.
//!
//! What pg_dump reads (PostgreSQL 15): it locks every table it dumps (`ACCESS SHARE`, which
//! needs `SELECT` on the table, through `USAGE` on its schema), reads each one's rows, leaf
//! partitions one by one and with `row_security` off (refused on a table whose policies apply
//! to the role), and reads every sequence. An extension's own tables are not dumped, except
//! those it marks as configuration (`pg_extension_config_dump`).

use sqlx::PgPool;

use crate::database::Database;
use crate::LoaderError;

/// Every relation pg_dump would read and what this role lacks for it. Catalog functions only,
/// on a `search_path` of `pg_catalog` alone: nothing a database user defined runs here.
const LACKING: &str = "
WITH me AS (
    SELECT r.rolsuper OR r.rolbypassrls AS bypass_rls
      FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
), dumped AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind, c.relowner, c.relrowsecurity,
           c.relforcerowsecurity, n.oid AS nsp
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'S')
       AND n.nspname <> 'information_schema'
       AND n.nspname !~ '^pg_'
       AND (NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                           AND d.objid = c.oid AND d.deptype = 'e')
            OR EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE c.oid = ANY (e.extconfig)))
)
SELECT CASE WHEN NOT pg_catalog.has_schema_privilege(nsp, 'USAGE') THEN 'USAGE on schema'
            WHEN NOT pg_catalog.has_table_privilege(oid, 'SELECT') THEN 'SELECT on'
            ELSE 'exemption from the row-level security of' END AS lacks,
       pg_catalog.quote_ident(nspname) || CASE WHEN pg_catalog.has_schema_privilege(nsp, 'USAGE')
                                               THEN '.' || pg_catalog.quote_ident(relname) ELSE '' END
  FROM dumped, me
 WHERE NOT pg_catalog.has_schema_privilege(nsp, 'USAGE')
    OR NOT pg_catalog.has_table_privilege(oid, 'SELECT')
    OR (relkind <> 'S' AND relrowsecurity AND NOT me.bypass_rls
        AND (relforcerowsecurity OR NOT pg_catalog.pg_has_role(relowner, 'USAGE')))
 GROUP BY 1, 2
 ORDER BY 1, 2";

/// Names shown per kind of lack before "and N more".
const SHOWN: usize = 8;

/// Refuses (exit 2, nothing dumped) a role that could not dump every table; `stopped` says
/// what did not happen then. Returns whether the role is a superuser.
pub async fn require_whole_dump(
    pool: &PgPool,
    database: &Database,
    stopped: &str,
) -> Result<bool, LoaderError> {
    let mut tx = pool.begin().await?;
    // Read only, as defence in depth: the catalog and one table are all it reads.
    sqlx::raw_sql("SET TRANSACTION READ ONLY; SET LOCAL search_path = pg_catalog, pg_temp")
        .execute(&mut *tx)
        .await?;
    let (user, superuser): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *tx)
    .await?;
    let lacking: Vec<(String, String)> = sqlx::query_as(LACKING).fetch_all(&mut *tx).await?;
    tx.rollback().await?;
    if lacking.is_empty() {
        return Ok(superuser);
    }
    Err(LoaderError::Config(format!(
        "role {user} cannot dump the whole {}: it lacks {}. Nothing was dumped; {stopped}. \
         Take the snapshot as a member of dba, or as a superuser",
        database.describe(),
        describe_lacking(&lacking)
    )))
}

/// "SELECT on weston.a, weston.b; USAGE on schema s", at most `SHOWN` names per kind.
fn describe_lacking(lacking: &[(String, String)]) -> String {
    let mut kinds: Vec<(&str, Vec<&str>)> = Vec::new();
    for (kind, name) in lacking {
        match kinds.iter_mut().find(|(k, _)| k == kind) {
            Some((_, names)) => names.push(name),
            None => kinds.push((kind, vec![name])),
        }
    }
    kinds
        .into_iter()
        .map(|(kind, names)| {
            let shown = names
                .iter()
                .take(SHOWN)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            match names.len().saturating_sub(SHOWN) {
                0 => format!("{kind} {shown}"),
                more => format!("{kind} {shown} and {more} more"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_role_lacks_is_named_and_bounded() {
        let mut lacking: Vec<(String, String)> = (1..=10)
            .map(|i| ("SELECT on".to_string(), format!("weston.t{i:02}")))
            .collect();
        lacking.push(("USAGE on schema".into(), "secret".into()));
        assert_eq!(
            describe_lacking(&lacking),
            "SELECT on weston.t01, weston.t02, weston.t03, weston.t04, weston.t05, weston.t06, \
             weston.t07, weston.t08 and 2 more; USAGE on schema secret"
        );
    }
}
