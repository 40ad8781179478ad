//! The command line's request, checked against the calendar and the configured bounds
//! before anything is recorded.

use chrono::{DateTime, NaiveDate, Utc};

use crate::calendar;
use crate::cli::EARLIEST_DATE_ENV;
use crate::validate::symbol_list;
use crate::LoaderError;

/// What `run` was asked for, as given (`cli.rs` fills it from the command line).
#[derive(Debug, Clone)]
pub struct Asked {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// As given; cleaned by `validate::symbol_list`.
    pub symbols: Vec<String>,
    pub earliest_date: NaiveDate,
    pub metadata_refresh_days: u32,
}

/// The command line's request, checked: nothing is recorded for a request that fails here.
#[derive(Debug, Clone)]
pub struct Request {
    /// Named symbols, upper-cased and de-duplicated; empty for the universe.
    pub symbols: Vec<String>,
    pub from: Option<NaiveDate>,
    pub to: NaiveDate,
    /// Today in New York: anything after it is in the future.
    pub today: NaiveDate,
    pub metadata_refresh_days: u32,
    /// No window starts before it (a ticker's first day, as a provider gave it, included).
    pub earliest_date: NaiveDate,
}

impl Request {
    /// `args` checked at `now`: `--from` no earlier than the earliest date, no window after
    /// the last completed session, valid symbols.
    pub fn check(args: &Asked, now: DateTime<Utc>) -> Result<Request, LoaderError> {
        let today = calendar::new_york_today(now);
        let session = calendar::last_completed_session(now);
        let config = |message: String| Err(LoaderError::Config(message));
        if let Some(to) = args.to {
            // A weekend or holiday after the last session adds no session: a cron line
            // asking through "yesterday" on a Sunday or Monday stays valid.
            let incomplete = calendar::next_trading_day(session);
            if incomplete <= to {
                return config(format!(
                    "--to {to} is after the last completed session, {session}, and includes \
                     the session of {incomplete}, not complete yet (today is {today} in New \
                     York; a session is complete at 17:00)"
                ));
            }
        }
        let to = args.to.unwrap_or(session);
        if let Some(from) = args.from {
            if from > to {
                return config(match args.to {
                    Some(_) => format!("--from {from} is after --to {to}"),
                    None => format!(
                        "--from {from} is after the last completed session, {to} (the default --to)"
                    ),
                });
            }
            if from < args.earliest_date {
                return config(format!(
                    "--from {from} is before the earliest date allowed, {} \
                     ({EARLIEST_DATE_ENV} or --earliest-date)",
                    args.earliest_date
                ));
            }
        }
        let symbols = symbol_list(&args.symbols).map_err(LoaderError::Config)?;
        Ok(Request {
            symbols,
            from: args.from,
            to,
            today,
            metadata_refresh_days: args.metadata_refresh_days,
            earliest_date: args.earliest_date,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// `--from`, `--to` and `--earliest-date` as `extra` names them (e.g. `["--to", "2026-11-24"]`).
    fn args(extra: &[&str]) -> Asked {
        let mut asked = Asked {
            from: None,
            to: None,
            symbols: Vec::new(),
            earliest_date: d(1990, 1, 1),
            metadata_refresh_days: 30,
        };
        for pair in extra.chunks(2) {
            let date = pair[1].parse().unwrap();
            match pair[0] {
                "--from" => asked.from = Some(date),
                "--to" => asked.to = Some(date),
                "--earliest-date" => asked.earliest_date = date,
                other => unreachable!("{other}"),
            }
        }
        asked
    }

    #[test]
    fn windows_outside_the_bounds_are_refused_naming_the_bound() {
        // Tuesday 2026-11-24, 20:00 UTC: 15:00 in New York, so the last completed session
        // is Monday the 23rd.
        let now = d(2026, 11, 24).and_hms_opt(20, 0, 0).unwrap().and_utc();
        let check = |extra: &[&str]| Request::check(&args(extra), now);
        let e = check(&["--from", "2099-12-01"]).unwrap_err().to_string();
        assert!(
            e.contains("after the last completed session, 2026-11-23"),
            "{e}"
        );
        let e = check(&["--to", "2026-11-24"]).unwrap_err().to_string();
        assert!(
            e.contains("--to 2026-11-24 is after the last completed session, 2026-11-23")
                && e.contains("includes the session of 2026-11-24"),
            "{e}"
        );
        let e = check(&["--from", "1900-01-01"]).unwrap_err().to_string();
        assert!(
            e.contains("1990-01-01") && e.contains(EARLIEST_DATE_ENV),
            "{e}"
        );
        let ok = check(&["--from", "1900-01-01", "--earliest-date", "1900-01-01"]).unwrap();
        assert_eq!((ok.from, ok.to), (Some(d(1900, 1, 1)), d(2026, 11, 23)));
    }

    #[test]
    fn a_to_on_a_weekend_or_holiday_after_the_last_session_is_accepted() {
        // Sunday 2026-11-29, 12:00 in New York: the last completed session is Friday the 27th.
        let sunday = d(2026, 11, 29).and_hms_opt(17, 0, 0).unwrap().and_utc();
        let ok = Request::check(&args(&["--to", "2026-11-28"]), sunday).unwrap();
        assert_eq!(ok.to, d(2026, 11, 28));
        let ok = Request::check(&args(&["--to", "2026-11-29"]), sunday).unwrap();
        assert_eq!(ok.to, d(2026, 11, 29));
        // Monday morning: Sunday is still asked for without its session being complete.
        let monday = d(2026, 11, 30).and_hms_opt(14, 0, 0).unwrap().and_utc();
        let ok = Request::check(&args(&["--to", "2026-11-29"]), monday).unwrap();
        assert_eq!(ok.to, d(2026, 11, 29));
        // Monday's own session is not complete before 17:00: a window through it is refused.
        let e = Request::check(&args(&["--to", "2026-11-30"]), monday)
            .unwrap_err()
            .to_string();
        assert!(e.contains("includes the session of 2026-11-30"), "{e}");
        // Thanksgiving (Thursday 2026-11-26) is no session: through it, on the Thursday.
        let thanksgiving = d(2026, 11, 26).and_hms_opt(20, 0, 0).unwrap().and_utc();
        let ok = Request::check(&args(&["--to", "2026-11-26"]), thanksgiving).unwrap();
        assert_eq!(ok.to, d(2026, 11, 26));
        // A weekend further on still includes the sessions before it.
        let e = Request::check(&args(&["--to", "2026-12-06"]), monday)
            .unwrap_err()
            .to_string();
        assert!(e.contains("includes the session of 2026-11-30"), "{e}");
    }
}
