//! `ALTER EXTENSION pg_weston UPDATE` from every released version, on the real cluster.
//!
//! A released version's install script is frozen in `pg_weston/sql/released/`; the upgrade scripts in
//! `pg_weston/sql/` must carry an installation of it to the current version. The updated extension
//! must be indistinguishable from a fresh install of the current version (its objects,
//! definitions, comments and privileges, and the privileges `pg_dump` would restore), keep
//! every row loaded under the old version, and give the same answers. Before the update,
//! the old version's SQL must also run on the new library, as it does between a deploy of
//! the new build and the DBA's `ALTER EXTENSION`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use weston_loader::providers::mock::mock_symbol;
use weston_tests::planted::{plant_what_a_dba_can, planted_pieces, plants, read_adjusted};
use weston_tests::{
    admin_url, dump_and_restore, monitoring_queries, pg_config, seed_small_market, TestDb,
};

const EXTENSION: &str = "pg_weston";

const CURRENT: &str = env!("CARGO_PKG_VERSION");

/// A version frozen in `pg_weston/sql/released/pg_weston--<version>.sql`, and the version name under
/// which it is installed in the cluster's extension directory: its own, except for the
/// current version, whose built script already has that name (the frozen one is then
/// installed as `<version>.released`, to be compared with the build).
#[derive(Clone)]
struct Release {
    version: String,
    installed_as: String,
}

/// Every release, after copying their scripts into the cluster's extension directory
/// (PostgreSQL reads them only there; the build installs only the current version's
/// script and the upgrade scripts).
fn releases() -> Vec<Release> {
    static RELEASES: OnceLock<Vec<Release>> = OnceLock::new();
    RELEASES.get_or_init(install_released_scripts).clone()
}

/// Whether `version` predates 0.4.0, the first version whose control file names its schema.
fn released_before_schema_weston(version: &str) -> bool {
    let parts: Vec<u32> = version
        .split('.')
        .map(|part| {
            part.parse()
                .unwrap_or_else(|_| panic!("version {version}: not x.y.z"))
        })
        .collect();
    parts.as_slice() < [0, 4, 0].as_slice()
}

fn install_released_scripts() -> Vec<Release> {
    let released = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pg_weston/sql/released");
    let extension_dir = PathBuf::from(pg_config("sharedir")).join("extension");
    let mut releases = Vec::new();
    for entry in std::fs::read_dir(&released).expect("pg_weston/sql/released") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let Some(version) = name
            .strip_prefix(&format!("{EXTENSION}--"))
            .and_then(|rest| rest.strip_suffix(".sql"))
        else {
            continue;
        };
        assert!(
            !version.contains("--"),
            "{name}: upgrade scripts go in pg_weston/sql/, not pg_weston/sql/released/"
        );
        let installed_as = if version == CURRENT {
            format!("{version}.released")
        } else {
            version.to_string()
        };
        let target = extension_dir.join(format!("{EXTENSION}--{installed_as}.sql"));
        // Renamed into place: a CREATE EXTENSION elsewhere never reads half a file.
        let partial = extension_dir.join(format!(".{name}.{}", std::process::id()));
        std::fs::copy(&path, &partial)
            .and_then(|_| std::fs::rename(&partial, &target))
            .unwrap_or_else(|e| {
                panic!(
                    "copying {} to {} (run the tests as root, as scripts/test.sh does): {e}",
                    path.display(),
                    target.display()
                )
            });
        if released_before_schema_weston(version) {
            // Released before 0.4.0, whose control file names schema weston: those versions
            // had none, and were installed where the session's search_path put them (public).
            // A secondary control file gives an install of that version its old schema, so
            // that the update moves a database as it really is.
            let control = extension_dir.join(format!("{EXTENSION}--{version}.control"));
            std::fs::write(
                &control,
                "# Written by tests/tests/upgrade.rs: where this version was installed.\nschema = public\n",
            )
            .unwrap_or_else(|e| panic!("writing {}: {e}", control.display()));
        }
        releases.push(Release {
            version: version.to_string(),
            installed_as,
        });
    }
    releases.sort_by(|a, b| a.version.cmp(&b.version));
    assert!(
        releases.iter().any(|r| r.version != CURRENT),
        "no earlier release in {}",
        released.display()
    );
    releases
}

/// The releases that must update to the current version.
fn earlier_releases() -> Vec<Release> {
    releases()
        .into_iter()
        .filter(|r| r.version != CURRENT)
        .collect()
}

/// Everything the extension is made of, one line per fact, sorted: its version and
/// configuration tables; its member objects; each function's full definition, privileges
/// and comment; each table's and sequence's columns, constraints, indexes, privileges and
/// comment. With `init_privs`, also the privileges recorded as the extension's own
/// (`pg_init_privs`), which decide what `pg_dump` leaves out.
async fn catalog(db: &TestDb, init_privs: bool) -> Vec<String> {
    let sql = r#"
WITH ext AS (SELECT oid, extversion, extconfig, extcondition FROM pg_extension WHERE extname = 'pg_weston'),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
relations AS (SELECT c.* FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid)
SELECT 'extension ' || extversion FROM ext
UNION ALL
SELECT 'dumped ' || u.rel::regclass::text || ' where ' || coalesce(u.cond, '') FROM ext, unnest(extconfig, extcondition) u(rel, cond)
UNION ALL
SELECT 'member ' || pg_describe_object(classid, objid, 0) FROM members
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text || ' acl ' || coalesce(p.proacl::text, 'default')
       || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '') || E'\n' || pg_get_functiondef(p.oid)
  FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
UNION ALL
SELECT 'relation ' || c.oid::regclass::text || ' kind ' || c.relkind::text || ' acl ' || coalesce(c.relacl::text, 'default')
       || ' options ' || coalesce(c.reloptions::text, '') || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '')
  FROM relations c
UNION ALL
SELECT 'column ' || c.oid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
       || CASE WHEN a.attidentity <> ''::"char" THEN ' identity ' || a.attidentity::text ELSE '' END
       || ' acl ' || coalesce(a.attacl::text, 'default')
  FROM relations c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
UNION ALL
SELECT 'constraint ' || con.conrelid::regclass::text || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
  FROM relations c JOIN pg_constraint con ON con.conrelid = c.oid
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM relations c JOIN pg_index i ON i.indrelid = c.oid
UNION ALL
SELECT format('sequence %s %s start %s by %s min %s max %s cache %s cycle %s', s.seqrelid::regclass,
              format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
  FROM relations c JOIN pg_sequence s ON s.seqrelid = c.oid
UNION ALL
SELECT 'init_privs ' || pg_describe_object(ip.classoid, ip.objoid, ip.objsubid) || ' ' || ip.privtype::text || ' ' || ip.initprivs::text
  FROM members m JOIN pg_init_privs ip ON ip.classoid = m.classid AND ip.objoid = m.objid
 WHERE $1
"#;
    let mut lines: Vec<String> = sqlx::query_scalar(sql)
        .bind(init_privs)
        .fetch_all(&db.pool)
        .await
        .expect("read the extension's catalog");
    lines.sort();
    lines
}

/// Panics with the lines only one side has.
fn assert_same_catalog(
    what: &str,
    (expected_name, expected): (&str, &[String]),
    (actual_name, actual): (&str, &[String]),
) {
    let expected_set: BTreeSet<&String> = expected.iter().collect();
    let actual_set: BTreeSet<&String> = actual.iter().collect();
    let missing: Vec<_> = expected_set.difference(&actual_set).collect();
    let extra: Vec<_> = actual_set.difference(&expected_set).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}\n--- only in {expected_name}:\n{}\n+++ only in {actual_name}:\n{}",
        missing
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        extra
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

async fn execute(db: &TestDb, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn text(db: &TestDb, sql: &str) -> String {
    sqlx::query_scalar(sql)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A count and checksum of every row of the market-data tables, each partition apart. By
/// the values each row holds: a column a later migration adds empty (NULL) changes nothing
/// (0016 adds the identifiers to `securities`).
async fn rows(db: &TestDb) -> String {
    text(
        db,
        "SELECT concat_ws(E'\n', (
         SELECT string_agg(format('%s %s %s', c.relname,
                    (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1],
                    (xpath('/row/m/text()', query_to_xml(format('SELECT md5(string_agg(jsonb_strip_nulls(to_jsonb(t))::text, '','' ORDER BY jsonb_strip_nulls(to_jsonb(t))::text)) AS m FROM %s t',
                                                                 c.oid::regclass), false, true, '')))[1]),
                    E'\n' ORDER BY c.relname)
           FROM pg_class c
          WHERE c.relnamespace::regnamespace::text IN ('public', 'weston', 'weston_data') AND c.relkind = 'r'
            AND c.relname ~ '^(securities|prices_daily|splits|dividends|etl_run)'
            AND c.relname !~ '_history$'), (
         -- The configuration by the columns every version has (0.3.0 adds max_partitions_per_call).
         SELECT 'weston_partition_config ' || string_agg(format('%s %s %s %s %s', parent, premake_months,
                    retain_months, retention, archive_schema), ',' ORDER BY parent::text)
           FROM weston_partition_config))",
    )
    .await
}

/// Where pg_weston's relations are and who may use them, beyond the extension's members:
/// the schemas weston and weston_data (owner, ACL), and each table and view in them (kind,
/// owner, ACL, options, column ACLs), months of prices_daily left out (the nights loaded
/// differ). A fresh install migrated and an updated database migrated must agree.
async fn layout(db: &TestDb) -> Vec<String> {
    let sql = r#"
SELECT format('schema %I owner %s acl %s', n.nspname, pg_get_userbyid(n.nspowner), n.nspacl)
  FROM pg_namespace n WHERE n.nspname IN ('weston', 'weston_data')
UNION ALL
SELECT format('relation %I.%I kind %s owner %s acl %s options %s columns %s', n.nspname, c.relname, c.relkind,
              pg_get_userbyid(c.relowner), c.relacl, c.reloptions,
              (SELECT string_agg(a.attname || '=' || a.attacl::text, ' ' ORDER BY a.attname)
                 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('weston', 'weston_data') AND c.relkind IN ('r', 'p', 'v') AND NOT c.relispartition
   AND c.relname !~ '^prices_daily_(p[0-9]{4}_[0-9]{2}|default)$'
"#;
    let mut lines: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(&db.pool)
        .await
        .expect("read the layout");
    lines.sort();
    lines
}

/// Every symbol's adjusted bars, split-only and total return: a count and a checksum.
async fn adjusted(db: &TestDb) -> String {
    text(
        db,
        "SELECT count(*) || ' ' || md5(string_agg(t::text, E'\n' ORDER BY t::text))
           FROM (SELECT false AS total_return, a.* FROM weston_adjusted_prices(
                     (SELECT array_agg(symbol) FROM securities), '2000-01-01', '2100-01-01') a
                 UNION ALL
                 SELECT true, a.* FROM weston_adjusted_prices(
                     (SELECT array_agg(symbol) FROM securities), '2000-01-01', '2100-01-01', NULL, true) a) t",
    )
    .await
}

/// The nightly work: the loader's run for a few mock symbols (two of them split, some pay
/// dividends), then rotation. Returns the rotation's status. A fixed window, so databases
/// loaded on either side of a New York midnight still hold the same bars.
async fn nightly(db: &TestDb) -> String {
    let outcome = weston_tests::mock_run_in_process(db, ("2026-03-02", "2026-08-31"), 6).await;
    assert!(outcome.stats.unserved.is_empty(), "{:?}", outcome.stats);
    text(db, "SELECT weston_rotate_partitions()->>'status'").await
}

/// The exporter's `weston_extension_update_pending` (deploy/monitoring/queries.yaml).
async fn update_pending(db: &TestDb) -> f64 {
    let query = &monitoring_queries()["weston_extension"].query;
    let sql = format!("SELECT update_pending FROM ({query}) q");
    sqlx::query_scalar(&sql).fetch_one(&db.pool).await.unwrap()
}

fn acl_lines(catalog: &[String]) -> Vec<String> {
    catalog
        .iter()
        .map(|l| l.lines().next().unwrap().to_string())
        .filter(|l| l.contains(" acl "))
        .collect()
}

/// The extension alone, as `CREATE EXTENSION` leaves it: an update from each earlier
/// release gives the fresh install's catalog, `pg_init_privs` included; and once the
/// current version is released, its frozen script still gives what the build gives.
#[tokio::test]
async fn each_release_updates_to_exactly_a_fresh_install() {
    let fresh = TestDb::empty("upgrade_fresh").await;
    execute(&fresh, "CREATE EXTENSION pg_weston").await;
    assert_eq!(
        text(
            &fresh,
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_weston'"
        )
        .await,
        CURRENT
    );
    let fresh_catalog = catalog(&fresh, true).await;
    assert!(
        !fresh_catalog.contains(&"member schema tests".to_string()),
        "the installed pg_weston is the build of `cargo pgrx test` (with its tests schema): \
         run scripts/setup.sh to install the release build"
    );
    // The comparison sees what it must: every function, and a change of privileges.
    for function in [
        "weston_create_partition(date,regclass)",
        "weston_ensure_partitions(date,date,regclass)",
        "weston_rotate_partitions()",
        "weston_partition_health(regclass)",
        "weston_adjusted_prices(text[],date,date,date,boolean,timestamp with time zone)",
        "weston_adjustment_factors(text,date,boolean,timestamp with time zone)",
        "weston_etl_begin(text,date,date)",
        "weston_etl_reap(interval)",
        "weston_version()",
    ] {
        assert!(
            fresh_catalog
                .iter()
                .any(|l| l.starts_with(&format!("function {function} "))),
            "{function} is missing from the catalog"
        );
    }
    execute(
        &fresh,
        "GRANT EXECUTE ON FUNCTION weston_etl_reap(interval) TO PUBLIC",
    )
    .await;
    assert_ne!(
        catalog(&fresh, true).await,
        fresh_catalog,
        "a grant went unseen"
    );
    execute(
        &fresh,
        "REVOKE EXECUTE ON FUNCTION weston_etl_reap(interval) FROM PUBLIC",
    )
    .await;
    assert_eq!(catalog(&fresh, true).await, fresh_catalog);

    let without_version = |catalog: Vec<String>| -> Vec<String> {
        catalog
            .into_iter()
            .filter(|l| !l.starts_with("extension "))
            .collect()
    };
    for release in releases() {
        let db = TestDb::empty(&format!("upgrade_bare_{}", release.version)).await;
        let installed_as = &release.installed_as;
        execute(
            &db,
            &format!("CREATE EXTENSION pg_weston VERSION '{installed_as}'"),
        )
        .await;
        if release.version == CURRENT {
            assert_same_catalog(
                &format!(
                    "{CURRENT} is released (pg_weston/sql/released/): its SQL is frozen. Bump the version \
                     in Cargo.toml and write pg_weston/sql/pg_weston--{CURRENT}--<new version>.sql"
                ),
                ("the build", &without_version(fresh_catalog.clone())),
                (
                    "the released script",
                    &without_version(catalog(&db, true).await),
                ),
            );
        } else {
            execute(&db, "ALTER EXTENSION pg_weston UPDATE").await;
            assert_same_catalog(
                &format!("{installed_as} updated differs from a fresh install"),
                ("the fresh install", &fresh_catalog),
                ("the updated one", &catalog(&db, true).await),
            );
        }
    }
}

/// A production database: installed at a release, migrated by the loader (its roles and
/// grants), loaded, then the new build deployed. Until the DBA updates, the old SQL runs
/// on the new library; after, nothing was lost, the answers are the same, the catalog is
/// a fresh install's, and a dump restores the same privileges.
#[tokio::test]
async fn an_updated_database_keeps_its_data_grants_and_answers() {
    let fresh = TestDb::empty("upgrade_prod_fresh").await;
    weston_loader::migrate::migrate(&fresh.pool)
        .await
        .expect("migrate");
    assert_eq!(nightly(&fresh).await, "succeeded");
    let fresh_catalog = catalog(&fresh, false).await;
    let fresh_adjusted = adjusted(&fresh).await;
    let fresh_layout = layout(&fresh).await;
    // Every table is in weston_data, each a view in weston but the history and the registry.
    for (wanted, what) in [
        (
            "relation weston_data.prices_daily kind p",
            "the market data off the path",
        ),
        (
            "relation weston_data._sqlx_migrations kind r",
            "the loader's history off the path",
        ),
        (
            "relation weston_data.scratch_databases kind r",
            "the scratch registry off the path",
        ),
        ("relation weston.prices_daily kind v", "its view"),
        (
            "relation weston.weston_corrections kind v",
            "the trail's view",
        ),
    ] {
        assert!(
            fresh_layout.iter().any(|l| l.starts_with(wanted)),
            "{what}: {fresh_layout:#?}"
        );
    }
    assert!(
        !fresh_layout
            .iter()
            .any(|l| l.starts_with("relation weston.") && !l.contains(" kind v ")),
        "a table left in weston: {fresh_layout:#?}"
    );

    for Release {
        version: release, ..
    } in earlier_releases()
    {
        let db = TestDb::empty(&format!("upgrade_prod_{release}")).await;
        execute(
            &db,
            &format!("CREATE EXTENSION pg_weston VERSION '{release}'"),
        )
        .await;
        weston_loader::migrate::migrate(&db.pool)
            .await
            .expect("migrate");
        assert_eq!(
            nightly(&db).await,
            "succeeded",
            "{release} on the new library"
        );
        assert_eq!(
            adjusted(&db).await,
            fresh_adjusted,
            "{release} on the new library"
        );
        let before = rows(&db).await;
        // Until the DBA updates, the loader's status and the exporter say so.
        let status = weston_loader::status::collect(&db.loader_pool())
            .await
            .expect("status");
        assert_eq!(status.extension_version.as_deref(), Some(release.as_str()));
        assert_eq!(status.extension_available_version.as_deref(), Some(CURRENT));
        assert!(weston_loader::status::render_human(&status)
            .contains("as a superuser run ALTER EXTENSION pg_weston UPDATE"));
        assert_eq!(update_pending(&db).await, 1.0);

        execute(&db, "ALTER EXTENSION pg_weston UPDATE").await;
        // The documented order: the update, then the migrations that grant what it added.
        weston_loader::migrate::migrate(&db.pool)
            .await
            .expect("migrate after the update");
        assert_eq!(update_pending(&db).await, 0.0);
        assert_eq!(text(&db, "SELECT weston_version()").await, CURRENT);
        assert_eq!(
            rows(&db).await,
            before,
            "rows changed in the update from {release}"
        );
        // The history of changes starts at the update (migration 0040): nothing before it.
        assert_eq!(
            text(
                &db,
                "SELECT (SELECT count(*) FROM weston_data.prices_daily_history)
                      + (SELECT count(*) FROM weston_data.splits_history)
                      + (SELECT count(*) FROM weston_data.dividends_history)
                      + (SELECT count(*) FROM weston_data.securities_history)
                      + (SELECT count(*) FROM weston_data.ticker_history_history)
                      + (SELECT count(*) FROM weston_data.security_identity_history) || ' kept, from '
                      || (SELECT (started_at > now() - interval '1 hour')::text FROM weston_data.history_start)",
            )
            .await,
            "0 kept, from true",
            "the history of {release} starts at its update"
        );
        // Nothing of pg_weston is left in public, the application's: tables, partitions,
        // history.
        assert_eq!(
            text(
                &db,
                "SELECT coalesce(string_agg(relname, ', ' ORDER BY relname), '') FROM pg_class
                  WHERE relnamespace = 'public'::regnamespace"
            )
            .await,
            "",
            "left in public by the update from {release}"
        );
        assert_eq!(
            adjusted(&db).await,
            fresh_adjusted,
            "answers after the update from {release}"
        );
        assert_same_catalog(
            &format!("{release} updated and migrated: tables, views and grants"),
            ("the fresh install", &fresh_layout),
            ("the updated one", &layout(&db).await),
        );
        let updated_catalog = catalog(&db, false).await;
        assert_same_catalog(
            &format!("{release} updated and migrated differs from a fresh migrated install"),
            ("the fresh install", &fresh_catalog),
            ("the updated one", &updated_catalog),
        );
        // The next night.
        assert_eq!(nightly(&db).await, "succeeded");

        // A security's life over the rows loaded under the old version: once a
        // rename is recorded, the new ticker answers with the whole stored history, and the
        // old one as of before the rename answers as it did.
        let symbol = mock_symbol(1);
        let series = |ticker: &str, as_of: &str| {
            format!(
                "SELECT string_agg(format('%s %s %s', symbol, date, close), ',' ORDER BY date)
                   FROM weston_adjusted_prices('{ticker}', '2000-01-01', '2100-01-01', {as_of}, true)"
            )
        };
        let tomorrow = "(now() AT TIME ZONE 'America/New_York')::date + 1";
        let loaded = text(&db, &series(&symbol, tomorrow)).await;
        let today = text(&db, &series(&symbol, "NULL")).await;
        execute(
            &db,
            &format!(
                "SELECT weston_ticker_listed('{symbol}', '2000-01-03', 'mock', 1);
                 SELECT weston_ticker_changed('{symbol}', 'RENAMED', {tomorrow}, 'mock', 1)"
            ),
        )
        .await;
        assert_eq!(
            text(&db, &series("RENAMED", tomorrow)).await,
            loaded.replace(&format!("{symbol} "), "RENAMED "),
            "{release}: the renamed security's history"
        );
        assert_eq!(
            text(&db, &series(&symbol, "NULL")).await,
            today,
            "{release}"
        );

        // A correction on the updated database: recorded by the dba, kept by the
        // next night's load and by the dump and restore below.
        let corrected = "SELECT format('%s:%s %s', numerator, denominator, provider) FROM splits
                          WHERE symbol = 'MOCK0002' AND date = (SELECT min(date) FROM splits WHERE symbol = 'MOCK0002')";
        execute(
            &db,
            "SET ROLE dba;
             SELECT weston_record_split('MOCK0002', (SELECT min(date) FROM splits WHERE symbol = 'MOCK0002'),
                                        5, 1, 'ratio mis-copied');
             RESET ROLE",
        )
        .await;
        assert_eq!(nightly(&db).await, "succeeded");
        assert_eq!(text(&db, corrected).await, "5:1 manual", "{release}");

        // pg_dump writes only the privileges that differ from the extension's own
        // (pg_init_privs): a restore must still bring back every grant.
        let restored = TestDb::empty(&format!("upgrade_restored_{release}")).await;
        dump_and_restore(&db, &restored);
        assert_eq!(
            text(&restored, corrected).await,
            "5:1 manual",
            "{release} restored"
        );
        assert_eq!(
            text(&restored, "SELECT string_agg(action || ' ' || by_role || ' ' || reason, ',') FROM weston_corrections").await,
            "record_split postgres ratio mis-copied",
            "{release} restored"
        );
        assert_same_catalog(
            &format!("privileges of {release} updated, after pg_dump and pg_restore"),
            ("the updated database", &acl_lines(&updated_catalog)),
            (
                "its restored copy",
                &acl_lines(&catalog(&restored, false).await),
            ),
        );
    }
}

/// Until 0.7.0 the adjusted-price reads called migration 0016's `ticker_pieces`, which
/// `dba` owns: a `dba` login that replaced it had its code run by every reader, a superuser
/// included. On 0.6.0 that is shown to happen; after `ALTER EXTENSION pg_weston UPDATE` and
/// migration 0032 the same plants (and look-alikes of the extension's own function) are
/// never run, and the attacker stays a non-superuser.
#[tokio::test]
async fn after_the_update_adjusted_reads_run_no_ticker_pieces_a_dba_planted() {
    assert!(releases().iter().any(|r| r.version == "0.6.0"));
    let db = TestDb::empty("upgrade_planted_pieces").await;
    execute(&db, "CREATE EXTENSION pg_weston VERSION '0.6.0'").await;
    weston_loader::migrate::migrate(&db.pool)
        .await
        .expect("migrate");
    seed_small_market(&db.pool).await;
    let attacker = format!("{}_mallory", db.name);
    execute(
        &db,
        &format!("CREATE ROLE {attacker} LOGIN IN ROLE dba; GRANT CREATE ON SCHEMA public TO dba"),
    )
    .await;
    let options: sqlx::postgres::PgConnectOptions = admin_url().parse().unwrap();
    let mallory = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.database(&db.name).username(&attacker))
        .await
        .unwrap();
    let escalated = || async {
        let superuser = text(
            &db,
            &format!("SELECT rolsuper::text FROM pg_roles WHERE rolname = '{attacker}'"),
        )
        .await;
        execute(&db, &format!("ALTER ROLE {attacker} NOSUPERUSER")).await;
        superuser == "true"
    };

    // As migrations 0016 to 0029 left it (0030 gives it, and every table, to weston_owner):
    // owned by dba, which could create in weston. Replaced in place it keeps its owner, dba;
    // run with the caller's rights it escalates.
    execute(
        &db,
        "ALTER FUNCTION weston.ticker_pieces(text[], date) OWNER TO dba; GRANT CREATE ON SCHEMA weston TO dba",
    )
    .await;
    sqlx::raw_sql(&planted_pieces(
        "weston.ticker_pieces",
        "symbols text[], as_of date",
        &attacker,
        false,
    ))
    .execute(&mallory)
    .await
    .unwrap();
    let (rows_before, ran) = read_adjusted(&db.pool, "a superuser on 0.6.0").await;
    assert!(
        ran.is_some() && escalated().await,
        "on 0.6.0 the dba's ticker_pieces ran as the superuser reading: {ran:?}"
    );

    execute(&db, "ALTER EXTENSION pg_weston UPDATE").await;
    weston_loader::migrate::migrate(&db.pool)
        .await
        .expect("migrate after the update");
    assert_eq!(
        text(&db, "SELECT count(*)::text FROM pg_proc WHERE proname = 'ticker_pieces' AND pronamespace = 'weston'::regnamespace AND proargtypes::text = '1009 1082'").await,
        "0",
        "migration 0032 drops migration 0016's ticker_pieces"
    );
    execute(&db, "REVOKE CREATE ON SCHEMA weston FROM dba").await;
    let refused = plant_what_a_dba_can(&mallory, &attacker).await;
    assert!(
        refused.len() < plants(&attacker).len(),
        "the look-alikes in public were planted: {refused:?}"
    );
    let (rows_after, ran) = read_adjusted(&db.pool, "a superuser on the current version").await;
    mallory.close().await;
    let escalated = escalated().await;
    execute(
        &db,
        &format!("DROP OWNED BY {attacker}; DROP ROLE {attacker}"),
    )
    .await;
    assert_eq!(ran, None, "planted code ran after the update");
    assert!(!escalated, "the dba login became a superuser");
    assert_eq!(rows_after, rows_before, "the same bars");
}
