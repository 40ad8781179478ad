//! Partition planning: given the trading date, the months that have partitions, the
//! table's configuration and the months of rows waiting in DEFAULT, decide what one
//! rotation run does. Pure calendar arithmetic on `NaiveDate`, so the session time zone
//! never enters; the caller passes "today" as the America/New_York trading date.

use crate::month::Month;
use chrono::{Months, NaiveDate};

/// DEFAULT rows dated further ahead than this many months past the current month do
/// not get a partition: one stray row dated 2097 must not create 850 empty months.
/// They wait in DEFAULT and are reported. Two years covers every legitimate forward
/// date in daily prices (none) with room for test and calendar data.
pub const STRAY_HORIZON_MONTHS: i64 = 24;

/// A gap between the newest past partition and the current month is filled only when it
/// spans at most this many months: that is a cron job that missed runs. A longer gap is
/// history (an old month created for a stray row), and filling it would make years of
/// empty partitions.
pub const CATCH_UP_MONTHS: i64 = 24;

/// What happens to months that age out of the retention window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Detach: the month becomes a standalone table in the same schema.
    Detach,
    /// Drop the month's table and its rows.
    Drop,
    /// Detach and move the table to the configured archive schema.
    Archive,
}

impl Retention {
    pub fn parse(s: &str) -> Option<Retention> {
        match s {
            "detach" => Some(Retention::Detach),
            "drop" => Some(Retention::Drop),
            "archive" => Some(Retention::Archive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Retention::Detach => "detach",
            Retention::Drop => "drop",
            Retention::Archive => "archive",
        }
    }
}

/// One row of `weston_partition_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Months to keep ready beyond the current month.
    pub premake_months: u32,
    /// `None` keeps every month.
    pub retain_months: Option<u32>,
    pub retention: Retention,
}

/// Why a month with rows in DEFAULT gets no partition in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrayReason {
    /// Dated beyond [`STRAY_HORIZON_MONTHS`] past the current month.
    TooFarAhead,
    /// Older than the retention cutoff: creating it would only retire it again.
    OlderThanRetention,
}

impl StrayReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StrayReason::TooFarAhead => "beyond the stray horizon",
            StrayReason::OlderThanRetention => "older than the retention cutoff",
        }
    }
}

/// Rows of one month waiting in DEFAULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultMonth {
    pub month: Month,
    pub rows: i64,
}

/// Why a month is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateReason {
    /// The current month or one of the pre-made months ahead.
    Calendar,
    /// A month between the newest existing one and today (runs were missed).
    CatchUp,
    /// Rows of this month wait in DEFAULT.
    DefaultRows,
}

impl CreateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CreateReason::Calendar => "calendar",
            CreateReason::CatchUp => "catch-up",
            CreateReason::DefaultRows => "default rows",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Create {
    pub month: Month,
    pub reason: CreateReason,
    /// Rows that move from DEFAULT into it.
    pub default_rows: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stray {
    pub month: Month,
    pub rows: i64,
    pub reason: StrayReason,
}

/// What one rotation run does to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub current: Month,
    /// Months to create, oldest first.
    pub create: Vec<Create>,
    /// Months to detach / drop / archive, oldest first.
    pub retire: Vec<Month>,
    pub retention: Retention,
    /// The retention cutoff: months ending on or before it are retired.
    pub cutoff: Option<NaiveDate>,
    /// DEFAULT rows left where they are, and why.
    pub stray: Vec<Stray>,
    /// Months from the current through the last pre-made one that have no partition now.
    pub missing_future_months: u32,
}

/// The retention cutoff: `today` minus `retain_months` calendar months (clamped to the end
/// of a shorter month, so 31 March minus one month is 28 or 29 February).
pub fn retention_cutoff(today: NaiveDate, retain_months: u32) -> NaiveDate {
    today
        .checked_sub_months(Months::new(retain_months))
        .unwrap_or(NaiveDate::MIN)
}

/// Plans one rotation run. `existing` are the months that are partitions now (any
/// order, duplicates ignored); `in_default` the months of rows waiting in DEFAULT.
pub fn plan(
    today: NaiveDate,
    existing: &[Month],
    config: &Config,
    in_default: &[DefaultMonth],
) -> Plan {
    let current = Month::containing(today);
    let last_premade = current.plus(i64::from(config.premake_months));
    let cutoff = config.retain_months.map(|n| retention_cutoff(today, n));
    // A month is inside the retention window unless it ends on or before the cutoff.
    let retained = |m: Month| cutoff.is_none_or(|c| m.end() > c);
    let exists = |m: Month| existing.contains(&m);
    let rows_in_default = |m: Month| {
        in_default
            .iter()
            .filter(|d| d.month == m)
            .map(|d| d.rows)
            .sum::<i64>()
    };

    let mut create: Vec<Create> = Vec::new();
    // Catch up: months after the newest partition older than the current month, up to now.
    let newest_past = existing.iter().copied().filter(|m| *m < current).max();
    if let Some(newest_past) =
        newest_past.filter(|m| m.months_until(current) - 1 <= CATCH_UP_MONTHS)
    {
        let mut m = newest_past.next();
        while m < current {
            if !exists(m) && retained(m) {
                create.push(Create {
                    month: m,
                    reason: CreateReason::CatchUp,
                    default_rows: rows_in_default(m),
                });
            }
            m = m.next();
        }
    }
    // Calendar: the current month and `premake_months` ahead, whatever the data says.
    let mut missing_future_months = 0;
    let mut m = current;
    while m <= last_premade {
        if !exists(m) {
            missing_future_months += 1;
            create.push(Create {
                month: m,
                reason: CreateReason::Calendar,
                default_rows: rows_in_default(m),
            });
        }
        m = m.next();
    }
    // DEFAULT rows: their month is created unless too far ahead or already retired.
    let mut stray = Vec::new();
    let mut default_months: Vec<Month> = in_default.iter().map(|d| d.month).collect();
    default_months.sort();
    default_months.dedup();
    for month in default_months {
        if exists(month) || create.iter().any(|c| c.month == month) {
            continue;
        }
        let rows = rows_in_default(month);
        if current.months_until(month) > STRAY_HORIZON_MONTHS {
            stray.push(Stray {
                month,
                rows,
                reason: StrayReason::TooFarAhead,
            });
        } else if !retained(month) {
            stray.push(Stray {
                month,
                rows,
                reason: StrayReason::OlderThanRetention,
            });
        } else {
            create.push(Create {
                month,
                reason: CreateReason::DefaultRows,
                default_rows: rows,
            });
        }
    }
    create.sort_by_key(|c| c.month);

    // Retention: only existing months wholly before the cutoff and before the current
    // month, and never the newest existing partition (the table keeps at least one).
    let mut retire: Vec<Month> = Vec::new();
    if cutoff.is_some() {
        let newest = existing.iter().copied().max();
        retire = existing
            .iter()
            .copied()
            .filter(|m| *m < current && !retained(*m) && Some(*m) != newest)
            .collect();
        retire.sort();
        retire.dedup();
    }

    Plan {
        current,
        create,
        retire,
        retention: config.retention,
        cutoff,
        stray,
        missing_future_months,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }
    fn mo(y: i32, m: u32) -> Month {
        Month::new(y, m).unwrap()
    }
    fn keep_all(premake: u32) -> Config {
        Config {
            premake_months: premake,
            retain_months: None,
            retention: Retention::Detach,
        }
    }
    fn created(p: &Plan) -> Vec<String> {
        p.create.iter().map(|c| c.month.to_string()).collect()
    }

    #[test]
    fn an_empty_table_gets_the_calendar_months() {
        let p = plan(d(2026, 11, 24), &[], &keep_all(3), &[]);
        assert_eq!(created(&p), ["2026-11", "2026-12", "2027-01", "2027-02"]);
        assert!(p.create.iter().all(|c| c.reason == CreateReason::Calendar));
        assert_eq!(p.missing_future_months, 4);
        assert!(p.retire.is_empty() && p.stray.is_empty());
    }

    #[test]
    fn december_rolls_into_the_next_year() {
        let existing = [mo(2026, 12)];
        let p = plan(d(2026, 12, 31), &existing, &keep_all(2), &[]);
        assert_eq!(created(&p), ["2027-01", "2027-02"]);
        let p = plan(d(2027, 1, 1), &existing, &keep_all(0), &[]);
        assert_eq!(created(&p), ["2027-01"]);
        assert_eq!(p.create[0].reason, CreateReason::Calendar);
    }

    #[test]
    fn a_fully_premade_table_is_a_no_op() {
        let existing: Vec<Month> = (0..=3).map(|n| mo(2024, 2).plus(n)).collect();
        let p = plan(d(2024, 2, 29), &existing, &keep_all(3), &[]);
        assert!(p.create.is_empty() && p.retire.is_empty() && p.stray.is_empty());
        assert_eq!(p.missing_future_months, 0);
    }

    #[test]
    fn missed_runs_are_caught_up() {
        // The last run was in September; the cron job was down until January.
        let existing = [mo(2025, 9), mo(2025, 10)];
        let p = plan(d(2026, 1, 5), &existing, &keep_all(1), &[]);
        assert_eq!(created(&p), ["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert_eq!(p.create[0].reason, CreateReason::CatchUp);
        assert_eq!(p.create[2].reason, CreateReason::Calendar);
    }

    #[test]
    fn an_old_month_made_for_a_stray_row_is_not_caught_up_to() {
        // 2019-05 was created for DEFAULT rows; the years after it are not missed runs.
        let existing = [mo(2019, 5), mo(2026, 11)];
        let p = plan(d(2026, 11, 24), &existing, &keep_all(0), &[]);
        assert!(p.create.is_empty(), "{:?}", p.create);
        // A gap of exactly CATCH_UP_MONTHS is filled; one more is not.
        let p = plan(d(2026, 11, 24), &[mo(2024, 10)], &keep_all(0), &[]);
        assert_eq!(p.create.len(), 25);
        let p = plan(d(2026, 11, 24), &[mo(2024, 9)], &keep_all(0), &[]);
        assert_eq!(created(&p), ["2026-11"]);
    }

    #[test]
    fn default_rows_get_their_month_within_the_horizon() {
        let existing = [mo(2026, 11)];
        let in_default = [
            DefaultMonth {
                month: mo(2019, 5),
                rows: 10,
            },
            DefaultMonth {
                month: mo(2027, 6),
                rows: 1,
            },
            DefaultMonth {
                month: mo(2028, 11),
                rows: 2,
            },
            DefaultMonth {
                month: mo(2028, 12),
                rows: 3,
            },
            DefaultMonth {
                month: mo(2097, 1),
                rows: 1,
            },
        ];
        let p = plan(d(2026, 11, 24), &existing, &keep_all(0), &in_default);
        assert_eq!(created(&p), ["2019-05", "2027-06", "2028-11"]);
        assert_eq!(p.create[0].default_rows, 10);
        assert_eq!(p.create[0].reason, CreateReason::DefaultRows);
        let stray: Vec<(String, i64)> = p
            .stray
            .iter()
            .map(|s| (s.month.to_string(), s.rows))
            .collect();
        assert_eq!(stray, [("2028-12".into(), 3), ("2097-01".into(), 1)]);
        assert!(p.stray.iter().all(|s| s.reason == StrayReason::TooFarAhead));
    }

    #[test]
    fn retention_takes_only_months_wholly_older_than_the_cutoff() {
        let existing: Vec<Month> = (0..24).map(|n| mo(2025, 1).plus(n)).collect();
        let config = Config {
            premake_months: 0,
            retain_months: Some(12),
            retention: Retention::Drop,
        };
        // Cutoff 2025-12-15: December 2025 is partly inside the window and stays.
        let p = plan(d(2026, 12, 15), &existing, &config, &[]);
        assert_eq!(p.cutoff, Some(d(2025, 12, 15)));
        let retired: Vec<String> = p.retire.iter().map(ToString::to_string).collect();
        assert_eq!(retired.first().map(String::as_str), Some("2025-01"));
        assert_eq!(retired.last().map(String::as_str), Some("2025-11"));
        // On the first of a month the cutoff is a first too: the month before it ends on it.
        let p = plan(d(2026, 12, 1), &existing, &config, &[]);
        assert_eq!(p.retire.last(), Some(&mo(2025, 11)));
        // A cutoff on the last day of a month keeps that month (it ends the day after).
        let p = plan(d(2026, 11, 30), &existing, &config, &[]);
        assert_eq!(p.cutoff, Some(d(2025, 11, 30)));
        assert_eq!(p.retire.last(), Some(&mo(2025, 10)));
    }

    #[test]
    fn retention_cutoff_clamps_to_leap_february() {
        assert_eq!(retention_cutoff(d(2024, 3, 31), 1), d(2024, 2, 29));
        assert_eq!(retention_cutoff(d(2025, 3, 31), 1), d(2025, 2, 28));
        assert_eq!(retention_cutoff(d(2025, 2, 28), 12), d(2024, 2, 28));
        assert_eq!(retention_cutoff(d(2024, 2, 29), 12), d(2023, 2, 28));
    }

    #[test]
    fn retention_never_takes_the_current_a_future_or_the_last_month() {
        let config = Config {
            premake_months: 3,
            retain_months: Some(1),
            retention: Retention::Detach,
        };
        // Only ancient months exist (creation of today's failed last night): keep the newest.
        let existing = [mo(2001, 1), mo(2001, 2), mo(2001, 3)];
        let p = plan(d(2026, 11, 24), &existing, &config, &[]);
        assert_eq!(p.retire, [mo(2001, 1), mo(2001, 2)]);
        let p = plan(d(2026, 11, 24), &[mo(2001, 1)], &config, &[]);
        assert!(p.retire.is_empty());
        // Current and future months are never retired.
        let existing: Vec<Month> = (-3..=3).map(|n| mo(2026, 11).plus(n)).collect();
        let p = plan(d(2026, 11, 24), &existing, &config, &[]);
        assert_eq!(p.retire, [mo(2026, 8), mo(2026, 9)]);
    }

    #[test]
    fn default_rows_older_than_retention_wait_and_are_reported() {
        let config = Config {
            premake_months: 0,
            retain_months: Some(6),
            retention: Retention::Archive,
        };
        let in_default = [DefaultMonth {
            month: mo(2020, 1),
            rows: 7,
        }];
        let p = plan(d(2026, 11, 24), &[mo(2026, 11)], &config, &in_default);
        assert!(p.create.is_empty());
        assert_eq!(
            p.stray,
            [Stray {
                month: mo(2020, 1),
                rows: 7,
                reason: StrayReason::OlderThanRetention
            }]
        );
    }

    #[test]
    fn retention_does_not_recreate_what_it_retired() {
        // After last month's run detached 2025-10, catch-up must not bring it back.
        let config = Config {
            premake_months: 1,
            retain_months: Some(12),
            retention: Retention::Detach,
        };
        let existing: Vec<Month> = (0..=12).map(|n| mo(2025, 12).plus(n)).collect();
        let p = plan(d(2026, 11, 24), &existing, &config, &[]);
        assert!(p.create.is_empty(), "{:?}", p.create);
        assert!(p.retire.is_empty(), "{:?}", p.retire);
        // Only current and future months left (everything older retired): nothing to catch up.
        let p = plan(d(2026, 11, 24), &[mo(2026, 11), mo(2026, 12)], &config, &[]);
        assert!(p.create.is_empty(), "{:?}", p.create);
    }

    fn arb_date() -> impl Strategy<Value = NaiveDate> {
        (1990i32..2100, 1u32..=12, 1u32..=31).prop_filter_map("a real date", |(y, m, day)| {
            NaiveDate::from_ymd_opt(y, m, day)
        })
    }

    proptest! {
        #[test]
        fn plans_keep_their_invariants(
            today in arb_date(),
            offsets in proptest::collection::vec(-300i64..40, 0..30),
            default_offsets in proptest::collection::vec((-300i64..1000, 1i64..1000), 0..8),
            premake in 0u32..12,
            retain in proptest::option::of(1u32..60),
        ) {
            let current = Month::containing(today);
            let existing: Vec<Month> = offsets.iter().map(|n| current.plus(*n)).collect();
            let in_default: Vec<DefaultMonth> = default_offsets
                .iter()
                .map(|(n, rows)| DefaultMonth { month: current.plus(*n), rows: *rows })
                .filter(|dm| !existing.contains(&dm.month))
                .collect();
            let config = Config { premake_months: premake, retain_months: retain, retention: Retention::Detach };
            let p = plan(today, &existing, &config, &in_default);

            // Afterwards every month from the current through the pre-made ones exists.
            for n in 0..=i64::from(premake) {
                let m = current.plus(n);
                prop_assert!(existing.contains(&m) || p.create.iter().any(|c| c.month == m));
            }
            // Nothing is created twice or created when it exists; creation is in order.
            for w in p.create.windows(2) { prop_assert!(w[0].month < w[1].month); }
            for c in &p.create { prop_assert!(!existing.contains(&c.month)); }
            // Never beyond the stray horizon, whatever sits in DEFAULT.
            let horizon = current.plus(STRAY_HORIZON_MONTHS.max(i64::from(premake)));
            for c in &p.create { prop_assert!(c.month <= horizon); }
            // Catch-up never fills more than CATCH_UP_MONTHS, whatever the existing months.
            let catch_up = p.create.iter().filter(|c| c.reason == CreateReason::CatchUp).count();
            prop_assert!(catch_up as i64 <= CATCH_UP_MONTHS);
            // Every DEFAULT month is either created or reported, never silently ignored.
            for dm in &in_default {
                prop_assert!(p.create.iter().any(|c| c.month == dm.month) || p.stray.iter().any(|s| s.month == dm.month));
            }
            // Retention: only existing months, wholly before the cutoff, before the current
            // month, and never every partition.
            for m in &p.retire {
                prop_assert!(existing.contains(m));
                prop_assert!(*m < current);
                prop_assert!(m.end() <= p.cutoff.unwrap());
                prop_assert!(!p.create.iter().any(|c| c.month == *m));
            }
            if !existing.is_empty() {
                let mut distinct = existing.clone();
                distinct.sort();
                distinct.dedup();
                prop_assert!(p.retire.len() < distinct.len());
            }
            if retain.is_none() { prop_assert!(p.retire.is_empty()); }
            // No month inside the retention window is created-then-retired churn.
            if let Some(cutoff) = p.cutoff {
                for c in &p.create { prop_assert!(c.month.end() > cutoff); }
            }
        }
    }
}
