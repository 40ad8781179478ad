//! Adjusted prices: the SQL wiring of `weston_core::adjust`.
//!
//! Rust computes only the few factor segments of each symbol (exactly, from the stored
//! splits, dividends and the closes before ex-dates); PostgreSQL then multiplies the raw
//! `numeric` bars by them in one set-based query, so no bar passes through Rust.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use pgrx::datum::Date;
use pgrx::prelude::*;
use pgrx::AnyNumeric;
use weston_core::adjust::{
    factor_segments, parse_decimal, to_numeric, Dividend, Exact, PriorClose, Split,
};

use crate::dates::to_naive;

/// One symbol's stored events in effect, and the bar before each dividend.
#[derive(Default)]
struct Events {
    splits: Vec<Split>,
    dividends: Vec<Dividend>,
    prior_closes: HashMap<NaiveDate, PriorClose>,
}

/// Every event of `symbols` with ex-date on or before `as_of` (NULL: all), in one query.
/// For total return, also the last raw bar before each dividend: looked for in the month
/// before the ex-date first (one or two partitions), and only if none there, further back.
const EVENTS_SQL: &str = "
SELECT s.symbol, s.date, true, s.numerator::text, s.denominator::text, NULL::date, NULL::text
  FROM splits s
 WHERE s.symbol = ANY ($1) AND ($2::date IS NULL OR s.date <= $2)
UNION ALL
SELECT d.symbol, d.ex_date, false, d.amount::text, NULL, b.date, b.close::text
  FROM dividends d
  LEFT JOIN LATERAL (
        (SELECT p.date, p.close FROM prices_daily p
          WHERE p.symbol = d.symbol AND p.date < d.ex_date AND p.date >= d.ex_date - 31
          ORDER BY p.date DESC LIMIT 1)
        UNION ALL
        (SELECT p.date, p.close FROM prices_daily p
          WHERE p.symbol = d.symbol AND p.date < d.ex_date - 31
          ORDER BY p.date DESC LIMIT 1)
        LIMIT 1) b ON $3
 WHERE d.symbol = ANY ($1) AND ($2::date IS NULL OR d.ex_date <= $2)";

/// The cumulative factor segments of every symbol in `symbols` (the rows of
/// `weston_adjustment_factors`, for many symbols at once). Internal to the adjusted-price
/// functions, which join them to the raw bars.
#[pg_extern(stable, parallel_safe)]
#[search_path(pg_catalog, @extschema@, pg_temp)]
fn weston_adjustment_segments(
    symbols: Option<Vec<Option<String>>>,
    as_of: Option<Date>,
    total_return: Option<bool>,
) -> TableIterator<
    'static,
    (
        name!(symbol, String),
        name!(effective_before, Date),
        name!(price_factor, AnyNumeric),
        name!(volume_factor, AnyNumeric),
    ),
> {
    let symbols: Vec<String> = symbols
        .unwrap_or_else(|| error!("weston: symbols must not be NULL"))
        .into_iter()
        .map(|s| s.unwrap_or_else(|| error!("weston: symbol must not be NULL")))
        .collect();
    let total_return =
        total_return.unwrap_or_else(|| error!("weston: total_return must not be NULL"));
    let as_of = as_of.map(to_naive);

    let mut by_symbol: BTreeMap<String, Events> = BTreeMap::new();
    Spi::connect(|client| {
        let rows = client
            .select(
                EVENTS_SQL,
                None,
                &[
                    symbols.into(),
                    as_of.map(to_pg_date).into(),
                    total_return.into(),
                ],
            )
            .unwrap_or_else(|e| error!("weston: reading splits and dividends: {e}"));
        for row in rows {
            let symbol: String = column(row.get(1), "symbol");
            let ex_date = to_naive(column(row.get(2), "ex_date"));
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
                let bar_date: Option<Date> = row.get(6).unwrap_or(None);
                if let Some(bar_date) = bar_date {
                    events.prior_closes.insert(
                        ex_date,
                        PriorClose {
                            date: to_naive(bar_date),
                            close: decimal(7, "close"),
                        },
                    );
                }
            }
        }
    });

    let mut out = Vec::new();
    for (symbol, events) in by_symbol {
        let segments = factor_segments(
            &events.splits,
            &events.dividends,
            |ex_date| events.prior_closes.get(&ex_date).cloned(),
            as_of,
            total_return,
        )
        .unwrap_or_else(|e| error!("weston: {symbol}: {e}"));
        for segment in segments {
            out.push((
                symbol.clone(),
                to_pg_date(segment.effective_before),
                to_pg_numeric(&segment.price_factor),
                to_pg_numeric(&segment.volume_factor),
            ));
        }
    }
    TableIterator::new(out)
}

fn column<T>(value: Result<Option<T>, pgrx::spi::SpiError>, what: &str) -> T {
    value
        .unwrap_or_else(|e| error!("weston: reading {what}: {e}"))
        .unwrap_or_else(|| error!("weston: {what} is NULL"))
}

fn to_pg_date(date: NaiveDate) -> Date {
    Date::new(date.year(), date.month() as u8, date.day() as u8)
        .unwrap_or_else(|e| error!("weston: date {date} is not representable: {e}"))
}

fn to_pg_numeric(value: &Exact) -> AnyNumeric {
    let text = to_numeric(value);
    AnyNumeric::from_str(&text)
        .unwrap_or_else(|e| error!("weston: factor {text} is not a numeric: {e}"))
}

extension_sql!(
    r#"
COMMENT ON FUNCTION weston_adjustment_segments(text[], date, boolean) IS
'Internal to weston_adjusted_prices: the cumulative (price_factor, volume_factor) of each symbol''s event dates, as in weston_adjustment_factors, for many symbols in one pass. Factors are computed exactly; a non-terminating one (2/3, 1/7) is rounded to 20 decimal places, a terminating one is exact.';

CREATE FUNCTION weston_adjustment_factors(
    symbol text, as_of date DEFAULT NULL, total_return boolean DEFAULT false)
RETURNS TABLE(effective_before date, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
    SELECT s.effective_before, s.price_factor, s.volume_factor
      FROM weston_adjustment_segments(ARRAY[symbol], as_of, total_return) s
     ORDER BY s.effective_before
$fn$;
COMMENT ON FUNCTION weston_adjustment_factors(text, date, boolean) IS
'The adjustment factors of symbol, one row per event date (ex-date) on or before as_of (NULL: every stored event), ascending: bars dated before effective_before, and on or after the previous row''s date, are multiplied by these cumulative factors (prices by price_factor, volume by volume_factor); bars on or after the last row''s date by 1. A split n-for-d contributes d/n to price_factor and n/d to volume_factor; with total_return a dividend contributes 1 - amount/close_before to price_factor (close_before: raw close of the last bar before the ex-date, in the ex-date''s share basis; a dividend with no earlier bar contributes 1). Exact; a non-terminating factor is rounded to 20 decimal places. In the spirit of a LEAN factor file.';

CREATE FUNCTION weston_adjusted_prices(
    symbols text[], from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    IF symbols IS NULL OR from_date IS NULL OR to_date IS NULL OR total_return IS NULL THEN
        RAISE EXCEPTION 'weston: symbols, from_date, to_date and total_return must not be NULL (as_of may be)'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF from_date > to_date THEN
        RAISE EXCEPTION 'weston: from_date % is after to_date %', from_date, to_date
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Each symbol's segments become two arrays indexed by width_bucket(date, bounds) + 1:
    -- a binary search per bar instead of a range join against every segment.
    RETURN QUERY
    WITH seg AS (
        SELECT s.symbol,
               array_agg(s.effective_before ORDER BY s.effective_before) AS bounds,
               array_agg(s.price_factor ORDER BY s.effective_before) || 1::numeric AS pf,
               array_agg(s.volume_factor ORDER BY s.effective_before) || 1::numeric AS vf
          FROM weston_adjustment_segments(symbols, as_of, total_return) s
         GROUP BY s.symbol)
    SELECT b.symbol, b.date, b.open * b.pf, b.high * b.pf, b.low * b.pf, b.close * b.pf,
           b.volume * b.vf, b.pf, b.vf
      FROM (SELECT p.symbol, p.date, p.open, p.high, p.low, p.close, p.volume,
                   coalesce(seg.pf[width_bucket(p.date, seg.bounds) + 1], 1::numeric) AS pf,
                   coalesce(seg.vf[width_bucket(p.date, seg.bounds) + 1], 1::numeric) AS vf
              FROM prices_daily p
              LEFT JOIN seg ON seg.symbol = p.symbol
             WHERE p.symbol = ANY (symbols) AND p.date BETWEEN from_date AND to_date
            OFFSET 0) b -- not flattened: each factor is looked up once per bar, not per column
     ORDER BY b.symbol, b.date;
END
$fn$;
COMMENT ON FUNCTION weston_adjusted_prices(text[], date, date, date, boolean) IS
'Adjusted daily bars of every symbol in symbols between from_date and to_date (inclusive), ordered by symbol, date; computed in one pass. Same semantics as weston_adjusted_prices(text, ...). Unknown symbols give no rows.';

CREATE FUNCTION weston_adjusted_prices(
    ticker text, from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path TO pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF ticker IS NULL THEN
        RAISE EXCEPTION 'weston: symbol must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY SELECT * FROM weston_adjusted_prices(ARRAY[ticker], from_date, to_date, as_of, total_return);
END
$fn$;
COMMENT ON FUNCTION weston_adjusted_prices(text, date, date, date, boolean) IS
'Daily bars of one symbol between from_date and to_date (inclusive), ordered by date, adjusted as of as_of (NULL: every stored event). An event''s date is its ex-date: a bar on d is adjusted by events with d < ex_date <= as_of. Split n-for-d: prices times d/n, volume times n/d. total_return also multiplies prices by 1 - amount/close_before per dividend (close_before: raw close of the last bar before the ex-date, in the ex-date''s share basis). price_factor and volume_factor are the factors applied (see weston_adjustment_factors). Exact numeric: raw times factor, a non-terminating factor rounded to 20 decimal places. Unknown symbol: no rows. Errors on from_date > to_date.';
"#,
    name = "adjusted_prices",
    requires = [weston_adjustment_segments]
);
