//! Conversions between PostgreSQL `date` and `chrono::NaiveDate`. Both are plain
//! calendar dates, so no time zone is involved. Done on the day count itself
//! (`weston_core::dates`): pgrx's `Date::year()` asks PostgreSQL through a timestamp and
//! panics at the extremes (4713 BC: "time zone displacement out of range").

use chrono::NaiveDate;
use pgrx::datum::Date;
use pgrx::{ereport, PgSqlErrorCode};
use weston_core::dates::{from_pg_days, to_pg_days};

/// `date`, the value of the argument named `argument`, or an error (SQLSTATE 22008) naming
/// the argument, its value and the supported range.
pub(crate) fn to_naive(argument: &str, date: Date) -> NaiveDate {
    from_pg_days(argument, date.to_pg_epoch_days()).unwrap_or_else(|e| {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
            e.to_string()
        );
    })
}

pub(crate) fn from_naive(date: NaiveDate) -> Date {
    let date = to_pg_days(date).and_then(|days| {
        Date::try_from(days)
            .map_err(|e| weston_core::dates::OutOfRange(format!("weston: date {date}: {e}")))
    });
    date.unwrap_or_else(|e| {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
            e.to_string()
        );
    })
}
