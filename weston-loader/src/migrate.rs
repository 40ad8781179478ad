//! `weston-loader migrate`: the SQL files of `migrations/`, embedded in the binary.

use std::borrow::Cow;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Connection, PgPool};

use crate::{home, LoaderError};

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Migrations that need what a newer pg_weston adds, with a function (or, without
/// parentheses, a table) that version adds: each waits (with every later one) until a
/// superuser has run `ALTER EXTENSION pg_weston UPDATE`, so that the grants land on
/// functions that exist. Looked up from pg_weston's schema (`home`): an unqualified name is
/// found wherever the extension lives; `weston.weston_version()` only once it lives in
/// weston (0.4.0 moves it). 0034 moves the tables into the schema 0.8.0 makes.
const WAIT_FOR_EXTENSION: &[(i64, &str)] = &[
    (7, "weston_etl_set_stats(bigint,jsonb)"),
    (9, "weston.weston_version()"),
    (14, "weston_etl_finish_partial(bigint,text)"),
    (17, "weston_universe(date)"),
    (29, "weston_record_split(text,date,numeric,numeric,text)"),
    (32, "weston_ticker_pieces(text[],date)"),
    (34, "weston_data.weston_partition_config"),
    (35, "weston_decide_ticker_conflict(bigint,boolean,text)"),
    (40, "weston_check_known_on(timestamptz)"),
    (45, "weston_check_day(text,date)"),
    (49, "weston_symbol_history(text,date,timestamptz)"),
    (51, "weston_float8(numeric)"),
    (52, "weston_adjusted_prices_support(internal)"),
];

/// Landed migrations whose comments were reworded after they landed, their statements
/// unchanged, with the SHA-384 a database recorded for the original text. `migrate`
/// realigns exactly that record with the embedded text before sqlx checks it (what
/// Flyway's `repair` does); a record with any other checksum is still refused as changed.
/// 0001 named a document outside the repository; the others named the tickets they came from.
const REWORDED: &[(i64, &str)] = &[
    (
        1,
        "18217ce825ed3f58bed9d7cd973b26f1644db371230543ffef8c51a2883f686c60524c66bbca8c4ef8872272fe5701f9",
    ),
    (
        7,
        "9cc37123cacdf05d06c65e25b1b24dd8753aa69e3c3c001cb6d5680e323730cb386d4c2e7acef5aeb9bc17f2bfce3554",
    ),
    (
        8,
        "01ca73ed246be29082bb24f99b793b53f4bc7708eeb08e299f9267e087c4fa250ff1771e5b24edaaf1907dd17780d1de",
    ),
    (
        9,
        "7b99b463dfaa1ebea2f1be8f0d19e53228ae445f294dedda98e06ae3fa64d8ef70e9b8dd96f7c60fbf02697e78efae20",
    ),
    (
        13,
        "608f0a1bb431b643a69cee7f856c5aaba16359e957d9e426618b0821940412eebc3d48075ef4ba2c00fa7f79a30bb200",
    ),
    (
        14,
        "74cda39b56d341dfcbc4a90132ec9f6c875cf586ef1c01788d4e967d16b02fa6de89bd4280f664a89534ce3520cdbb1b",
    ),
    (
        16,
        "f0b938e434a2c5e25c4193e683f556f5d2093f703388faf75aaf9d0298db5d1855b3e44933d543ebc2f14693d9c11ecc",
    ),
    (
        17,
        "20823692190fdda685afeb62b62e3ba508311988e53bb8483570a72dbd59f676b1c12e92cc15c86e3271347eba21ed3f",
    ),
    (
        18,
        "bdf5cd6944389c4e3d58ba2f23214770fe66805d136b11fb5e533707a52d5964a6cab01501493c95983b800471ba048c",
    ),
    (
        22,
        "00eb442576575f56120bea582359e9b78a3ae1d0fa01f072d8f2c1c54596e980562815331b47ca5bbb4d297130632d6e",
    ),
    (
        25,
        "2975a2eb312dad316b50f64709889e7367cbcefafbdead22e75f9f50ab9a86dfefd2158b3b221692ae75e8b4aeffa9ba",
    ),
    (
        28,
        "8146d7fbb9b612af505c09bb9fb5e79cf9c88e25750e6037bc09e865f18bff691814c51fc6ed75fe2d5eb8a79a97867f",
    ),
    (
        29,
        "b9dffd9ee3722873fc41a429d131ce3fd3d50c3895b6ce90bdaeed771114df99d8ef46dddf68f42f4fee2f1a62c9ac35",
    ),
];

/// Applies every migration the database does not have yet; returns the versions applied
/// now (empty when it was already current).
pub async fn migrate(pool: &PgPool) -> Result<Vec<i64>, LoaderError> {
    realign_reworded(pool).await?;
    let before = applied_versions(pool).await?;
    // Twice at most: the first pass may create the extension whose functions a waiting
    // migration grants.
    for _ in 0..2 {
        let (migrator, waiting) = ready_migrations(pool).await?;
        run(pool, &migrator).await?;
        if waiting.is_none() {
            break;
        }
    }
    if let (_, Some(version)) = ready_migrations(pool).await? {
        apply_ahead(pool).await?;
        tracing::warn!(
            version,
            "migration {version} waits for the extension update: as a superuser run \
             ALTER EXTENSION pg_weston UPDATE, then weston-loader migrate again"
        );
    }
    let after = applied_versions(pool).await?;
    Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
}

/// Migrations the deployed roles cannot work without that need nothing of the extension:
/// while an earlier one waits for the extension update, their statements (idempotent
/// GRANTs) run ahead, so the nightly run keeps working meanwhile; sqlx records them in their
/// turn. 0031: pg_weston's roles read this history, which `run`, `status` and `audit` check
/// first.
const AHEAD_OF_WAITING: &[i64] = &[31];

/// Runs the statements of `AHEAD_OF_WAITING` as their migrations would.
async fn apply_ahead(pool: &PgPool) -> Result<(), LoaderError> {
    let mut conn = pool.acquire().await?;
    let search_path = home::enter_for_migrations(&mut conn).await?;
    for migration in MIGRATOR
        .iter()
        .filter(|m| AHEAD_OF_WAITING.contains(&m.version))
    {
        sqlx::raw_sql(&migration.sql).execute(&mut *conn).await?;
    }
    home::restore_search_path(&mut conn, &search_path).await?;
    Ok(())
}

/// Runs `migrator`, its errors in the operator's words.
async fn run(pool: &PgPool, migrator: &Migrator) -> Result<(), LoaderError> {
    let mut conn = pool.acquire().await?;
    let search_path = home::enter_for_migrations(&mut conn).await?;
    let result = migrator.run(&mut *conn).await;
    if result.is_err() {
        // sqlx keeps its advisory lock when a migration fails; closing the session frees it
        // instead of handing a locked connection back to the pool.
        let _ = conn.detach().close().await;
    } else {
        home::restore_search_path(&mut conn, &search_path).await?;
    }
    result.map_err(|e| match e {
        MigrateError::VersionMissing(v) => LoaderError::Config(format!(
            "the database is at migration {v}, which this weston-loader does not know \
             (it knows up to {}); it was applied by a newer weston-loader or by hand: \
             upgrade weston-loader before migrating",
            MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
        )),
        MigrateError::VersionMismatch(v) => LoaderError::Config(format!(
            "migration {v} was changed after it was applied to this database; \
             applied migrations must never be edited: add a new one instead"
        )),
        MigrateError::Dirty(v) => LoaderError::Config(format!(
            "migration {v} failed part-way earlier and left the database dirty; \
             repair it by hand, then delete its row from _sqlx_migrations"
        )),
        other => LoaderError::Failed(anyhow::Error::new(other).context("applying migrations")),
    })
}

/// The migrations that can run now: all of them, or those before the first that waits for
/// an extension update (see `WAIT_FOR_EXTENSION`), whose version is returned too.
async fn ready_migrations(pool: &PgPool) -> Result<(Migrator, Option<i64>), LoaderError> {
    let applied = applied_versions(pool).await?;
    let mut first_waiting = None;
    let mut conn = pool.acquire().await?;
    let home = home::schema(&mut conn).await?;
    for &(version, function) in WAIT_FOR_EXTENSION {
        if applied.contains(&version) {
            continue;
        }
        let present: bool = sqlx::query_scalar(
            "SELECT CASE WHEN position('(' IN $1) = 0 THEN to_regclass($1)::oid
                         ELSE to_regprocedure(CASE WHEN position('.' IN $1) > 0 THEN $1
                                                   ELSE quote_ident($2) || '.' || $1 END)::oid
                    END IS NOT NULL",
        )
        .bind(function)
        .bind(&home)
        .fetch_one(&mut *conn)
        .await?;
        if !present {
            first_waiting = Some(version);
            break;
        }
    }
    let ready = MIGRATOR
        .iter()
        .filter(|m| first_waiting.is_none_or(|v| m.version < v))
        .cloned()
        .collect::<Vec<_>>();
    // The fields `migrate!` fills; a subset of its migrations, the same settings.
    let migrator = Migrator {
        migrations: Cow::Owned(ready),
        ignore_missing: MIGRATOR.ignore_missing,
        locking: MIGRATOR.locking,
        no_tx: MIGRATOR.no_tx,
    };
    Ok((migrator, first_waiting))
}

/// The embedded migrations this database has not applied yet (what `migrate` would try).
pub async fn pending_versions(pool: &PgPool) -> Result<Vec<i64>, LoaderError> {
    let applied = applied_versions(pool).await?;
    Ok(MIGRATOR
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect())
}

/// Stops with the one message for a database never migrated.
pub async fn require_schema(pool: &PgPool) -> Result<(), LoaderError> {
    if applied_versions(pool).await?.is_empty() {
        return Err(LoaderError::Config(
            "this database has no pg_weston schema yet: run `weston-loader migrate` first".into(),
        ));
    }
    Ok(())
}

/// Realigns the recorded checksums of `REWORDED` migrations still recorded with their
/// original text's, in one statement.
async fn realign_reworded(pool: &PgPool) -> Result<(), LoaderError> {
    let Some(history) = history_table(pool).await? else {
        return Ok(());
    };
    let mut versions = Vec::new();
    let mut embedded: Vec<Vec<u8>> = Vec::new();
    let mut originals = Vec::new();
    for &(version, original) in REWORDED {
        if let Some(migration) = MIGRATOR.iter().find(|m| m.version == version) {
            versions.push(version);
            embedded.push(migration.checksum.to_vec());
            originals.push(original);
        }
    }
    sqlx::query(&format!(
        "UPDATE {history} h SET checksum = r.embedded \
           FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::bytea[]), \
                          pg_catalog.unnest($3::text[])) AS r(version, embedded, original) \
          WHERE h.version = r.version AND h.checksum = pg_catalog.decode(r.original, 'hex')"
    ))
    .bind(versions)
    .bind(embedded)
    .bind(originals)
    .execute(pool)
    .await?;
    Ok(())
}

/// `_sqlx_migrations`, qualified where it is (`sql/history_table.sql`); None for a database
/// never migrated.
async fn history_table(pool: &PgPool) -> Result<Option<String>, LoaderError> {
    Ok(sqlx::query_scalar(include_str!("../sql/history_table.sql"))
        .fetch_optional(pool)
        .await?)
}

/// Versions recorded in `_sqlx_migrations` (in weston_data since migration 0034, in weston
/// since 0.4.0, in public before); empty for a database never migrated.
pub async fn applied_versions(pool: &PgPool) -> Result<Vec<i64>, LoaderError> {
    let Some(history) = history_table(pool).await? else {
        return Ok(Vec::new());
    };
    Ok(sqlx::query_scalar(&format!(
        "SELECT version FROM {history} WHERE success ORDER BY version"
    ))
    .fetch_all(pool)
    .await?)
}
