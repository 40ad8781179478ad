//! Conversions between PostgreSQL `date` and `chrono::NaiveDate`. Both are plain
//! calendar dates, so no time zone is involved.

use chrono::NaiveDate;
use pgrx::datum::Date;
use pgrx::error;

pub(crate) fn to_naive(date: Date) -> NaiveDate {
    if !date.is_finite() {
        error!("weston: infinite dates are not allowed here");
    }
    NaiveDate::from_ymd_opt(date.year(), u32::from(date.month()), u32::from(date.day()))
        .unwrap_or_else(|| error!("weston: date {date} is outside the supported range"))
}

pub(crate) fn from_naive(date: NaiveDate) -> Date {
    use chrono::Datelike;
    Date::new(date.year(), date.month() as u8, date.day() as u8)
        .unwrap_or_else(|e| error!("weston: date {date} has no PostgreSQL value: {e}"))
}
