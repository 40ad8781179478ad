//! The NYSE trading calendar: weekends, full-day holidays with their observance rules,
//! and the unscheduled closures since 2001. Early closes (13:00) are still trading days.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::America::New_York;

/// A session's data is taken as complete at 17:00 New York time: an hour after the
/// 16:00 close, once closing auctions have printed and providers publish end-of-day files.
pub const SESSION_COMPLETE_AT: NaiveTime = match NaiveTime::from_hms_opt(17, 0, 0) {
    Some(t) => t,
    None => panic!("valid time"),
};

/// Unscheduled full-day closures (9/11, national days of mourning, Hurricane Sandy).
const SPECIAL_CLOSURES: &[(i32, u32, u32)] = &[
    (2001, 9, 11),
    (2001, 9, 12),
    (2001, 9, 13),
    (2001, 9, 14),
    (2004, 6, 11),
    (2007, 1, 2),
    (2012, 10, 29),
    (2012, 10, 30),
    (2018, 12, 5),
    (2025, 1, 9),
];

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

/// The `n`-th (1-based) `weekday` of a month.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> NaiveDate {
    let first = ymd(year, month, 1);
    let offset = (7 + weekday.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
    first + Duration::days(i64::from(offset + 7 * (n - 1)))
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let next_month = if month == 12 {
        ymd(year + 1, 1, 1)
    } else {
        ymd(year, month + 1, 1)
    };
    let last = next_month - Duration::days(1);
    let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    last - Duration::days(i64::from(back))
}

/// Western Easter Sunday (the Gregorian computus, Meeus/Jones/Butcher form).
fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    ymd(year, month as u32, day as u32)
}

/// A fixed-date holiday moved off the weekend: Saturday to Friday, Sunday to Monday.
/// `None` for New Year's Day on a Saturday: NYSE does not close on the Friday before,
/// which ends an accounting year.
fn observed(date: NaiveDate, shift_saturday: bool) -> Option<NaiveDate> {
    match date.weekday() {
        Weekday::Sat if shift_saturday => Some(date - Duration::days(1)),
        Weekday::Sat => None,
        Weekday::Sun => Some(date + Duration::days(1)),
        _ => Some(date),
    }
}

/// The full-day NYSE holidays observed in `year` (only those falling in `year`).
pub fn holidays(year: i32) -> Vec<NaiveDate> {
    let mut days = vec![
        nth_weekday(year, 1, Weekday::Mon, 3), // Martin Luther King Jr. Day (since 1998)
        nth_weekday(year, 2, Weekday::Mon, 3), // Washington's Birthday
        easter_sunday(year) - Duration::days(2), // Good Friday
        last_weekday(year, 5, Weekday::Mon),   // Memorial Day
        nth_weekday(year, 9, Weekday::Mon, 1), // Labor Day
        nth_weekday(year, 11, Weekday::Thu, 4), // Thanksgiving
    ];
    days.extend(observed(ymd(year, 1, 1), false));
    days.extend(observed(ymd(year, 7, 4), true));
    days.extend(observed(ymd(year, 12, 25), true));
    if year >= 2022 {
        days.extend(observed(ymd(year, 6, 19), true)); // Juneteenth
    }
    days.retain(|d| d.year() == year);
    days.sort();
    days
}

pub fn is_holiday(date: NaiveDate) -> bool {
    closures(date.year()).contains(&date)
}

/// Every weekday of `year` without a session: its holidays and unscheduled closures.
fn closures(year: i32) -> Vec<NaiveDate> {
    let mut days = holidays(year);
    days.extend(
        SPECIAL_CLOSURES
            .iter()
            .filter(|&&(y, _, _)| y == year)
            .map(|&(y, m, d)| ymd(y, m, d)),
    );
    days
}

/// Whether NYSE holds a regular session on `date`.
pub fn is_trading_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(date)
}

/// Trading days in `[from, to]`, oldest first.
pub fn trading_days(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    // A year's closures are worked out once, not once a day: the audit asks for years.
    let mut year: Option<(i32, Vec<NaiveDate>)> = None;
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| {
            if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                return false;
            }
            if year.as_ref().map(|(y, _)| *y) != Some(d.year()) {
                year = Some((d.year(), closures(d.year())));
            }
            year.as_ref().is_none_or(|(_, closed)| !closed.contains(d))
        })
        .collect()
}

/// The last trading day strictly before `date`.
pub fn previous_trading_day(date: NaiveDate) -> NaiveDate {
    let mut d = date - Duration::days(1);
    while !is_trading_day(d) {
        d -= Duration::days(1);
    }
    d
}

/// The first trading day strictly after `date`.
pub fn next_trading_day(date: NaiveDate) -> NaiveDate {
    let mut d = date + Duration::days(1);
    while !is_trading_day(d) {
        d += Duration::days(1);
    }
    d
}

/// The New York calendar date at `now`: "today" for trading purposes.
pub fn new_york_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&New_York).date_naive()
}

/// The most recent session whose data is complete at `now` (see [`SESSION_COMPLETE_AT`]).
pub fn last_completed_session(now: DateTime<Utc>) -> NaiveDate {
    let local = now.with_timezone(&New_York);
    let today = local.date_naive();
    if is_trading_day(today) && local.time() >= SESSION_COMPLETE_AT {
        today
    } else {
        previous_trading_day(today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn full_year_2024_matches_nyse() {
        let expected = [
            ymd(2024, 1, 1),
            ymd(2024, 1, 15),
            ymd(2024, 2, 19),
            ymd(2024, 3, 29),
            ymd(2024, 5, 27),
            ymd(2024, 6, 19),
            ymd(2024, 7, 4),
            ymd(2024, 9, 2),
            ymd(2024, 11, 28),
            ymd(2024, 12, 25),
        ];
        assert_eq!(holidays(2024), expected);
        // 366 days, 104 weekend days, 10 holidays on weekdays.
        assert_eq!(trading_days(ymd(2024, 1, 1), ymd(2024, 12, 31)).len(), 252);
    }

    #[test]
    fn good_friday_follows_easter() {
        assert_eq!(easter_sunday(2024), ymd(2024, 3, 31));
        assert_eq!(easter_sunday(2025), ymd(2025, 4, 20));
        assert_eq!(easter_sunday(2019), ymd(2019, 4, 21));
        assert_eq!(easter_sunday(2038), ymd(2038, 4, 25));
        assert!(!is_trading_day(ymd(2025, 4, 18)));
        assert!(!is_trading_day(ymd(2026, 4, 3)));
    }

    #[test]
    fn observance_rules() {
        // Independence Day 2026 on a Saturday: closed Friday the 3rd.
        assert!(!is_trading_day(ymd(2026, 7, 3)));
        // Christmas 2022 on a Sunday: closed Monday the 26th.
        assert!(!is_trading_day(ymd(2022, 12, 26)));
        // New Year 2022 on a Saturday: Friday 2021-12-31 was a normal session.
        assert!(is_trading_day(ymd(2021, 12, 31)));
        // New Year 2023 on a Sunday: closed Monday 2023-01-02.
        assert!(!is_trading_day(ymd(2023, 1, 2)));
        // Juneteenth: from 2022 only; 2022 fell on a Sunday (observed Monday 20th).
        assert!(is_trading_day(ymd(2021, 6, 18)));
        assert!(!is_trading_day(ymd(2022, 6, 20)));
        assert!(!is_trading_day(ymd(2023, 6, 19)));
        // Juneteenth 2027 is a Saturday: closed Friday the 18th.
        assert!(!is_trading_day(ymd(2027, 6, 18)));
    }

    #[test]
    fn special_closures_and_ordinary_days() {
        for d in [
            ymd(2001, 9, 11),
            ymd(2012, 10, 29),
            ymd(2018, 12, 5),
            ymd(2025, 1, 9),
        ] {
            assert!(!is_trading_day(d), "{d}");
        }
        // Day after Thanksgiving is an early close, still a session.
        assert!(is_trading_day(ymd(2024, 11, 29)));
        assert!(!is_trading_day(ymd(2024, 11, 30)), "Saturday");
    }

    #[test]
    fn last_completed_session_uses_new_york_time() {
        for (now, session) in [
            // Tue 2024-07-02 20:59 UTC = 16:59 EDT: that day not complete yet.
            ("2024-07-02T20:59:00Z", ymd(2024, 7, 1)),
            ("2024-07-02T21:00:00Z", ymd(2024, 7, 2)),
            // Early on Wed 2024-07-03 UTC it is still Tuesday evening in New York.
            ("2024-07-03T03:00:00Z", ymd(2024, 7, 2)),
            // Friday 2024-07-05 morning: Thursday the 4th was a holiday.
            ("2024-07-05T14:00:00Z", ymd(2024, 7, 3)),
            // Monday 2024-01-15 (MLK) evening: back to Friday the 12th. EST is UTC-5.
            ("2024-01-15T23:00:00Z", ymd(2024, 1, 12)),
            ("2024-01-16T22:00:00Z", ymd(2024, 1, 16)),
        ] {
            assert_eq!(last_completed_session(utc(now)), session, "at {now}");
        }
    }
}
