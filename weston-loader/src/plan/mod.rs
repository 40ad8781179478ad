//! What a run loads: the symbols (named, or the universe) and each one's window, from the
//! request checked before anything is recorded (`request.rs`).

mod request;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};
use sqlx::PgConnection;

use crate::calendar;
use crate::providers::Provider;
use crate::provides::Provides;
use crate::LoaderError;
pub use request::{Asked, Request};

/// The stored tickers the universe is chosen from (`sql/plan_universe.sql`).
pub const UNIVERSE_SQL: &str = include_str!("../../sql/plan_universe.sql");

/// Days re-read before a symbol's last stored bar, so providers' corrections land.
pub const OVERLAP_DAYS: i64 = 7;
/// Calendar days loaded for a symbol with no stored bars.
pub const NEW_SYMBOL_DAYS: i64 = 180;

/// The window to load for one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolWindow {
    pub symbol: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The run's plan: symbols grouped by window, and which need no metadata tonight.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Symbols sharing a window (on a nightly run, nearly all), asked for together.
    pub groups: BTreeMap<(NaiveDate, NaiveDate), Vec<String>>,
    pub symbols: usize,
    /// Symbols whose stored metadata is not asked again tonight.
    pub described: HashSet<String>,
    /// Delisted or renamed tickers whose window reaches their last session: once asked, a
    /// run records it (`securities.bars_asked_through`) so the universe leaves them out.
    pub through_last_session: HashSet<String>,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// What is stored of a symbol when its window is planned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    /// Its last stored bar.
    pub last_bar: Option<NaiveDate>,
    /// Its first day under this ticker, when its security took it from an earlier ticker
    /// (`ticker_history`).
    pub first_day: Option<NaiveDate>,
}

/// The contract's default window: from the last stored bar minus the overlap, or 180 days
/// back for a symbol with no bars; `--from` overrides the start for all, except for a
/// ticker with no bars whose first day under that name is known (a renamed security's new
/// ticker): it starts on that day whatever the window, so the run that learns of it loads
/// it whole, a replay with a past `--to` included.
pub fn symbol_window(
    symbol: &str,
    stored: Stored,
    from: Option<NaiveDate>,
    to: NaiveDate,
    today: NaiveDate,
) -> SymbolWindow {
    let start = match (stored.last_bar, stored.first_day) {
        (None, Some(first_day)) => first_day,
        (Some(last), _) => from.unwrap_or(last - Duration::days(OVERLAP_DAYS)),
        (None, None) => from.unwrap_or(today - Duration::days(NEW_SYMBOL_DAYS)),
    };
    SymbolWindow {
        symbol: symbol.to_string(),
        from: start,
        to,
    }
}

/// Whether the metadata of `symbol` is asked again on `day`: on one day in every
/// `period_days`, which day chosen by the symbol, so a universe is refreshed evenly rather
/// than all on one night (750 symbols, 30 days: about 25 calls a night).
pub fn metadata_refresh_due(symbol: &str, day: NaiveDate, period_days: u32) -> bool {
    if period_days == 0 {
        return false;
    }
    let period = u64::from(period_days);
    let day_number = u64::try_from(day.num_days_from_ce()).unwrap_or(0);
    crate::stable_hash(symbol.as_bytes()) % period == day_number % period
}

/// Reads what is stored (the universe, last dates, described symbols) and plans the run.
pub async fn plan(
    conn: &mut PgConnection,
    has: Provides,
    request: &Request,
    providers: &[Arc<dyn Provider>],
) -> Result<Plan, LoaderError> {
    let symbols = if request.symbols.is_empty() {
        universe(conn, has, providers).await?
    } else {
        request.symbols.clone()
    };
    plan_symbols(conn, has, request, symbols).await
}

/// The plan for `symbols`: each one's window, ending at its delisting (a delisted or
/// renamed ticker is asked for nothing after its last session).
pub async fn plan_symbols(
    conn: &mut PgConnection,
    has: Provides,
    request: &Request,
    symbols: Vec<String>,
) -> Result<Plan, LoaderError> {
    let delisted: HashMap<String, NaiveDate> = sqlx::query_as(
        "SELECT symbol, delisted_date FROM securities WHERE symbol = ANY($1) AND delisted_date IS NOT NULL",
    )
    .bind(&symbols)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    // price_last_dates (migration 0028): one row per symbol, not a probe of every month; a
    // database not yet updated to it is probed the old way.
    let last_dates_sql = if has.price_last_dates {
        "SELECT s, l.last_date FROM unnest($1::text[]) s LEFT JOIN price_last_dates l ON l.symbol = s"
    } else {
        "SELECT s, (SELECT max(p.date) FROM prices_daily p WHERE p.symbol = s) FROM unnest($1::text[]) s"
    };
    let last_dates: HashMap<String, NaiveDate> =
        sqlx::query_as::<_, (String, Option<NaiveDate>)>(last_dates_sql)
            .bind(&symbols)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .filter_map(|(s, d)| d.map(|d| (s, d)))
            .collect();
    let first_days = if has.ticker_history {
        first_days(&mut *conn, request, &symbols, &last_dates).await?
    } else {
        // A database whose migrations wait for the extension update has no dated histories.
        HashMap::new()
    };
    // Metadata is asked until a provider names the symbol, then again once every
    // `metadata_refresh_days`, not every night: on Polygon's free plan one call per symbol
    // would take hours for the universe.
    let described: HashSet<String> = sqlx::query_scalar(
        "SELECT symbol FROM securities WHERE symbol = ANY($1) AND name IS NOT NULL",
    )
    .bind(&symbols)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .filter(|symbol: &String| {
        !metadata_refresh_due(symbol, request.today, request.metadata_refresh_days)
    })
    .collect();
    let mut groups: BTreeMap<(NaiveDate, NaiveDate), Vec<String>> = BTreeMap::new();
    let mut through_last_session = HashSet::new();
    // A database whose migrations wait for the extension update does not record it yet.
    let records_asking = has.bars_asked_through;
    for symbol in &symbols {
        let to = delisted
            .get(symbol)
            .map_or(request.to, |last| request.to.min(*last));
        if let (true, Some(last)) = (records_asking, delisted.get(symbol)) {
            if to >= last_session_through(*last) {
                through_last_session.insert(symbol.clone());
            }
        }
        let stored = Stored {
            last_bar: last_dates.get(symbol).copied(),
            first_day: first_days.get(symbol).copied(),
        };
        let w = symbol_window(symbol, stored, request.from, to, request.today);
        if w.from <= w.to {
            groups.entry((w.from, w.to)).or_default().push(w.symbol);
        }
    }
    Ok(Plan {
        symbols: groups.values().map(Vec::len).sum(),
        start: groups
            .keys()
            .map(|(from, _)| *from)
            .min()
            .unwrap_or(request.to),
        end: request.to,
        groups,
        described,
        through_last_session,
    })
}

/// The first day under its ticker of each of `symbols` with no stored bars that a
/// security took from an earlier ticker of its own (a rename, a share-class move), by the
/// end of the window and not before the earliest date allowed.
async fn first_days(
    conn: &mut PgConnection,
    request: &Request,
    symbols: &[String],
    last_dates: &HashMap<String, NaiveDate>,
) -> Result<HashMap<String, NaiveDate>, LoaderError> {
    let barless: Vec<&String> = symbols
        .iter()
        .filter(|s| !last_dates.contains_key(*s))
        .collect();
    if barless.is_empty() {
        return Ok(HashMap::new());
    }
    // Only a holding that continues an earlier ticker of its security: a ticker's first
    // holding starts on the day a provider says it listed, often years before the window.
    let rows: Vec<(String, NaiveDate)> = sqlx::query_as(
        "SELECT h.symbol, min(h.valid_from) FROM ticker_history h
          WHERE h.symbol = ANY($1) AND h.valid_from <= $2
            AND EXISTS (SELECT 1 FROM ticker_history o
                         WHERE o.security_id = h.security_id AND o.valid_from < h.valid_from)
          GROUP BY h.symbol",
    )
    .bind(&barless)
    .bind(request.to)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(s, d)| (s, d.max(request.earliest_date)))
        .collect())
}

/// A stored ticker as the universe sees it (`last_bar` read only for a delisted one).
#[derive(sqlx::FromRow)]
struct StoredTicker {
    symbol: String,
    delisted_date: Option<NaiveDate>,
    last_bar: Option<NaiveDate>,
    asked_through: Option<NaiveDate>,
}

/// The universe: securities not delisted, and delisted ones whose bars up to their last
/// session are not all stored yet and that no run has asked for through that session; an
/// empty one is seeded from a provider that defines its own market (the mock), otherwise
/// the operator names symbols.
async fn universe(
    conn: &mut PgConnection,
    has: Provides,
    providers: &[Arc<dyn Provider>],
) -> Result<Vec<String>, LoaderError> {
    // A database whose migrations wait for the extension update has no bars_asked_through
    // (nor, before 0028, price_last_dates): each delisted ticker's last bar is probed.
    let sql = if has.bars_asked_through {
        UNIVERSE_SQL
    } else {
        "SELECT symbol, delisted_date, CASE WHEN delisted_date IS NOT NULL THEN \
                (SELECT max(date) FROM prices_daily p WHERE p.symbol = s.symbol) END AS last_bar, \
                NULL::date AS asked_through \
           FROM securities s ORDER BY symbol"
    };
    let rows: Vec<StoredTicker> = sqlx::query_as(sql).fetch_all(&mut *conn).await?;
    // A renamed ticker's last day is the calendar day before its successor's first, often
    // a weekend: its last session is the one that counts.
    let stored: Vec<String> = rows
        .into_iter()
        .filter(|t| match t.delisted_date {
            None => true,
            Some(last_day) => {
                let last_session = last_session_through(last_day);
                t.last_bar.is_none_or(|bar| bar < last_session)
                    && t.asked_through.is_none_or(|asked| asked < last_session)
            }
        })
        .map(|t| t.symbol)
        .collect();
    if !stored.is_empty() {
        return Ok(stored);
    }
    if let Some(seed) = providers.iter().find_map(|p| p.seed_universe()) {
        tracing::info!(
            symbols = seed.len(),
            "the universe is empty: seeding it from the mock market"
        );
        return Ok(seed);
    }
    Err(LoaderError::Config(
        "the universe is empty (no securities without delisted_date): name symbols with --symbols"
            .into(),
    ))
}

/// The last session on or before `date`.
fn last_session_through(date: NaiveDate) -> NaiveDate {
    if calendar::is_trading_day(date) {
        date
    } else {
        calendar::previous_trading_day(date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn metadata_is_refreshed_once_per_period_and_evenly_over_a_universe() {
        let universe: Vec<String> = (1..=750).map(crate::providers::mock::mock_symbol).collect();
        let start = d(2026, 11, 24);
        let nights: Vec<NaiveDate> = (0..30).map(|i| start + Duration::days(i)).collect();
        for symbol in &universe {
            let due = nights
                .iter()
                .filter(|night| metadata_refresh_due(symbol, **night, 30))
                .count();
            assert_eq!(due, 1, "{symbol} is due once in any 30 consecutive nights");
        }
        let per_night: Vec<usize> = nights
            .iter()
            .map(|night| {
                universe
                    .iter()
                    .filter(|s| metadata_refresh_due(s, *night, 30))
                    .count()
            })
            .collect();
        // 25 a night on average; no night takes a large share of the universe.
        assert!(
            per_night.iter().all(|n| (5..=50).contains(n)),
            "{per_night:?}"
        );
        assert!(universe.iter().all(|s| metadata_refresh_due(s, start, 1)));
        assert!(!universe.iter().any(|s| metadata_refresh_due(s, start, 0)));
    }

    #[test]
    fn default_window_overlaps_stored_data_or_takes_180_days() {
        let today = d(2026, 11, 24);
        let to = d(2026, 11, 23);
        let last = |day| Stored {
            last_bar: Some(day),
            first_day: None,
        };
        assert_eq!(
            symbol_window("A", last(d(2026, 11, 20)), None, to, today).from,
            d(2026, 11, 13)
        );
        assert_eq!(
            symbol_window("A", Stored::default(), None, to, today).from,
            d(2026, 5, 28)
        );
        assert_eq!(
            symbol_window("A", last(d(2026, 11, 20)), Some(d(2020, 1, 1)), to, today).from,
            d(2020, 1, 1)
        );
    }

    #[test]
    fn a_new_ticker_starts_on_its_first_day_whatever_the_window() {
        let today = d(2026, 11, 24);
        let new = Stored {
            last_bar: None,
            first_day: Some(d(2022, 6, 9)),
        };
        // A replay through a past rename: the default 180 days would start after its end.
        let w = symbol_window("META", new, None, d(2022, 6, 10), today);
        assert_eq!((w.from, w.to), (d(2022, 6, 9), d(2022, 6, 10)));
        // --from after the first day would leave a gap no later run fills; before it, no
        // bars were traded under the name.
        for from in [d(2022, 6, 10), d(2022, 1, 3)] {
            assert_eq!(
                symbol_window("META", new, Some(from), d(2022, 6, 10), today).from,
                d(2022, 6, 9)
            );
        }
        // Once it has bars, it is any other symbol.
        let loaded = Stored {
            last_bar: Some(d(2022, 6, 10)),
            ..new
        };
        assert_eq!(
            symbol_window("META", loaded, None, d(2022, 6, 17), today).from,
            d(2022, 6, 3)
        );
    }
}
