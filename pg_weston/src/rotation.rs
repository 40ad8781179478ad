//! Rotation: the SQL wiring of `weston_core::plan`. `weston_partition_plan` turns the
//! catalog into a plan; `weston_rotate_partitions` (PL/pgSQL in pg_weston/sql/rotation.sql) runs
//! each step in its own subtransaction; `weston_partition_health` reports.

use pgrx::prelude::*;
use pgrx::spi::{quote_identifier, SpiClient};
use pgrx::PgRelation;
use weston_core::month::Month;
use weston_core::plan::{plan, Config, DefaultMonth, Plan, Retention};

use crate::dates::{from_naive, to_naive};
use crate::partitions::Parent;
use crate::report::{required, OrReport};

/// Today's US trading date, whatever the session TimeZone.
fn trading_today(client: &SpiClient<'_>) -> chrono::NaiveDate {
    let today = client
        .select(
            "SELECT (pg_catalog.now() AT TIME ZONE 'America/New_York')::pg_catalog.date",
            Some(1),
            &[],
        )
        .or_report("today in New York")
        .first()
        .get::<Date>(1)
        .or_report("date")
        .or_report("date");
    to_naive("today in New York", today)
}

/// The configuration row of `parent`, or the defaults when it has none.
fn load_config(client: &SpiClient<'_>, parent: &Parent) -> Config {
    let rows = client
        .select(
            "SELECT premake_months, retain_months, retention FROM weston_partition_config
              WHERE parent::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
            Some(1),
            &[parent.oid.into()],
        )
        .or_report("read weston_partition_config");
    if rows.is_empty() {
        return Config {
            premake_months: 3,
            retain_months: None,
            retention: Retention::Detach,
        };
    }
    let row = rows.first();
    let premake = row.get::<i32>(1).or_report("premake_months").unwrap_or(3);
    let retain = row.get::<i32>(2).or_report("retain_months");
    let retention = row
        .get::<String>(3)
        .or_report("retention")
        .unwrap_or_default();
    Config {
        premake_months: u32::try_from(premake).unwrap_or(0),
        retain_months: retain.and_then(|n| u32::try_from(n).ok()),
        retention: Retention::parse(&retention)
            .unwrap_or_else(|| error!("weston: unknown retention mode {retention:?}")),
    }
}

/// Rows waiting in DEFAULT, by month. The cast to `timestamp` (without time zone) keeps
/// `date_trunc` off its `timestamptz` variant, which would depend on the session TimeZone.
/// A read: no trigger, rule or default of the table runs for it (and a superuser bypasses
/// row security), so it stays the caller's, whoever owns DEFAULT.
fn default_months(client: &SpiClient<'_>, parent: &Parent) -> Vec<DefaultMonth> {
    let Some(default) = &parent.default_partition else {
        return Vec::new();
    };
    let key = quote_identifier(&parent.key_column);
    client
        .select(
            &format!(
                "SELECT pg_catalog.date_trunc('month', {key}::pg_catalog.timestamp)::pg_catalog.date, pg_catalog.count(*)
                   FROM {} WHERE {key} IS NOT NULL GROUP BY 1",
                parent.qualified_sibling(default)
            ),
            None,
            &[],
        )
        .or_report("count DEFAULT rows by month")
        .filter_map(|row| {
            let month = row.get::<Date>(1).ok().flatten()?;
            let rows = row.get::<i64>(2).ok().flatten()?;
            Some(DefaultMonth {
                month: Month::containing(to_naive("the date of a row in DEFAULT", month)),
                rows,
            })
        })
        .collect()
}

fn plan_for(client: &SpiClient<'_>, parent: &Parent, today: chrono::NaiveDate) -> Plan {
    let config = load_config(client, parent);
    let existing = parent.existing_months(client);
    let in_default = default_months(client, parent);
    plan(today, &existing, &config, &in_default)
}

type PlanRow = (String, Date, String, i64, String);

/// The steps one rotation run takes for `parent` on trading date `today`: `create`,
/// then `detach` / `drop` / `archive`, and `stray` for DEFAULT rows that stay put.
#[pg_extern(stable, parallel_restricted)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_partition_plan(
    parent: Option<PgRelation>,
    today: Option<Date>,
) -> TableIterator<
    'static,
    (
        name!(action, String),
        name!(month, Date),
        name!(relation, String),
        name!(default_rows, i64),
        name!(reason, String),
    ),
> {
    crate::report::plainly("weston_partition_plan", || {
        let parent = crate::partitions::release(required("parent", parent));
        let today = to_naive("today", required("today", today));
        let rows: Vec<PlanRow> = Spi::connect(|client| {
            let parent = Parent::load(client, parent);
            let p = plan_for(client, &parent, today);
            let name = |m: Month| parent.qualified_sibling(&m.partition_name(&parent.name));
            let mut rows = Vec::new();
            for c in &p.create {
                rows.push((
                    "create".to_string(),
                    from_naive(c.month.first_day()),
                    name(c.month),
                    c.default_rows,
                    c.reason.as_str().to_string(),
                ));
            }
            for m in &p.retire {
                rows.push((
                    p.retention.as_str().to_string(),
                    from_naive(m.first_day()),
                    name(*m),
                    0,
                    format!(
                        "ends on or before the retention cutoff {}",
                        p.cutoff.or_report("retention has a cutoff")
                    ),
                ));
            }
            for s in &p.stray {
                rows.push((
                    "stray".to_string(),
                    from_naive(s.month.first_day()),
                    parent
                        .qualified_sibling(parent.default_partition.as_deref().unwrap_or_default()),
                    s.rows,
                    s.reason.as_str().to_string(),
                ));
            }
            rows
        });
        TableIterator::new(rows)
    })
}

type HealthRow = (
    i64,
    i32,
    Option<Date>,
    Option<Date>,
    Option<TimestampWithTimeZone>,
    Option<String>,
);

/// One row about `parent`: rows waiting in DEFAULT, months from the current through the
/// last pre-made one that have no partition, the partition range, and the last rotation.
// pgrx needs the row type spelled out in the signature.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, parallel_restricted)]
#[search_path(pg_catalog, weston_data, @extschema@, pg_temp)]
fn weston_partition_health(
    parent: default!(PgRelation, "'weston_data.prices_daily'::text::regclass"),
) -> TableIterator<
    'static,
    (
        name!(default_rows, i64),
        name!(missing_future_months, i32),
        name!(oldest_month, Option<Date>),
        name!(newest_month, Option<Date>),
        name!(last_rotation_at, Option<TimestampWithTimeZone>),
        name!(last_rotation_status, Option<String>),
    ),
> {
    crate::report::plainly("weston_partition_health", || {
        let parent = crate::partitions::release(parent);
        let row: HealthRow = Spi::connect(|client| {
            let parent = Parent::load(client, parent);
            let today = trading_today(client);
            let p = plan_for(client, &parent, today);
            let default_rows = default_months(client, &parent)
                .iter()
                .map(|d| d.rows)
                .sum::<i64>();
            let existing = parent.existing_months(client);
            let last = client
                .select(
                    "SELECT started_at, status FROM weston_maintenance_log
                  ORDER BY coalesce(finished_at, started_at) DESC, log_id DESC LIMIT 1",
                    Some(1),
                    &[],
                )
                .or_report("read weston_maintenance_log");
            let (last_at, last_status) = if last.is_empty() {
                (None, None)
            } else {
                let r = last.first();
                (
                    r.get::<TimestampWithTimeZone>(1).or_report("started_at"),
                    r.get::<String>(2).or_report("status"),
                )
            };
            (
                default_rows,
                i32::try_from(p.missing_future_months).unwrap_or(i32::MAX),
                existing.iter().min().map(|m| from_naive(m.first_day())),
                existing.iter().max().map(|m| from_naive(m.first_day())),
                last_at,
                last_status,
            )
        });
        TableIterator::once(row)
    })
}

extension_sql_file!(
    "../sql/rotation.sql",
    name = "rotation",
    // Its COMMENTs name the functions of partitions.rs too.
    requires = [
        weston_partition_plan,
        weston_partition_health,
        weston_create_partition,
        weston_ensure_partitions
    ]
);
