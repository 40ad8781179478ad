//! The mock market's life events, on fixed dates (inside the main job's first 180-day
//! window when it was written, late 2026): a ticker change, a delisting, a reused ticker and
//! a share-class move. Bars follow the security, not the ticker: a ticker serves, on each
//! date, the random walk of the security holding it that day (keyed by `security`), and
//! nothing on dates no security holds it.

use chrono::NaiveDate;

use crate::model::{LifeEvent, TickerIdentity};

/// The renamed symbol (like FB → META on 2022-06-09) and its first day under the new name.
pub const RENAMED: (&str, &str, &str) = ("MOCK0701", "MOCKR701", "2026-09-14");
/// The delisted symbol and its last session.
pub const DELISTED: (&str, &str) = ("MOCK0702", "2026-08-21");
/// The reused ticker: its first company's last session, and the first day of the unrelated
/// company that lists under the same ticker later.
pub const REUSED: (&str, &str, &str) = ("MOCK0703", "2026-07-17", "2026-10-05");
/// The share-class move (like GOOG in 2014): from this day the old class trades as
/// `MOCK0704.A` and a new class of the same issuer takes `MOCK0704`.
pub const SHARE_CLASS: (&str, &str, &str) = ("MOCK0704", "MOCK0704.A", "2026-10-19");

/// One ticker held by one security over `[from, to]` (None: open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub ticker: String,
    /// The key of the security's random walk and identifiers.
    pub security: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a valid date in the mock's life table")
}

/// Every holding of the mock's life events; a ticker not in it is its own security, always.
fn holdings() -> Vec<Holding> {
    let hold = |ticker: &str, security: &str, from: Option<&str>, to: Option<&str>| Holding {
        ticker: ticker.to_owned(),
        security: security.to_owned(),
        from: from.map(day),
        to: to.map(day),
    };
    let before = |text: &str| (day(text) - chrono::Duration::days(1)).to_string();
    let (old, new, effective) = RENAMED;
    let (delisted, last) = DELISTED;
    let (reused, first_last, second_first) = REUSED;
    let (class, class_a, moved) = SHARE_CLASS;
    vec![
        hold(old, old, None, Some(&before(effective))),
        hold(new, old, Some(effective), None),
        hold(delisted, delisted, None, Some(last)),
        hold(reused, reused, None, Some(first_last)),
        hold(reused, &format!("{reused}/2"), Some(second_first), None),
        hold(class, class, None, Some(&before(moved))),
        hold(class_a, class, Some(moved), None),
        hold(class, &format!("{class}/C"), Some(moved), None),
    ]
}

/// The holdings of `ticker`, oldest first: one open holding by itself when it has no events.
pub fn holdings_of(ticker: &str) -> Vec<Holding> {
    let found: Vec<Holding> = holdings()
        .into_iter()
        .filter(|h| h.ticker == ticker)
        .collect();
    if found.is_empty() {
        vec![Holding {
            ticker: ticker.to_owned(),
            security: ticker.to_owned(),
            from: None,
            to: None,
        }]
    } else {
        found
    }
}

/// Ticker changes and delistings effective in `[from, to]` (the listing a provider gives).
pub fn events(from: NaiveDate, to: NaiveDate) -> Vec<LifeEvent> {
    let all = holdings();
    let mut events = Vec::new();
    for h in &all {
        let Some(last) = h.to else { continue };
        match all
            .iter()
            .find(|n| n.security == h.security && n.from == Some(last.succ_opt().expect("date")))
        {
            Some(next) if (from..=to).contains(&(last + chrono::Duration::days(1))) => {
                events.push(LifeEvent::Renamed {
                    old: h.ticker.clone(),
                    new: next.ticker.clone(),
                    effective: last + chrono::Duration::days(1),
                });
            }
            None if (from..=to).contains(&last) => events.push(LifeEvent::Delisted {
                symbol: h.ticker.clone(),
                last_day: last,
            }),
            _ => {}
        }
    }
    events
}

/// The identifiers of a security of the mock market: composite and share-class FIGIs
/// (`BBG` and nine characters) and a ten-digit CIK, shared by the share classes of one
/// issuer and different for an unrelated company reusing a ticker.
fn identifiers(security: &str) -> (String, String, String) {
    let number: String = security
        .chars()
        .filter(char::is_ascii_digit)
        .take(4)
        .collect();
    let number: u32 = number.parse().unwrap_or(0);
    let (figi_letter, share_letter, issuer) = if security.ends_with("/2") {
        ('N', 'T', 2_000_000 + number)
    } else if security.ends_with("/C") {
        ('C', 'D', 1_000_000 + number)
    } else {
        ('M', 'S', 1_000_000 + number)
    };
    (
        format!("BBG{figi_letter}0000{number:04}"),
        format!("BBG{share_letter}0000{number:04}"),
        format!("{issuer:010}"),
    )
}

/// What the mock says of the security holding `ticker` now (or last).
pub fn identity(ticker: &str) -> TickerIdentity {
    let all = holdings();
    let holding = holdings_of(ticker).pop().expect("at least one holding");
    let (composite_figi, share_class_figi, cik) = identifiers(&holding.security);
    let renamed_to = holding.to.and_then(|last| {
        all.iter()
            .find(|n| n.security == holding.security && n.from == last.succ_opt())
            .map(|n| (n.ticker.clone(), n.from.expect("a renamed holding starts")))
    });
    TickerIdentity {
        symbol: ticker.to_owned(),
        composite_figi: Some(composite_figi),
        share_class_figi: Some(share_class_figi),
        cik: Some(cik),
        listed: Some(holding.from.unwrap_or_else(super::walk::epoch)),
        last_day: holding.to,
        renamed_to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::is_trading_day;

    #[test]
    fn life_events_fall_on_sessions_and_are_listed_once() {
        // First days and last sessions are sessions; a renamed holding ends the calendar
        // day before its successor starts (as ticker_history records it).
        for h in holdings() {
            assert!(h.from.is_none_or(is_trading_day), "{h:?}");
            let renamed = holdings()
                .iter()
                .any(|n| n.security == h.security && n.from == h.to.and_then(|t| t.succ_opt()));
            assert!(renamed || h.to.is_none_or(is_trading_day), "{h:?}");
        }
        let all = events(day("2026-01-01"), day("2026-12-31"));
        assert_eq!(
            all,
            vec![
                LifeEvent::Renamed {
                    old: "MOCK0701".into(),
                    new: "MOCKR701".into(),
                    effective: day("2026-09-14")
                },
                LifeEvent::Delisted {
                    symbol: "MOCK0702".into(),
                    last_day: day("2026-08-21")
                },
                LifeEvent::Delisted {
                    symbol: "MOCK0703".into(),
                    last_day: day("2026-07-17")
                },
                LifeEvent::Renamed {
                    old: "MOCK0704".into(),
                    new: "MOCK0704.A".into(),
                    effective: day("2026-10-19")
                },
            ]
        );
        assert!(events(day("2026-01-01"), day("2026-07-16")).is_empty());
    }

    #[test]
    fn a_reused_ticker_names_an_unrelated_company_and_a_moved_one_the_same_issuer() {
        let reused = identity("MOCK0703");
        let first = identifiers("MOCK0703");
        assert_eq!(reused.listed, Some(day("2026-10-05")));
        assert_ne!(reused.composite_figi, Some(first.0));
        assert_ne!(reused.cik, Some(first.2.clone()));
        let moved = identity("MOCK0704");
        assert_eq!(moved.cik, Some(identifiers("MOCK0704").2));
        assert_ne!(moved.composite_figi, Some(identifiers("MOCK0704").0));
        let renamed = identity("MOCK0701");
        assert_eq!(
            renamed.renamed_to,
            Some(("MOCKR701".to_owned(), day("2026-09-14")))
        );
        assert_eq!(identity("MOCK0702").last_day, Some(day("2026-08-21")));
        assert_eq!(identity("MOCK0001").last_day, None);
    }
}
