//! Adjusted prices: the SQL wiring of `weston_core::adjust`.
//!
//! Rust computes only the few factor segments of each symbol (exactly, from the stored
//! splits, dividends and the closes before ex-dates); PostgreSQL then multiplies the raw
//! `numeric` bars by them in one set-based query, so no bar passes through Rust.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::NaiveDate;
use pgrx::datum::{Date, DatumWithOid, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};
use pgrx::{AnyNumeric, PgBuiltInOids, PgOid};
use weston_core::adjust::{
    factor_segments, parse_decimal, to_numeric, Adjustment, Dividend, Exact, PriorClose, Split,
};

use crate::dates::{from_naive, to_naive};
use crate::report::invalid_argument;

/// Splits up to `as_of` (all of them: they also set dividends' share basis) and, for total
/// return, dividends with `bars_from < ex_date <= as_of`, of the security every symbol in `$1`
/// names as of `as_of`, under each of its tickers (`weston_ticker_pieces`).
/// `$1` is distinct. Joined rather than `= ANY ($1)`: in a generic plan that would be a
/// linear search of the array for every row.
const EVENTS_SQL: &str = include_str!("../sql/queries/adjust_events.sql");

/// The last bar of the security before each (symbol, ex-date), under any of its tickers,
/// within ten days: nearly always there (the
/// longest US market closures are shorter). `$3`/`$4` bound every lookup, so the plan
/// opens only the partitions that can hold an answer; each lookup then prunes to one or two.
/// Each wanted row takes its own symbol's pieces (LATERAL): the generic plan cannot size
/// the arrays and would join all pieces to all wanted rows by a nested loop (with 2,000
/// dividends x 500 symbols, 64-80 of the lookup's 88-122 ms; docs/SCALING.md).
pub(crate) const NEAR_CLOSES_SQL: &str = include_str!("../sql/queries/adjust_near_closes.sql");

/// The rest (a gap in the data, or no earlier bar at all): without the window.
pub(crate) const FAR_CLOSES_SQL: &str = include_str!("../sql/queries/adjust_far_closes.sql");

/// The same three, over the tables as known at a moment (`known_on`, the last parameter):
/// the current rows known by then and the kept versions current then (migration 0040).
/// Only the 0.9.0 SQL passes a `known_on`, so these run only where its objects are.
const EVENTS_KNOWN_SQL: &str = include_str!("../sql/queries/adjust_events_known.sql");
const NEAR_CLOSES_KNOWN_SQL: &str = include_str!("../sql/queries/adjust_near_closes_known.sql");
const FAR_CLOSES_KNOWN_SQL: &str = include_str!("../sql/queries/adjust_far_closes_known.sql");

/// Where the queries find each symbol's ticker pieces. They name the extension's own
/// `weston_ticker_pieces` (0.7.0). The library also runs under an earlier version's SQL,
/// between a deploy and the DBA's `ALTER EXTENSION pg_weston UPDATE`: there the pieces are
/// migration 0016's `ticker_pieces`, which that version's `weston_adjusted_prices` calls
/// itself, or, before migration 0016, the symbols themselves (one ticker over all dates).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Pieces {
    Extension,
    Migration,
    Plain,
}

/// Which `Pieces` this database has: the extension's function only when it is a member of
/// the extension (a look-alike of that name in another schema, or not the extension's, is
/// never taken for it).
const PIECES_SQL: &str = "
SELECT CASE
         WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                       WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                         AND d.objid = pg_catalog.to_regprocedure('weston_ticker_pieces(text[],date)')
                         AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                         AND d.deptype = 'e' AND e.extname = 'pg_weston') THEN 0
         WHEN pg_catalog.to_regprocedure('ticker_pieces(text[],date)') IS NOT NULL THEN 1
         ELSE 2
       END";

/// The symbols themselves as their own pieces, in place of `weston_ticker_pieces(symbols, ...)`.
fn plain_pieces(symbols: &str) -> String {
    format!(
        "(SELECT DISTINCT u.symbol, u.symbol AS traded, '-infinity'::date AS valid_from, \
         'infinity'::date AS valid_to FROM unnest({symbols}) u(symbol))"
    )
}

/// `sql` as a database with `pieces` can run it.
pub(crate) fn with_pieces(sql: &str, pieces: Pieces) -> String {
    const CALL: &str = "weston_ticker_pieces(";
    match pieces {
        Pieces::Extension => return sql.to_string(),
        Pieces::Migration => return sql.replace(CALL, "ticker_pieces("),
        Pieces::Plain => {}
    }
    let mut out = String::new();
    let mut rest = sql;
    while let Some(start) = rest.find(CALL) {
        let args = start + CALL.len();
        let end = args
            + rest[args..]
                .find(')')
                .expect("weston_ticker_pieces( is closed");
        let symbols = rest[args..end]
            .split_once(", ")
            .expect("weston_ticker_pieces takes symbols and as_of")
            .0;
        out.push_str(&rest[..start]);
        out.push_str(&plain_pieces(symbols));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

static QUERIES: LazyLock<HashMap<(&'static str, Pieces), String>> = LazyLock::new(|| {
    let mut queries = HashMap::new();
    for sql in [
        EVENTS_SQL,
        NEAR_CLOSES_SQL,
        FAR_CLOSES_SQL,
        EVENTS_KNOWN_SQL,
        NEAR_CLOSES_KNOWN_SQL,
        FAR_CLOSES_KNOWN_SQL,
    ] {
        for pieces in [Pieces::Extension, Pieces::Migration, Pieces::Plain] {
            queries.insert((sql, pieces), with_pieces(sql, pieces));
        }
    }
    queries
});

/// `sql` as this database can run it (see `Pieces`). Once the extension's function is
/// seen it stays (an update is never undone), so the catalog is asked until then only.
fn for_this_database(client: &SpiClient<'_>, sql: &'static str) -> &'static str {
    thread_local! {
        static UPDATED: Cell<bool> = const { Cell::new(false) };
    }
    let pieces = if UPDATED.get() {
        Pieces::Extension
    } else {
        let found = client
            .select(PIECES_SQL, None, &[])
            .and_then(|rows| rows.first().get_one::<i32>())
            .unwrap_or_else(|e| error!("weston: looking for weston_ticker_pieces: {e}"));
        match found {
            Some(0) => {
                UPDATED.set(true);
                Pieces::Extension
            }
            Some(1) => Pieces::Migration,
            _ => Pieces::Plain,
        }
    };
    QUERIES[&(sql, pieces)].as_str()
}

thread_local! {
    /// Statements prepared once per backend: planning a query over every monthly partition
    /// costs more than running it. Plans are invalidated by PostgreSQL when tables change.
    static PREPARED: RefCell<HashMap<&'static str, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
}

fn select_prepared<'conn>(
    client: &SpiClient<'conn>,
    sql: &'static str,
    types: &[PgBuiltInOids],
    args: &[DatumWithOid<'_>],
) -> SpiTupleTable<'conn> {
    let sql = for_this_database(client, sql);
    PREPARED.with_borrow_mut(|prepared| {
        if !prepared.contains_key(sql) {
            let types: Vec<PgOid> = types.iter().map(|t| PgOid::BuiltIn(*t)).collect();
            let statement = client
                .prepare(sql, &types)
                .unwrap_or_else(|e| error!("weston: preparing the adjustment queries: {e}"))
                .keep();
            prepared.insert(sql, statement);
        }
        client
            .select(&prepared[sql], None, args)
            .unwrap_or_else(|e| error!("weston: reading splits, dividends and closes: {e}"))
    })
}

/// One symbol's stored events, and the bar before each dividend.
#[derive(Default)]
struct Events {
    splits: Vec<Split>,
    dividends: Vec<Dividend>,
    prior_closes: HashMap<NaiveDate, PriorClose>,
}

/// Internal to `weston_adjusted_prices`: per symbol with events in effect, the sorted
/// event dates (`bounds`) and the cumulative factors, one more than the bounds (the last is
/// 1), so a bar on `d` takes `price_factors[width_bucket(d, bounds) + 1]`; with `known_on`,
/// from the events and closes as known then.
#[pg_extern(
    stable,
    parallel_safe,
    sql = r#"
CREATE FUNCTION weston_adjustment_segments(
    symbols text[], bars_from date, as_of date, total_return boolean, known_on timestamptz)
RETURNS TABLE(symbol text, bounds date[], price_factors numeric[], volume_factors numeric[])
STABLE PARALLEL SAFE
SET search_path TO pg_catalog, weston_data, @extschema@, pg_temp
-- The lookups run over every monthly partition; a generic plan prunes them at run time
-- instead of planning them all on each call.
SET plan_cache_mode TO force_generic_plan
LANGUAGE c AS 'MODULE_PATHNAME', 'weston_adjustment_segments_known_wrapper';
"#
)]
// pgrx reads the column names from the `name!` types of these signatures, so they cannot
// move into a type alias.
#[allow(clippy::type_complexity)]
fn weston_adjustment_segments_known(
    symbols: Option<Vec<Option<String>>>,
    bars_from: Option<Date>,
    as_of: Option<Date>,
    total_return: Option<bool>,
    known_on: Option<TimestampWithTimeZone>,
) -> TableIterator<
    'static,
    (
        name!(symbol, String),
        name!(bounds, Vec<Date>),
        name!(price_factors, Vec<AnyNumeric>),
        name!(volume_factors, Vec<AnyNumeric>),
    ),
> {
    segments(symbols, bars_from, as_of, total_return, known_on)
}

/// The four-argument form that 0.8.0's SQL and earlier declare: it runs on this library
/// between a deploy and the DBA's `ALTER EXTENSION pg_weston UPDATE` (the 0.9.0 SQL no
/// longer declares it).
#[pg_extern(stable, parallel_safe, sql = false)]
#[allow(clippy::type_complexity)]
fn weston_adjustment_segments(
    symbols: Option<Vec<Option<String>>>,
    bars_from: Option<Date>,
    as_of: Option<Date>,
    total_return: Option<bool>,
) -> TableIterator<
    'static,
    (
        name!(symbol, String),
        name!(bounds, Vec<Date>),
        name!(price_factors, Vec<AnyNumeric>),
        name!(volume_factors, Vec<AnyNumeric>),
    ),
> {
    segments(symbols, bars_from, as_of, total_return, None)
}

/// What both forms return (for the code behind them; pgrx needs the names spelled out).
type Segments = TableIterator<
    'static,
    (
        name!(symbol, String),
        name!(bounds, Vec<Date>),
        name!(price_factors, Vec<AnyNumeric>),
        name!(volume_factors, Vec<AnyNumeric>),
    ),
>;

fn segments(
    symbols: Option<Vec<Option<String>>>,
    bars_from: Option<Date>,
    as_of: Option<Date>,
    total_return: Option<bool>,
    known_on: Option<TimestampWithTimeZone>,
) -> Segments {
    crate::report::plainly("weston_adjustment_segments", || {
        let mut symbols = checked_symbols(symbols);
        symbols.sort_unstable();
        symbols.dedup();
        let adjustment = Adjustment {
            as_of: as_of.map(|d| to_naive("as_of", d)),
            total_return: total_return
                .unwrap_or_else(|| error!("weston: total_return must not be NULL")),
            // The caller of weston_adjusted_prices named it from_date.
            bars_from: bars_from.map(|d| to_naive("from_date", d)),
        };

        let mut by_symbol: BTreeMap<String, Events> = BTreeMap::new();
        Spi::connect(|client| {
            let mut types = vec![
                PgBuiltInOids::TEXTARRAYOID,
                PgBuiltInOids::DATEOID,
                PgBuiltInOids::DATEOID,
                PgBuiltInOids::BOOLOID,
            ];
            let mut args: Vec<DatumWithOid<'_>> = vec![
                symbols.into(),
                adjustment.bars_from.map(from_naive).into(),
                adjustment.as_of.map(from_naive).into(),
                adjustment.total_return.into(),
            ];
            let events_sql = match known_on {
                None => EVENTS_SQL,
                Some(known_on) => {
                    // Refused whatever the data: the queries may find nothing to read.
                    client
                        .select("SELECT weston_check_known_on($1)", None, &[known_on.into()])
                        .unwrap_or_else(|e| error!("weston: known_on: {e}"));
                    types.push(PgBuiltInOids::TIMESTAMPTZOID);
                    args.push(known_on.into());
                    EVENTS_KNOWN_SQL
                }
            };
            let rows = select_prepared(client, events_sql, &types, &args);
            for row in rows {
                let symbol: String = column(row.get(1), "symbol");
                let ex_date = to_naive("a stored ex-date", column(row.get(2), "ex_date"));
                let is_split: bool = column(row.get(3), "kind");
                let decimal = |i: usize, what: &str| -> Exact {
                    let text: String = column(row.get(i), what);
                    parse_decimal(&text)
                        .unwrap_or_else(|e| error!("weston: {symbol} on {ex_date}: {what}: {e}"))
                };
                let events = by_symbol.entry(symbol.clone()).or_default();
                if is_split {
                    events.splits.push(Split {
                        ex_date,
                        numerator: decimal(4, "numerator"),
                        denominator: decimal(5, "denominator"),
                    });
                } else {
                    events.dividends.push(Dividend {
                        ex_date,
                        amount: decimal(4, "amount"),
                    });
                }
            }
            if adjustment.total_return {
                find_prior_closes(client, &mut by_symbol, adjustment.as_of, known_on);
            }
        });

        let mut out = Vec::new();
        for (symbol, events) in by_symbol {
            let segments = factor_segments(
                &events.splits,
                &events.dividends,
                |ex_date| events.prior_closes.get(&ex_date).cloned(),
                adjustment,
            )
            .unwrap_or_else(|e| error!("weston: {symbol}: {e}"));
            if segments.is_empty() {
                continue;
            }
            let one = AnyNumeric::from(1);
            let bounds = segments
                .iter()
                .map(|s| from_naive(s.effective_before))
                .collect();
            let factors = |f: fn(&weston_core::adjust::Segment) -> &Exact| -> Vec<AnyNumeric> {
                segments
                    .iter()
                    .map(|s| to_pg_numeric(f(s)))
                    .chain(std::iter::once(one.clone()))
                    .collect()
            };
            let price_factors = factors(|s| &s.price_factor);
            let volume_factors = factors(|s| &s.volume_factor);
            out.push((symbol, bounds, price_factors, volume_factors));
        }
        TableIterator::new(out)
    })
}

/// Fills `prior_closes` for every dividend: two set-based lookups, the second only for
/// the few the first does not answer.
fn find_prior_closes(
    client: &SpiClient<'_>,
    by_symbol: &mut BTreeMap<String, Events>,
    as_of: Option<NaiveDate>,
    known_on: Option<TimestampWithTimeZone>,
) {
    let wanted: Vec<(String, NaiveDate)> = by_symbol
        .iter()
        .flat_map(|(symbol, e)| e.dividends.iter().map(|d| (symbol.clone(), d.ex_date)))
        .collect();
    let mut found = vec![false; wanted.len()];
    let queries = match known_on {
        None => [(NEAR_CLOSES_SQL, true), (FAR_CLOSES_SQL, false)],
        Some(_) => [(NEAR_CLOSES_KNOWN_SQL, true), (FAR_CLOSES_KNOWN_SQL, false)],
    };
    for (sql, windowed) in queries {
        let missing: Vec<usize> = (0..wanted.len()).filter(|&i| !found[i]).collect();
        let Some(earliest) = missing.iter().map(|&i| wanted[i].1).min() else {
            return;
        };
        let latest = missing
            .iter()
            .map(|&i| wanted[i].1)
            .max()
            .unwrap_or(earliest);
        let symbols: Vec<String> = missing.iter().map(|&i| wanted[i].0.clone()).collect();
        let ex_dates: Vec<Date> = missing.iter().map(|&i| from_naive(wanted[i].1)).collect();

        let (mut types, mut args): (Vec<PgBuiltInOids>, Vec<DatumWithOid<'_>>) = if windowed {
            (
                vec![
                    PgBuiltInOids::TEXTARRAYOID,
                    PgBuiltInOids::DATEARRAYOID,
                    PgBuiltInOids::DATEOID,
                    PgBuiltInOids::DATEOID,
                    PgBuiltInOids::DATEOID,
                ],
                vec![
                    symbols.into(),
                    ex_dates.into(),
                    from_naive(
                        earliest
                            .checked_sub_days(chrono::Days::new(10))
                            .map_or(weston_core::dates::FIRST, |d| {
                                d.max(weston_core::dates::FIRST)
                            }),
                    )
                    .into(),
                    from_naive(latest).into(),
                    as_of.map(from_naive).into(),
                ],
            )
        } else {
            (
                vec![
                    PgBuiltInOids::TEXTARRAYOID,
                    PgBuiltInOids::DATEARRAYOID,
                    PgBuiltInOids::DATEOID,
                ],
                vec![
                    symbols.into(),
                    ex_dates.into(),
                    as_of.map(from_naive).into(),
                ],
            )
        };
        if let Some(known_on) = known_on {
            types.push(PgBuiltInOids::TIMESTAMPTZOID);
            args.push(known_on.into());
        }
        let rows = select_prepared(client, sql, &types, &args);
        for row in rows {
            let ordinal: i64 = column(row.get(1), "ordinality");
            let i = missing[usize::try_from(ordinal - 1).expect("ordinality starts at 1")];
            let (symbol, ex_date) = &wanted[i];
            let close: String = column(row.get(3), "close");
            let prior = PriorClose {
                date: to_naive("a stored bar's date", column(row.get(2), "date")),
                close: parse_decimal(&close)
                    .unwrap_or_else(|e| error!("weston: {symbol}: close before {ex_date}: {e}")),
            };
            found[i] = true;
            by_symbol
                .get_mut(symbol)
                .expect("every wanted symbol has events")
                .prior_closes
                .insert(*ex_date, prior);
        }
    }
}

/// Validates the arguments of `weston_adjusted_prices`; true or an error. IMMUTABLE (it
/// reads only its arguments) so that with constant arguments the planner evaluates it
/// before it could prove the date range empty and skip it; otherwise it is a one-time
/// filter, evaluated before any row is read.
#[pg_extern(immutable, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn weston_check_adjusted_arguments(
    symbols: Option<Vec<Option<String>>>,
    from_date: Option<Date>,
    to_date: Option<Date>,
    total_return: Option<bool>,
) -> bool {
    crate::report::plainly("weston_check_adjusted_arguments", || {
        checked_symbols(symbols);
        let from = to_naive(
            "from_date",
            from_date.unwrap_or_else(|| error!("weston: from_date must not be NULL")),
        );
        let to = to_naive(
            "to_date",
            to_date.unwrap_or_else(|| error!("weston: to_date must not be NULL")),
        );
        if total_return.is_none() {
            error!("weston: total_return must not be NULL");
        }
        if from > to {
            invalid_argument(format!("weston: from_date {from} is after to_date {to}"));
        }
        true
    })
}

fn checked_symbols(symbols: Option<Vec<Option<String>>>) -> Vec<String> {
    symbols
        .unwrap_or_else(|| error!("weston: symbols must not be NULL"))
        .into_iter()
        .map(|s| s.unwrap_or_else(|| error!("weston: symbol must not be NULL")))
        .collect()
}

fn column<T>(value: Result<Option<T>, pgrx::spi::SpiError>, what: &str) -> T {
    value
        .unwrap_or_else(|e| error!("weston: reading {what}: {e}"))
        .unwrap_or_else(|| error!("weston: {what} is NULL"))
}

fn to_pg_numeric(value: &Exact) -> AnyNumeric {
    let text = to_numeric(value);
    AnyNumeric::from_str(&text)
        .unwrap_or_else(|e| error!("weston: factor {text} is not a numeric: {e}"))
}

extension_sql_file!(
    "../sql/adjusted_prices.sql",
    name = "adjusted_prices",
    requires = [
        weston_adjustment_segments_known,
        weston_check_adjusted_arguments,
        "ticker_pieces"
    ]
);
