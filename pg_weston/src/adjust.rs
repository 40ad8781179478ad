//! Adjusted prices: the SQL wiring of `weston_core::adjust`.
//!
//! Rust computes only the few factor segments of each symbol (exactly, from the stored
//! splits, dividends and the closes before ex-dates); PostgreSQL then multiplies the raw
//! `numeric` bars by them in one set-based query, so no bar passes through Rust.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::NaiveDate;
use pgrx::datum::{Date, DatumWithOid, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};
use pgrx::{AnyNumeric, PgBuiltInOids, PgOid};
use weston_core::adjust::{
    factor_segments, parse_decimal, to_numeric, Adjustment, Dividend, Exact, PriorClose, Segment,
    Split,
};

use crate::dates::{from_naive, to_naive};
use crate::report::invalid_argument;

/// Splits up to `as_of` (all of them: they also set dividends' share basis) and, for total
/// return, dividends with `bars_from < ex_date <= as_of`, of the security every symbol in `$1`
/// names as of `as_of`, under each of its tickers (`weston_ticker_pieces`); and those pieces
/// themselves (kind NULL), read once here for every close lookup and for the one-symbol walk.
/// `$1` is distinct. Joined rather than `= ANY ($1)`: in a generic plan that would be a
/// linear search of the array for every row.
/// Each dividend row also carries the close kept with it, where that is the answer (see
/// `STORED_CLOSES`); here none is.
pub(crate) const EVENTS_SQL: &str = include_str!("../sql/queries/adjust_events.sql");

/// `EVENTS_SQL` with each dividend's kept close (migration 0047's `dividend_closes`) in
/// place of none, so that only the dividends it cannot answer are looked up.
static EVENTS_STORED_SQL: LazyLock<String> = LazyLock::new(|| {
    const NONE_STORED: &str = "  CROSS JOIN LATERAL (SELECT NULL::date AS close_date, NULL::numeric AS close, false AS answered) c\n";
    assert!(
        EVENTS_SQL.contains(NONE_STORED),
        "adjust_events.sql joins no close"
    );
    EVENTS_SQL.replace(
        NONE_STORED,
        include_str!("../sql/queries/adjust_stored_closes.sql"),
    )
});

/// The last bar of each (ticker, dates) asked, one index-backward scan each. Asked first
/// within ten days of each ex-date (nearly always there: the longest US market closures are
/// shorter), then, for the few not found, back to the piece's start. `$4`/`$5` bound every
/// lookup, so a generic plan opens only the partitions that can hold an answer and each
/// lookup prunes to one or two. Each symbol's pieces come from `EVENTS_SQL`, not a call per
/// lookup (a generic plan cannot size the arrays and would join all pieces to all lookups).
pub(crate) const CLOSES_SQL: &str = include_str!("../sql/queries/adjust_closes.sql");

/// The same two, over the tables as known at a moment (`known_on`, the last parameter):
/// the current rows known by then and the kept versions current then (migration 0040).
/// Only the 0.9.0 SQL passes a `known_on`, so these run only where its objects are.
const EVENTS_KNOWN_SQL: &str = include_str!("../sql/queries/adjust_events_known.sql");
const CLOSES_KNOWN_SQL: &str = include_str!("../sql/queries/adjust_closes_known.sql");

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
        EVENTS_STORED_SQL.as_str(),
        CLOSES_SQL,
        EVENTS_KNOWN_SQL,
        CLOSES_KNOWN_SQL,
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
    /// Ex-dates whose close (or its absence) the kept closes answered: not looked up.
    answered: HashSet<NaiveDate>,
}

/// Whether migration 0047's kept closes exist (between a deploy and `migrate`, not yet).
/// Once seen they stay, so the catalog is asked until then only.
fn closes_are_kept() -> bool {
    thread_local! {
        static KEPT: Cell<bool> = const { Cell::new(false) };
    }
    if KEPT.get() {
        return true;
    }
    // SAFETY: catalog lookups by name, in a transaction (this runs inside a function call).
    let kept = unsafe {
        let schema = pg_sys::get_namespace_oid(c"weston_data".as_ptr(), true);
        schema != pg_sys::InvalidOid
            && pg_sys::get_relname_relid(c"dividend_closes".as_ptr(), schema) != pg_sys::InvalidOid
    };
    KEPT.set(kept);
    kept
}

/// A ticker the security traded under, from `from` to `to` inclusive (unbounded: `None`).
pub(crate) struct Piece {
    pub(crate) traded: String,
    pub(crate) from: Option<NaiveDate>,
    pub(crate) to: Option<NaiveDate>,
}

/// What `read_segments` finds: the factor segments of each symbol with events in effect, in
/// symbol order (a symbol without any is left out), and each symbol's ticker pieces.
pub(crate) struct SymbolEvents {
    pub(crate) segments: Vec<(String, Vec<Segment>)>,
    pub(crate) pieces: HashMap<String, Vec<Piece>>,
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
-- One row per symbol with events, and symbols are few against bars: the default (1,000)
-- made the planner cost weston_adjusted_prices's runs as tens of thousands of index scans
-- and JIT-compile the read (1.4 s for a 140 ms read of 750 symbols).
ROWS 10
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
        let adjustment = adjustment(bars_from, as_of, total_return);
        let found = Spi::connect(|client| read_segments(client, symbols, adjustment, known_on));
        let mut out = Vec::new();
        for (symbol, segments) in found.segments {
            let one = AnyNumeric::from(1);
            let bounds = segments
                .iter()
                .map(|s| from_naive(s.effective_before))
                .collect();
            let factors = |f: fn(&Segment) -> &Exact| -> Vec<AnyNumeric> {
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

/// What `weston_adjustment_segments`'s arguments ask (the caller of `weston_adjusted_prices`
/// named `bars_from` `from_date`).
pub(crate) fn adjustment(
    bars_from: Option<Date>,
    as_of: Option<Date>,
    total_return: Option<bool>,
) -> Adjustment {
    Adjustment {
        as_of: as_of.map(|d| to_naive("as_of", d)),
        total_return: total_return
            .unwrap_or_else(|| error!("weston: total_return must not be NULL")),
        bars_from: bars_from.map(|d| to_naive("from_date", d)),
    }
}

/// The factor segments and ticker pieces of each of `symbols` (distinct). With `known_on`,
/// from the events, closes and tickers as known then.
pub(crate) fn read_segments(
    client: &SpiClient<'_>,
    symbols: Vec<String>,
    adjustment: Adjustment,
    known_on: Option<TimestampWithTimeZone>,
) -> SymbolEvents {
    let mut by_symbol: BTreeMap<String, Events> = BTreeMap::new();
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
        None if closes_are_kept() => EVENTS_STORED_SQL.as_str(),
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
    let mut pieces: HashMap<String, Vec<Piece>> = HashMap::new();
    for row in rows {
        let symbol: String = column(row.get(1), "symbol");
        let Some(is_split) = row
            .get::<bool>(3)
            .unwrap_or_else(|e| error!("weston: reading kind: {e}"))
        else {
            let date = |i: usize, what: &str| -> Option<NaiveDate> {
                row.get::<Date>(i)
                    .unwrap_or_else(|e| error!("weston: reading {what}: {e}"))
                    .map(|d| to_naive(what, d))
            };
            let piece = Piece {
                traded: column(row.get(4), "traded"),
                from: date(2, "a ticker's valid_from"),
                to: date(6, "a ticker's valid_to"),
            };
            pieces.entry(symbol).or_default().push(piece);
            continue;
        };
        let ex_date = to_naive("a stored ex-date", column(row.get(2), "ex_date"));
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
            let answered = row
                .get::<bool>(9)
                .unwrap_or_else(|e| error!("weston: reading a kept close: {e}"));
            if answered == Some(true) {
                events.answered.insert(ex_date);
                if let Some(date) = row
                    .get::<Date>(7)
                    .unwrap_or_else(|e| error!("weston: reading a kept close's date: {e}"))
                {
                    events.prior_closes.insert(
                        ex_date,
                        PriorClose {
                            date: to_naive("a kept close's date", date),
                            close: decimal(8, "kept close"),
                        },
                    );
                }
            }
        }
    }
    if adjustment.total_return {
        find_prior_closes(client, &mut by_symbol, &pieces, known_on);
    }
    let segments = by_symbol
        .into_iter()
        .filter_map(|(symbol, events)| {
            let segments = factor_segments(
                &events.splits,
                &events.dividends,
                |ex_date| events.prior_closes.get(&ex_date).cloned(),
                adjustment,
            )
            .unwrap_or_else(|e| error!("weston: {symbol}: {e}"));
            (!segments.is_empty()).then_some((symbol, segments))
        })
        .collect();
    SymbolEvents { segments, pieces }
}

/// Fills `prior_closes` for every dividend: the latest bar before its ex-date under any of
/// its symbol's `pieces`. Two set-based lookups, the second only for the few the first
/// (within ten days) does not answer.
fn find_prior_closes(
    client: &SpiClient<'_>,
    by_symbol: &mut BTreeMap<String, Events>,
    pieces: &HashMap<String, Vec<Piece>>,
    known_on: Option<TimestampWithTimeZone>,
) {
    let wanted: Vec<(&str, NaiveDate)> = by_symbol
        .iter()
        .flat_map(|(symbol, e)| {
            e.dividends
                .iter()
                .filter(|d| !e.answered.contains(&d.ex_date))
                .map(|d| (symbol.as_str(), d.ex_date))
        })
        .collect();
    let mut found: Vec<Option<PriorClose>> = vec![None; wanted.len()];
    for near in [true, false] {
        // One lookup per (dividend, piece begun before its ex-date): bars in [after, before).
        let mut asked: Vec<usize> = Vec::new();
        let mut traded: Vec<&str> = Vec::new();
        let mut after: Vec<NaiveDate> = Vec::new();
        let mut before: Vec<NaiveDate> = Vec::new();
        for (i, &(symbol, ex_date)) in wanted.iter().enumerate() {
            if found[i].is_some() {
                continue;
            }
            for piece in pieces.get(symbol).into_iter().flatten() {
                let mut from = piece.from.unwrap_or(weston_core::dates::FIRST);
                if near {
                    let window = ex_date
                        .checked_sub_days(chrono::Days::new(10))
                        .unwrap_or(weston_core::dates::FIRST);
                    from = from.max(window);
                }
                let until = piece
                    .to
                    .and_then(|to| to.succ_opt())
                    .map_or(ex_date, |next| next.min(ex_date));
                if from < until {
                    asked.push(i);
                    traded.push(&piece.traded);
                    after.push(from);
                    before.push(until);
                }
            }
        }
        let (Some(&earliest), Some(&latest)) = (after.iter().min(), before.iter().max()) else {
            break;
        };
        let to_dates =
            |dates: &[NaiveDate]| -> Vec<Date> { dates.iter().map(|&d| from_naive(d)).collect() };
        let mut types = vec![
            PgBuiltInOids::TEXTARRAYOID,
            PgBuiltInOids::DATEARRAYOID,
            PgBuiltInOids::DATEARRAYOID,
            PgBuiltInOids::DATEOID,
            PgBuiltInOids::DATEOID,
        ];
        let mut args: Vec<DatumWithOid<'_>> = vec![
            traded.into(),
            to_dates(&after).into(),
            to_dates(&before).into(),
            from_naive(earliest).into(),
            from_naive(latest).into(),
        ];
        let closes_sql = match known_on {
            None => CLOSES_SQL,
            Some(known_on) => {
                types.push(PgBuiltInOids::TIMESTAMPTZOID);
                args.push(known_on.into());
                CLOSES_KNOWN_SQL
            }
        };
        let rows = select_prepared(client, closes_sql, &types, &args);
        for row in rows {
            let ordinal: i64 = column(row.get(1), "ordinality");
            let i = asked[usize::try_from(ordinal - 1).expect("ordinality starts at 1")];
            let (symbol, ex_date) = wanted[i];
            let date = to_naive("a stored bar's date", column(row.get(2), "date"));
            // A dividend asks each of its pieces: the latest bar of any wins.
            if found[i].as_ref().is_some_and(|prior| prior.date >= date) {
                continue;
            }
            let close: String = column(row.get(3), "close");
            found[i] = Some(PriorClose {
                date,
                close: parse_decimal(&close)
                    .unwrap_or_else(|e| error!("weston: {symbol}: close before {ex_date}: {e}")),
            });
        }
    }
    let answers: Vec<(String, NaiveDate, PriorClose)> = wanted
        .iter()
        .zip(found)
        .filter_map(|(&(symbol, ex_date), prior)| Some((symbol.to_string(), ex_date, prior?)))
        .collect();
    for (symbol, ex_date, prior) in answers {
        by_symbol
            .get_mut(&symbol)
            .expect("every wanted symbol has events")
            .prior_closes
            .insert(ex_date, prior);
    }
}

/// Validates the arguments of `weston_adjusted_prices`; true or an error. IMMUTABLE (it
/// reads only its arguments) so that with constant arguments the planner evaluates it
/// before it could prove the date range empty and skip it; otherwise it is a one-time
/// filter, evaluated before any row is read.
#[pg_extern(immutable, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
pub(crate) fn weston_check_adjusted_arguments(
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

pub(crate) fn to_pg_numeric(value: &Exact) -> AnyNumeric {
    if value.numer() == value.denom() {
        // Most volume factors are 1 (no split after): no text, no parsing.
        return AnyNumeric::from(1);
    }
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
