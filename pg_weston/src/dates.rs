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
