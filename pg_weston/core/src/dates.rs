//! PostgreSQL `date` values as the extension accepts them. A `date` is a count of days from
//! 2000-01-01, with its extremes standing for `-infinity` and `infinity`; it reaches from
//! 4713 BC to 5874897 AD. The extension works on years 1 to 9999: a partition's name holds a
//! four-digit year, and chrono represents every date of them. Anything else is refused with
//! an error naming the argument, its value and the range, never a panic.

use chrono::{Days, NaiveDate};

/// The first and last dates an argument may take.
pub const FIRST: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(d) => d,
    None => panic!("0001-01-01 is a date"),
};
pub const LAST: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(d) => d,
    None => panic!("9999-12-31 is a date"),
};

/// PostgreSQL's `-infinity` and `infinity` dates (DATEVAL_NOBEGIN, DATEVAL_NOEND).
const NEG_INFINITY: i32 = i32::MIN;
const INFINITY: i32 = i32::MAX;

/// 2000-01-01, day 0 of PostgreSQL's `date`.
const PG_EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("2000-01-01 is a date"),
};

/// The error of an argument outside `FIRST..=LAST`, with SQLSTATE 22008
/// (datetime_field_overflow) where it is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfRange(pub String);

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The date `pg_days` (days from 2000-01-01) stands for, when the extension supports it.
pub fn from_pg_days(argument: &str, pg_days: i32) -> Result<NaiveDate, OutOfRange> {
    let date = match pg_days {
        NEG_INFINITY | INFINITY => None,
        days if days >= 0 => PG_EPOCH.checked_add_days(Days::new(days.unsigned_abs().into())),
        days => PG_EPOCH.checked_sub_days(Days::new(days.unsigned_abs().into())),
    };
    match date {
        Some(d) if (FIRST..=LAST).contains(&d) => Ok(d),
        _ => Err(OutOfRange(format!(
            "weston: {argument} {} is outside the supported range {FIRST} to {LAST}",
            show(pg_days)
        ))),
    }
}

/// Days from 2000-01-01 of a supported date (`FIRST..=LAST`, where every date fits an i32).
pub fn to_pg_days(date: NaiveDate) -> Result<i32, OutOfRange> {
    if !(FIRST..=LAST).contains(&date) {
        return Err(OutOfRange(format!(
            "weston: date {date} is outside the supported range {FIRST} to {LAST}"
        )));
    }
    let days = date.signed_duration_since(PG_EPOCH).num_days();
    i32::try_from(days)
        .map_err(|_| OutOfRange(format!("weston: date {date} has no PostgreSQL value")))
}

/// `pg_days` as PostgreSQL prints a date (ISO, `BC` before year 1), for any value, those
/// beyond chrono's years included.
pub fn show(pg_days: i32) -> String {
    match pg_days {
        NEG_INFINITY => "-infinity".to_string(),
        INFINITY => "infinity".to_string(),
        days => {
            let (year, month, day) = civil_from_days(i64::from(days) + 10_957);
            if year <= 0 {
                format!("{:04}-{month:02}-{day:02} BC", 1 - year)
            } else {
                format!("{year:04}-{month:02}-{day:02}")
            }
        }
    }
}

/// The proleptic Gregorian (year, month, day) of `days` from 1970-01-01 (year 0 is 1 BC);
/// Howard Hinnant's `civil_from_days`, exact over any i32 day count.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // month is 1..=12 and day 1..=31 by construction.
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn days(date: &str) -> i32 {
        let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        i32::try_from(d.signed_duration_since(PG_EPOCH).num_days()).unwrap()
    }

    #[test]
    fn supported_dates_round_trip_and_match_postgresql_day_numbers() {
        assert_eq!(from_pg_days("d", 0), Ok(PG_EPOCH));
        // SELECT '2024-02-29'::date - '2000-01-01'::date = 8825
        assert_eq!(
            from_pg_days("d", 8825),
            Ok(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())
        );
        for date in [
            FIRST,
            LAST,
            PG_EPOCH,
            NaiveDate::from_ymd_opt(1969, 12, 31).unwrap(),
        ] {
            let n = to_pg_days(date).unwrap();
            assert_eq!(from_pg_days("d", n), Ok(date));
        }
        // SELECT '0001-01-01'::date - '2000-01-01'::date = -730119
        assert_eq!(to_pg_days(FIRST), Ok(-730_119));
    }

    #[test]
    fn extremes_are_refused_naming_the_argument_the_value_and_the_range() {
        // SELECT '4713-01-01 BC'::date - '2000-01-01'::date = -2451507
        let e = from_pg_days("month", -2_451_507).unwrap_err();
        assert_eq!(
            e.0,
            "weston: month 4713-01-01 BC is outside the supported range 0001-01-01 to 9999-12-31"
        );
        assert_eq!(
            from_pg_days("to_date", i32::MAX).unwrap_err().0,
            "weston: to_date infinity is outside the supported range 0001-01-01 to 9999-12-31"
        );
        assert!(from_pg_days("from_date", i32::MIN)
            .unwrap_err()
            .0
            .contains("from_date -infinity is outside"));
        // The last date PostgreSQL has, far beyond chrono's years.
        // SELECT '5874897-12-31'::date - '2000-01-01'::date = 2145031948
        assert!(from_pg_days("as_of", 2_145_031_948)
            .unwrap_err()
            .0
            .contains("as_of 5874897-12-31 is outside"));
        assert!(from_pg_days("d", days("0001-01-01") - 1)
            .unwrap_err()
            .0
            .contains("0001-12-31 BC"));
        assert!(from_pg_days("d", days("9999-12-31") + 1)
            .unwrap_err()
            .0
            .contains("10000-01-01"));
        assert!(to_pg_days(NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap()).is_err());
    }

    #[test]
    fn every_day_count_shows_as_postgresql_prints_it() {
        assert_eq!(show(0), "2000-01-01");
        assert_eq!(show(-1), "1999-12-31");
        assert_eq!(show(-2_451_507), "4713-01-01 BC");
        // PostgreSQL's first date (Julian day 0).
        assert_eq!(show(-2_451_545), "4714-11-24 BC");
        assert_eq!(show(days("0001-01-01") - 1), "0001-12-31 BC");
        assert_eq!(show(2_145_031_948), "5874897-12-31");
        for n in [-1_000_000, -730_119, 0, 8825, 2_000_000] {
            let chrono = PG_EPOCH
                .checked_add_signed(chrono::Duration::days(i64::from(n)))
                .unwrap();
            if chrono.year() >= 1 {
                assert_eq!(show(n), chrono.format("%Y-%m-%d").to_string(), "{n}");
            }
        }
    }
}
