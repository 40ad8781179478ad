//! Which of the ticker changes a run learns are recorded, decided before any is written,
//! so that neither the order of a listing's rows nor a date the stored bars contradict
//! decides the history:
//! - a change reported with several dates (a listing's rows, or a date recorded before) is
//!   recorded once: the date recorded before stands; else the latest reported, which
//!   leaves every bar traded under the old ticker readable; the other dates are rejected
//!   with their reason (a DBA corrects a wrong one);
//! - a change dated on or before the old ticker's first stored bar (of its holder then) is
//!   not recorded: it would leave every stored bar of that ticker under no name. It is an
//!   earlier holder's change (a reused ticker) or a wrong date; it is rejected with its
//!   reason, and a DBA who knows better records it with `weston_ticker_changed`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use sqlx::PgConnection;

use crate::model::{LifeEvent, Sourced};

/// Ticker changes recorded before: (old, new) → the new ticker's first day.
pub(super) type Recorded = BTreeMap<(String, String), NaiveDate>;

/// The recorded changes away from `olds`.
async fn recorded(conn: &mut PgConnection, olds: &[&str]) -> sqlx::Result<Recorded> {
    let rows: Vec<(String, String, NaiveDate)> = sqlx::query_as(
        "SELECT o.symbol, n.symbol, n.valid_from FROM ticker_history o
           JOIN ticker_history n ON n.security_id = o.security_id AND n.valid_from = o.valid_to + 1
          WHERE o.symbol = ANY($1)",
    )
    .bind(olds)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(o, n, d)| ((o, n), d)).collect())
}

/// The events of the run's symbols (`ours`) in a listing, settled (see the module); the
/// other dates of a change are rejected with their reason.
pub(super) async fn listed(
    conn: &mut PgConnection,
    events: Vec<Sourced<LifeEvent>>,
    ours: &BTreeSet<&str>,
) -> sqlx::Result<(Vec<Sourced<LifeEvent>>, Vec<String>)> {
    let events: Vec<Sourced<LifeEvent>> = events
        .into_iter()
        .filter(|e| match &e.row {
            LifeEvent::Renamed { old, .. } => ours.contains(old.as_str()),
            LifeEvent::Delisted { symbol, .. } => ours.contains(symbol.as_str()),
        })
        .collect();
    let olds: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.row {
            LifeEvent::Renamed { old, .. } => Some(old.as_str()),
            LifeEvent::Delisted { .. } => None,
        })
        .collect();
    let recorded = if olds.is_empty() {
        Recorded::new()
    } else {
        recorded(conn, &olds).await?
    };
    let (events, rejected) = settle(events, &recorded);
    for why in &rejected {
        tracing::warn!("{why}");
    }
    Ok((events, rejected))
}

/// The listing's events with each ticker change kept once (see the module), in the
/// listing's order otherwise; and the reasons the other dates were rejected.
fn settle(
    events: Vec<Sourced<LifeEvent>>,
    recorded: &Recorded,
) -> (Vec<Sourced<LifeEvent>>, Vec<String>) {
    let mut dates: BTreeMap<(String, String), Vec<NaiveDate>> = BTreeMap::new();
    for event in &events {
        if let LifeEvent::Renamed {
            old,
            new,
            effective,
        } = &event.row
        {
            dates
                .entry((old.clone(), new.clone()))
                .or_default()
                .push(*effective);
        }
    }
    let chosen: BTreeMap<&(String, String), NaiveDate> = dates
        .iter()
        .map(|(pair, reported)| {
            let kept = recorded
                .get(pair)
                .or(reported.iter().max())
                .copied()
                .expect("a pair is reported at least once");
            (pair, kept)
        })
        .collect();
    let mut rejected = Vec::new();
    let mut kept = Vec::new();
    let mut seen = BTreeSet::new();
    for event in events {
        let LifeEvent::Renamed {
            old,
            new,
            effective,
        } = &event.row
        else {
            kept.push(event);
            continue;
        };
        let pair = (old.clone(), new.clone());
        let date = chosen[&pair];
        if *effective == date && seen.insert(pair.clone()) {
            kept.push(event);
        } else if *effective != date {
            let why = if recorded.get(&pair) == Some(&date) {
                "recorded before"
            } else {
                "the latest reported"
            };
            rejected.push(format!(
                "{} {old}→{new} dated {effective} not recorded: the same change is also reported \
                 for {date}, kept as {why}",
                event.provider
            ));
        }
    }
    (kept, rejected)
}

/// Why `old`→`new` from `effective` is not recorded when it is dated on or before the
/// first stored bar of `old`'s holder then; `None` when it may be.
pub(super) async fn before_first_bar(
    conn: &mut PgConnection,
    old: &str,
    new: &str,
    effective: NaiveDate,
) -> sqlx::Result<Option<String>> {
    let first: Option<NaiveDate> =
        sqlx::query_scalar(include_str!("../../sql/identity_first_bar.sql"))
            .bind(old)
            .bind(effective)
            .fetch_one(conn)
            .await?;
    Ok(first_bar_refusal(old, new, effective, first))
}

/// The refusal of a change dated on or before the old ticker's first stored bar.
fn first_bar_refusal(
    old: &str,
    new: &str,
    effective: NaiveDate,
    first_bar: Option<NaiveDate>,
) -> Option<String> {
    let first = first_bar.filter(|first| effective <= *first)?;
    Some(format!(
        "{old}→{new} dated {effective} not recorded: {old}'s first stored bar is {first}, so \
         every bar stored under {old} would belong to no ticker (an earlier holder's change, \
         or a wrong date; weston_ticker_changed records it by hand)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProviderName;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn renamed(old: &str, new: &str, effective: &str) -> Sourced<LifeEvent> {
        Sourced {
            provider: ProviderName::Fmp,
            row: LifeEvent::Renamed {
                old: old.into(),
                new: new.into(),
                effective: d(effective),
            },
        }
    }

    fn rows(events: &[Sourced<LifeEvent>]) -> Vec<LifeEvent> {
        events.iter().map(|e| e.row.clone()).collect()
    }

    #[test]
    fn a_change_reported_twice_is_kept_once_whatever_the_order() {
        let delisted = Sourced {
            provider: ProviderName::Fmp,
            row: LifeEvent::Delisted {
                symbol: "LEH".into(),
                last_day: d("2008-09-12"),
            },
        };
        let one = vec![
            renamed("FB", "META", "2022-06-09"),
            delisted.clone(),
            renamed("FB", "META", "2022-06-06"),
            renamed("FB", "META", "2022-06-09"),
        ];
        let mut other = one.clone();
        other.reverse();
        let (a, rejected_a) = settle(one, &Recorded::new());
        let (b, rejected_b) = settle(other, &Recorded::new());
        let meta = renamed("FB", "META", "2022-06-09").row;
        assert_eq!(rows(&a), vec![meta.clone(), delisted.row.clone()]);
        assert_eq!(rows(&a), rows(&b));
        assert_eq!(rejected_a, rejected_b);
        assert_eq!(
            rejected_a,
            [
                "fmp FB→META dated 2022-06-06 not recorded: the same change is also reported for \
              2022-06-09, kept as the latest reported"
            ]
        );
        // A date recorded before stands, whichever the listing names first.
        let recorded = Recorded::from([(("FB".into(), "META".into()), d("2022-06-06"))]);
        for order in [
            vec![
                renamed("FB", "META", "2022-06-06"),
                renamed("FB", "META", "2022-06-09"),
            ],
            vec![
                renamed("FB", "META", "2022-06-09"),
                renamed("FB", "META", "2022-06-06"),
            ],
        ] {
            let (kept, rejected) = settle(order, &recorded);
            assert_eq!(rows(&kept), vec![renamed("FB", "META", "2022-06-06").row]);
            assert!(
                rejected[0].contains("kept as recorded before"),
                "{rejected:?}"
            );
        }
        // ... also when the listing no longer names it.
        let (kept, rejected) = settle(vec![renamed("FB", "META", "2022-06-09")], &recorded);
        assert!(kept.is_empty());
        assert!(
            rejected[0].contains("for 2022-06-06, kept as recorded before"),
            "{rejected:?}"
        );
        let (kept, rejected) = settle(vec![renamed("FB", "META", "2022-06-09")], &Recorded::new());
        assert_eq!((rows(&kept), rejected.len()), (vec![meta], 0));
    }

    #[test]
    fn a_change_dated_on_or_before_the_first_stored_bar_is_refused() {
        let first = Some(d("2021-01-04"));
        let why = first_bar_refusal("ABC", "ABCD", d("2005-03-01"), first).unwrap();
        assert!(
            why.contains("ABC's first stored bar is 2021-01-04") && why.contains("no ticker"),
            "{why}"
        );
        assert!(first_bar_refusal("ABC", "ABCD", d("2021-01-04"), first).is_some());
        assert!(first_bar_refusal("ABC", "ABCD", d("2021-01-05"), first).is_none());
        assert!(first_bar_refusal("ABC", "ABCD", d("2005-03-01"), None).is_none());
    }
}
