//! Monthly range partitions: the SQL wiring of `weston_core::month`.

use pgrx::prelude::*;
use pgrx::spi::{quote_identifier, quote_literal, SpiClient};
use pgrx::PgRelation;
use weston_core::month::{creation_within_limit, months_overlapping, Month};

use crate::dates::to_naive;
use crate::owner::{as_owner, owner_of};
use crate::report::{invalid_argument, required, OrReport};

/// What rotation needs to know about a partitioned parent.
pub(crate) struct Parent {
    pub oid: pg_sys::Oid,
    pub schema: String,
    pub name: String,
    pub key_column: String,
    pub default_partition: Option<String>,
    /// Whether DEFAULT belongs to a role other than the parent's owner and is not a
    /// superuser's: rows moved out of it as a superuser would run that role's code.
    pub default_owner_differs: bool,
}

impl Parent {
    pub fn qualified(&self) -> String {
        format!(
            "{}.{}",
            quote_identifier(&self.schema),
            quote_identifier(&self.name)
        )
    }

    pub fn qualified_sibling(&self, relname: &str) -> String {
        format!(
            "{}.{}",
            quote_identifier(&self.schema),
            quote_identifier(relname)
        )
    }

    /// Reads the catalog; errors unless `oid` is RANGE-partitioned on one `date` column.
    pub fn load(client: &SpiClient<'_>, oid: pg_sys::Oid) -> Parent {
        let row = client
            .select(
                "SELECT n.nspname::text, c.relname::text, a.attname::text, d.relname::text,
                        d.relowner OPERATOR(pg_catalog.<>) c.relowner AND NOT dr.rolsuper
                   FROM pg_catalog.pg_partitioned_table pt
                   JOIN pg_catalog.pg_class c ON c.oid = pt.partrelid
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
                   LEFT JOIN pg_catalog.pg_class d ON d.oid OPERATOR(pg_catalog.=) pt.partdefid
                   LEFT JOIN pg_catalog.pg_roles dr ON dr.oid OPERATOR(pg_catalog.=) d.relowner
                  WHERE pt.partrelid OPERATOR(pg_catalog.=) $1 AND pt.partstrat OPERATOR(pg_catalog.=) 'r'
                    AND pt.partnatts OPERATOR(pg_catalog.=) 1
                    AND a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.date'::pg_catalog.regtype::pg_catalog.oid",
                Some(1),
                &[oid.into()],
            )
            .or_report("catalog lookup of the parent");
        if row.is_empty() {
            error!(
                "weston: {} is not a table partitioned by RANGE on a single date column",
                relation_display(client, oid)
            );
        }
        let row = row.first();
        let text = |i: usize| {
            row.get::<String>(i)
                .or_report("catalog column")
                .unwrap_or_default()
        };
        Parent {
            oid,
            schema: text(1),
            name: text(2),
            key_column: text(3),
            default_partition: row.get::<String>(4).or_report("catalog column"),
            default_owner_differs: row.get::<bool>(5).or_report("catalog column") == Some(true),
        }
    }

    /// Months that already have a partition named by the `<parent>_pYYYY_MM` convention.
    pub fn existing_months(&self, client: &SpiClient<'_>) -> Vec<Month> {
        client
            .select(
                "SELECT c.relname::text FROM pg_catalog.pg_inherits i
                   JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = $1",
                None,
                &[self.oid.into()],
            )
            .or_report("list partitions")
            .filter_map(|row| row.get::<String>(1).ok().flatten())
            .filter_map(|name| Month::from_partition_name(&self.name, &name))
            .collect()
    }
}

fn relation_display(client: &SpiClient<'_>, oid: pg_sys::Oid) -> String {
    client
        .select(
            "SELECT $1::pg_catalog.regclass::text",
            Some(1),
            &[oid.into()],
        )
        .ok()
        .and_then(|t| t.first().get::<String>(1).ok().flatten())
        .unwrap_or_else(|| format!("relation {oid:?}"))
}

/// The outcome of creating one month.
pub(crate) struct Created {
    pub oid: pg_sys::Oid,
    pub newly_created: bool,
    #[allow(dead_code)] // rotation reports it (partition lifecycle issue)
    pub rows_moved_from_default: i64,
}

/// Creates `month`'s partition of `parent` unless it exists. Lock-friendly: the table is
/// built detached, DEFAULT's rows of that month move into it, and only then is it
/// attached (SHARE UPDATE EXCLUSIVE on the parent, not ACCESS EXCLUSIVE).
pub(crate) fn create_month(client: &mut SpiClient<'_>, parent: &Parent, month: Month) -> Created {
    let name = month.partition_name(&parent.name);
    let existing = client
        .select(
            "SELECT c.oid, c.relispartition AND EXISTS (
                        SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid AND i.inhparent = $3)
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relname = $2",
            Some(1),
            &[parent.schema.as_str().into(), name.as_str().into(), parent.oid.into()],
        )
        .or_report("look up partition");
    if !existing.is_empty() {
        let row = existing.first();
        let oid = row.get::<pg_sys::Oid>(1).or_report("oid").or_report("oid");
        if row.get::<bool>(2).or_report("flag") != Some(true) {
            error!(
                "weston: {} exists but is not a partition of {}; rename or attach it first",
                parent.qualified_sibling(&name),
                parent.qualified()
            );
        }
        return Created {
            oid,
            newly_created: false,
            rows_moved_from_default: 0,
        };
    }

    let table = parent.qualified_sibling(&name);
    let key = quote_identifier(&parent.key_column);
    let (lower, upper) = (
        quote_literal(month.first_day().to_string()),
        quote_literal(month.end().to_string()),
    );
    let bounds_check = quote_identifier(format!("{name}_bounds"));
    run(
        client,
        &format!(
            "CREATE TABLE {table} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE \
             INCLUDING COMMENTS INCLUDING GENERATED INCLUDING STATISTICS)",
            parent = parent.qualified()
        ),
    );
    // A CHECK matching the bounds lets ATTACH skip scanning the new table.
    run(
        client,
        &format!(
            "ALTER TABLE {table} ADD CONSTRAINT {bounds_check} \
             CHECK ({key} IS NOT NULL AND {key} >= {lower}::date AND {key} < {upper}::date)"
        ),
    );
    let mut moved = 0;
    if let Some(default) = &parent.default_partition {
        // SAFETY: reads the current user's role attributes.
        if parent.default_owner_differs && unsafe { pg_sys::superuser() } {
            error!(
                "weston: {} belongs to another role than its parent {} (a superuser's): moving its \
                 rows as a superuser would run that role's triggers and rules; ALTER TABLE {} OWNER TO \
                 the parent's owner",
                parent.qualified_sibling(default),
                parent.qualified(),
                parent.qualified_sibling(default)
            );
        }
        // Emptying DEFAULT of this month first keeps ATTACH's scan of DEFAULT from failing.
        let default = parent.qualified_sibling(default);
        let may_move = client
            .select(
                "SELECT pg_catalog.has_table_privilege($1::pg_catalog.regclass, 'DELETE')",
                Some(1),
                &[default.as_str().into()],
            )
            .ok()
            .and_then(|t| t.first().get::<bool>(1).ok().flatten())
            .unwrap_or(false);
        if !may_move {
            error!(
                "weston: {default} does not belong to the owner of {}: months are made as the \
                 parent's owner (so that none of its code runs as a superuser), who must be able \
                 to move DEFAULT's rows; ALTER TABLE {default} OWNER TO the parent's owner",
                parent.qualified()
            );
        }
        moved = client
            .update(
                &format!(
                    "WITH moved AS (DELETE FROM {default} WHERE {key} >= {lower}::date AND {key} < {upper}::date RETURNING *) \
                     INSERT INTO {table} SELECT * FROM moved"
                ),
                None,
                &[],
            )
            .or_report("move DEFAULT rows")
            .len() as i64;
    }
    // Build the primary key and unique constraints now, after the rows are in: ATTACH
    // adopts matching ones instead of building them while it holds DEFAULT locked.
    let keys: Vec<String> = client
        .select(
            "SELECT pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint
              WHERE conrelid = $1 AND contype IN ('p', 'u') ORDER BY oid",
            None,
            &[parent.oid.into()],
        )
        .or_report("read the parent's keys")
        .filter_map(|row| row.get::<String>(1).ok().flatten())
        .collect();
    for key_definition in keys {
        run(client, &format!("ALTER TABLE {table} ADD {key_definition}"));
    }
    run(
        client,
        &format!(
            "ALTER TABLE {parent} ATTACH PARTITION {table} FOR VALUES FROM ({lower}) TO ({upper})",
            parent = parent.qualified()
        ),
    );
    run(
        client,
        &format!("ALTER TABLE {table} DROP CONSTRAINT {bounds_check}"),
    );
    copy_owner_and_privileges(client, parent, &table);
    let oid = client
        .select(
            "SELECT $1::pg_catalog.regclass::pg_catalog.oid",
            Some(1),
            &[table.as_str().into()],
        )
        .or_report("new partition oid")
        .first()
        .get::<pg_sys::Oid>(1)
        .or_report("oid")
        .or_report("oid");
    Created {
        oid,
        newly_created: true,
        rows_moved_from_default: moved,
    }
}

/// Queries through the parent check the parent's ACL, but a partition reached directly
/// (maintenance, COPY into a child) must answer to the same owner and grants.
fn copy_owner_and_privileges(client: &mut SpiClient<'_>, parent: &Parent, table: &str) {
    let statements: Vec<String> = client
        .select(
            "SELECT format('ALTER TABLE %s OWNER TO %I', $2, pg_catalog.pg_get_userbyid(c.relowner))
               FROM pg_catalog.pg_class c WHERE c.oid = $1
             UNION ALL
             SELECT format('GRANT %s ON TABLE %s TO %s%s', a.privilege_type, $2,
                           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                           CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
               FROM pg_catalog.pg_class c, LATERAL pg_catalog.aclexplode(c.relacl) a
              WHERE c.oid = $1 AND a.grantee <> c.relowner",
            None,
            &[parent.oid.into(), table.into()],
        )
        .or_report("read parent ACL")
        .filter_map(|row| row.get::<String>(1).ok().flatten())
        .collect();
    for statement in statements {
        run(client, &statement);
    }
}

/// The most months one call may create for `parent` when it is registered in
/// `weston_partition_config`; an error otherwise. Runs with the definer's rights, before
/// the switch to the table's owner, so only `pg_catalog` operators are used.
fn require_configured(client: &SpiClient<'_>, parent: pg_sys::Oid) -> i64 {
    // The column arrived in 0.3.0: between a deploy of this library and the DBA's ALTER
    // EXTENSION UPDATE, the 0.2.0 table has no such column and the default applies.
    let has_limit = !client
        .select(
            "SELECT 1 FROM pg_catalog.pg_attribute
              WHERE attrelid OPERATOR(pg_catalog.=) 'weston_partition_config'::pg_catalog.regclass::pg_catalog.oid
                AND attname OPERATOR(pg_catalog.=) 'max_partitions_per_call'::pg_catalog.name AND NOT attisdropped",
            Some(1),
            &[],
        )
        .or_report("look up weston_partition_config's columns")
        .is_empty();
    let limit = if has_limit {
        "max_partitions_per_call"
    } else {
        "NULL::pg_catalog.int4"
    };
    let configured = client
        .select(
            &format!(
                "SELECT {limit} FROM weston_partition_config
                  WHERE parent::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
            ),
            Some(1),
            &[parent.into()],
        )
        .or_report("look up weston_partition_config");
    if configured.is_empty() {
        error!(
            "weston: {} is not registered in weston_partition_config; \
             a dba must INSERT it there before partitions can be ensured for it",
            qualified_name(client, parent)
        );
    }
    configured
        .first()
        .get::<i32>(1)
        .or_report("max_partitions_per_call")
        .map_or(DEFAULT_MAX_PARTITIONS_PER_CALL, i64::from)
}

/// `weston_partition_config.max_partitions_per_call`'s default (ten years of months).
const DEFAULT_MAX_PARTITIONS_PER_CALL: i64 = 120;

/// Schema-qualified whatever the search_path, so a message names exactly one table.
fn qualified_name(client: &SpiClient<'_>, relation: pg_sys::Oid) -> String {
    client
        .select(
            "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n
                 ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
              WHERE c.oid OPERATOR(pg_catalog.=) $1",
            Some(1),
            &[relation.into()],
        )
        .ok()
        .and_then(|t| t.first().get::<String>(1).ok().flatten())
        .unwrap_or_else(|| format!("relation {relation:?}"))
}

/// The relcache reference pgrx opens for a `regclass` argument would make ALTER TABLE
/// fail with "being used by active queries in this session": keep only the Oid.
pub(crate) fn release(relation: PgRelation) -> pg_sys::Oid {
    relation.oid()
}

fn run(client: &mut SpiClient<'_>, sql: &str) {
    client
        .update(sql, None, &[])
        .unwrap_or_else(|e| error!("weston: {sql}: {e}"));
}

/// The partition of `parent` for the month containing `month`, created if missing.
/// Rows of that month waiting in the DEFAULT partition move into it. Declared by hand
/// because pgrx cannot return `regclass`; the Oid datum is the same.
#[pg_extern(
    volatile,
    parallel_unsafe,
    sql = r#"
CREATE FUNCTION weston_create_partition(month date, parent regclass DEFAULT 'weston_data.prices_daily'::text::regclass)
RETURNS regclass STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'weston_create_partition_wrapper';
"#
)]
pub(crate) fn weston_create_partition(month: Date, parent: PgRelation) -> pg_sys::Oid {
    crate::report::plainly("weston_create_partition", || {
        let parent = release(parent);
        let month = Month::containing(to_naive("month", month));
        Spi::connect_mut(|client| {
            let owner = owner_of(client, parent);
            as_owner(owner, || {
                let parent = Parent::load(client, parent);
                create_month(client, &parent, month).oid
            })
        })
    })
}

/// Creates every missing month overlapping `[from_date, to_date]`; returns how many.
///
/// SECURITY DEFINER so that `etl_writer`, which owns no table, can add months before it
/// loads them (docs/REFERENCE.md). With the owner's rights it could otherwise alter or drain any
/// partitioned table, so it only acts on parents registered in `weston_partition_config`
/// (which only `dba` may change), and then does the work as the table's owner (owner.rs).
/// The pinned search_path puts our schema before pg_temp: the config lookup can be
/// shadowed neither by the caller's schemas nor by a temp table. One call creates at most
/// the table's `max_partitions_per_call` months, so a mistyped range cannot hold DEFAULT
/// locked for minutes.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_ensure_partitions(
    from_date: Option<Date>,
    to_date: Option<Date>,
    parent: default!(
        Option<PgRelation>,
        "'weston_data.prices_daily'::text::regclass"
    ),
) -> i32 {
    crate::report::plainly("weston_ensure_partitions", || {
        let parent = release(required("parent", parent));
        let (from, to) = (
            to_naive("from_date", required("from_date", from_date)),
            to_naive("to_date", required("to_date", to_date)),
        );
        if from > to {
            invalid_argument(format!("weston: from_date {from} is after to_date {to}"));
        }
        Spi::connect_mut(|client| {
            let limit = require_configured(client, parent);
            let owner = owner_of(client, parent);
            as_owner(owner, || {
                let parent = Parent::load(client, parent);
                let existing = parent.existing_months(client);
                let missing: Vec<Month> = months_overlapping(from, to)
                    .into_iter()
                    .filter(|m| !existing.contains(m))
                    .collect();
                if let Err(message) =
                    creation_within_limit(missing.len(), limit, from, to, &parent.qualified())
                {
                    error!("{message}");
                }
                let mut created = 0;
                for month in missing {
                    if create_month(client, &parent, month).newly_created {
                        created += 1;
                    }
                }
                created
            })
        })
    })
}
