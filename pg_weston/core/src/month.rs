//! Calendar months as partition keys: `[first day, first day of next month)`.
//! Only `NaiveDate` arithmetic is used, so nothing depends on a time zone.

use chrono::{Datelike, NaiveDate};
use std::fmt;

/// A calendar month, the unit of one `prices_daily` partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1..=12
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        // Keep to years that both chrono and PostgreSQL's `date` represent exactly.
        ((1..=12).contains(&month) && (1..=9999).contains(&year)).then_some(Month { year, month })
    }

    /// The month containing `date`.
    pub fn containing(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid Month has a first day")
    }

    pub fn next(self) -> Month {
        self.plus(1)
    }

    pub fn prev(self) -> Month {
        self.plus(-1)
    }

    /// The month `n` months after (or before, for negative `n`) this one.
    pub fn plus(self, n: i64) -> Month {
        let index = self.index() + n;
        Month {
            year: index.div_euclid(12) as i32,
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    /// Exclusive upper bound of the partition: the first day of the next month.
    pub fn end(self) -> NaiveDate {
        self.next().first_day()
    }

    /// Months from `self` to `other` (negative when `other` is earlier).
    pub fn months_until(self, other: Month) -> i64 {
        other.index() - self.index()
    }

    /// Name of this month's partition of `parent`: `<parent>_pYYYY_MM`.
    pub fn partition_name(self, parent: &str) -> String {
        format!("{parent}_p{:04}_{:02}", self.year, self.month)
    }

    /// Parses a partition name made by [`Month::partition_name`] back into its month.
    pub fn from_partition_name(parent: &str, name: &str) -> Option<Month> {
        let rest = name.strip_prefix(parent)?.strip_prefix("_p")?;
        let (year, month) = rest.split_once('_')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        Month::new(year.parse().ok()?, month.parse().ok()?)
    }

    fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Every month that overlaps the inclusive date range `[from, to]`, oldest first.
/// Empty when `from > to`.
pub fn months_overlapping(from: NaiveDate, to: NaiveDate) -> Vec<Month> {
    let (first, last) = (Month::containing(from), Month::containing(to));
    if from > to {
        return Vec::new();
    }
    (0..=first.months_until(last))
        .map(|n| first.plus(n))
        .collect()
}

/// Refuses to create `missing` months in one call when that is more than `limit`, saying
/// how a dba raises the limit (`weston_partition_config.max_partitions_per_call`).
pub fn creation_within_limit(
    missing: usize,
    limit: i64,
    from: NaiveDate,
    to: NaiveDate,
    parent: &str,
) -> Result<(), String> {
    if i64::try_from(missing).unwrap_or(i64::MAX) <= limit {
        return Ok(());
    }
    Err(format!(
        "weston: weston_ensure_partitions('{from}', '{to}') would create {missing} partitions of {parent}, \
         more than its limit of {limit} per call (weston_partition_config.max_partitions_per_call); \
         ask for a narrower range, or a dba raises the limit: UPDATE weston_partition_config \
         SET max_partitions_per_call = {missing} WHERE parent = '{parent}'::regclass"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn bounds_cover_leap_february_and_year_end() {
        let feb = Month::containing(d(2024, 2, 29));
        assert_eq!((feb.first_day(), feb.end()), (d(2024, 2, 1), d(2024, 3, 1)));
        let dec = Month::containing(d(2025, 12, 31));
        assert_eq!(dec.end(), d(2026, 1, 1));
        assert_eq!(dec.next(), Month::new(2026, 1).unwrap());
        assert_eq!(Month::new(2026, 1).unwrap().prev(), dec);
    }

    #[test]
    fn names_round_trip() {
        let m = Month::new(2026, 3).unwrap();
        assert_eq!(m.partition_name("prices_daily"), "prices_daily_p2026_03");
        assert_eq!(
            Month::from_partition_name("prices_daily", "prices_daily_p2026_03"),
            Some(m)
        );
        assert_eq!(
            Month::from_partition_name("prices_daily", "prices_daily_default"),
            None
        );
        assert_eq!(
            Month::from_partition_name("prices_daily", "prices_daily_p2026_13"),
            None
        );
    }

    #[test]
    fn overlapping_months_span_the_range_inclusively() {
        let months = months_overlapping(d(2025, 11, 30), d(2026, 2, 1));
        let shown: Vec<String> = months.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert!(months_overlapping(d(2026, 2, 1), d(2026, 1, 31)).is_empty());
        assert_eq!(months_overlapping(d(2026, 2, 1), d(2026, 2, 1)).len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn plus_and_months_until_agree(y in 1900i32..2200, m in 1u32..=12, n in -3000i64..3000) {
            let start = Month::new(y, m).unwrap();
            let moved = start.plus(n);
            proptest::prop_assert_eq!(start.months_until(moved), n);
            proptest::prop_assert!(moved.first_day() < moved.end());
        }
    }

    #[test]
    fn creating_more_months_than_the_limit_is_refused_with_how_to_raise_it() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let (from, to) = (d(1900, 1, 1), d(2100, 12, 31));
        let missing = months_overlapping(from, to).len();
        assert_eq!(missing, 2412);
        assert_eq!(
            creation_within_limit(120, 120, from, to, "public.prices_daily"),
            Ok(())
        );
        let refused =
            creation_within_limit(missing, 120, from, to, "public.prices_daily").unwrap_err();
        assert_eq!(
            refused,
            "weston: weston_ensure_partitions('1900-01-01', '2100-12-31') would create 2412 partitions \
             of public.prices_daily, more than its limit of 120 per call \
             (weston_partition_config.max_partitions_per_call); ask for a narrower range, or a dba \
             raises the limit: UPDATE weston_partition_config SET max_partitions_per_call = 2412 \
             WHERE parent = 'public.prices_daily'::regclass"
        );
    }
}
