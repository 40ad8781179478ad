//! The fallback chain over FMP and Polygon clients of local servers: each provider asked
//! only for what the ones before it did not supply, provenance per row, unauthorised
//! providers dropped for the run, the cheaper of grouped and per-symbol calls, corporate
//! actions of the universe from one listing.

mod common;

use std::sync::Arc;

use chrono::NaiveDate;
use common::{
    date, fast, fmp, fmp_api, polygon, polygon_api, polygon_on, BarsOutcome, FmpProvider,
    PolygonProvider, ProviderChain, ProviderError, ProviderName, Reply, Seen, TestServer, KEY,
};
use rust_decimal_macros::dec;

/// FMP then Polygon, each on a local server answering with its `api`.
async fn chain_on(
    fmp_api: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    polygon_api: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (TestServer, TestServer, ProviderChain) {
    let fmp_server = TestServer::start(fmp_api).await;
    let polygon_server = TestServer::start(polygon_api).await;
    let chain = ProviderChain::new(vec![
        Arc::new(fmp(&fmp_server)),
        Arc::new(polygon(&polygon_server)),
    ]);
    (fmp_server, polygon_server, chain)
}

/// Polygon alone, on a local server answering with `api`.
async fn polygon_chain_on(
    api: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (TestServer, ProviderChain) {
    let (server, provider) = polygon_on(api).await;
    (server, ProviderChain::new(vec![Arc::new(provider)]))
}

fn sessions(days: &[&str]) -> Vec<NaiveDate> {
    days.iter().map(|d| date(d)).collect()
}

fn symbols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Which provider supplied each bar.
fn suppliers(outcome: &BarsOutcome) -> Vec<ProviderName> {
    outcome.bars.iter().map(|b| b.provider).collect()
}

/// Polygon serving AAPL and MSFT bars on the March 2024 sessions, one call per symbol.
fn polygon_two_symbols(seen: &Seen) -> Reply {
    if seen.path.starts_with("/v2/aggs/ticker/MSFT/") {
        return Reply::json(
            r#"{"ticker":"MSFT","queryCount":1,"resultsCount":1,"adjusted":false,"results":[{"v":16120831,"vw":404.1931,"o":403.76,"c":404.52,"h":405.68,"l":401.26,"t":1710129600000,"n":281503}],"status":"OK","request_id":"r","count":1}"#,
        );
    }
    polygon_api(seen)
}

#[tokio::test]
async fn fallback_fills_unknown_symbols_and_missing_days_from_the_next_provider() {
    // FMP knows AAPL on the 7th and 8th only; it does not know MSFT.
    let fmp_bars_of_the_7th_and_8th = |seen: &Seen| match (seen.path.as_str(), seen.param("symbol"))
    {
        ("/stable/historical-price-eod/non-split-adjusted", Some("AAPL")) => Reply::json(
            r#"[{"symbol":"AAPL","date":"2024-03-08","adjOpen":169,"adjHigh":173.7,"adjLow":168.94,"adjClose":170.73,"volume":76114634},
                {"symbol":"AAPL","date":"2024-03-07","adjOpen":169.15,"adjHigh":170.73,"adjLow":168.49,"adjClose":169.12,"volume":102167383}]"#,
        ),
        _ => Reply::json("[]"),
    };
    let (_fmp_server, polygon_server, chain) =
        chain_on(fmp_bars_of_the_7th_and_8th, polygon_two_symbols).await;
    let wanted = sessions(&["2024-03-07", "2024-03-08", "2024-03-11", "2024-03-12"]);
    let outcome = chain.bars(&symbols(&["AAPL", "MSFT"]), &wanted).await;
    let got: Vec<_> = outcome
        .bars
        .iter()
        .map(|s| (s.row.symbol.as_str(), s.row.date.to_string(), s.provider))
        .collect();
    assert_eq!(
        got,
        [
            ("AAPL", "2024-03-07".to_owned(), ProviderName::Fmp),
            ("AAPL", "2024-03-08".to_owned(), ProviderName::Fmp),
            ("AAPL", "2024-03-11".to_owned(), ProviderName::Polygon),
            ("AAPL", "2024-03-12".to_owned(), ProviderName::Polygon),
            ("MSFT", "2024-03-11".to_owned(), ProviderName::Polygon),
        ]
    );
    // Polygon was asked only for what was missing.
    let aapl = polygon_server
        .requests()
        .into_iter()
        .find(|s| s.path.contains("/AAPL/"))
        .unwrap();
    assert_eq!(
        aapl.path,
        "/v2/aggs/ticker/AAPL/range/1/day/2024-03-11/2024-03-12"
    );
    assert_eq!(
        outcome.missing.get("MSFT").unwrap(),
        &sessions(&["2024-03-07", "2024-03-08", "2024-03-12"])
    );
    let stats = chain.stats();
    assert_eq!(
        (
            stats[0].provider.as_str(),
            stats[0].http_calls,
            stats[0].rows_supplied
        ),
        ("fmp", 2, 2)
    );
    assert_eq!(
        (stats[1].provider.as_str(), stats[1].rows_supplied),
        ("polygon", 3)
    );
}

#[tokio::test]
async fn fallback_after_permanent_server_errors() {
    let (_fmp_server, _polygon_server, chain) =
        chain_on(|_: &Seen| Reply::status(502, "bad gateway"), polygon_api).await;
    let outcome = chain
        .bars(
            &symbols(&["AAPL"]),
            &sessions(&["2024-03-07", "2024-03-08"]),
        )
        .await;
    assert_eq!(
        suppliers(&outcome),
        [ProviderName::Polygon, ProviderName::Polygon]
    );
    assert!(outcome.missing.is_empty());
    assert!(
        matches!(outcome.failures[..], [(ref symbol, ProviderError::Transient { .. })] if symbol == "AAPL")
    );
    let splits = chain
        .splits("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
        .unwrap();
    assert_eq!(splits.provider, ProviderName::Polygon);
    let info = chain.security("AAPL").await.unwrap().unwrap();
    assert_eq!(
        (info.provider, info.row.exchange.as_deref()),
        (ProviderName::Polygon, Some("XNAS"))
    );
    assert_eq!(
        chain.stats()[0].http_calls as usize,
        3 * (1 + fast().max_retries)
    );
}

#[tokio::test]
async fn fallback_drops_an_unauthorised_provider_for_the_run() {
    let fmp_server = TestServer::start(fmp_api).await;
    let polygon_server = TestServer::start(polygon_two_symbols).await;
    let chain = ProviderChain::new(vec![
        Arc::new(FmpProvider::new("expired", &fmp_server.base_url, fast()).unwrap()),
        Arc::new(polygon(&polygon_server)),
    ]);
    let outcome = chain
        .bars(&symbols(&["AAPL", "MSFT"]), &sessions(&["2024-03-11"]))
        .await;
    assert_eq!(
        suppliers(&outcome),
        [ProviderName::Polygon, ProviderName::Polygon]
    );
    let dividends = chain
        .dividends("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
        .unwrap();
    assert_eq!(dividends.provider, ProviderName::Polygon);
    let stats = chain.stats();
    assert!(
        stats[0]
            .disabled
            .as_deref()
            .unwrap()
            .contains("Invalid API KEY"),
        "{stats:?}"
    );
    // The two concurrent bar calls may both have gone out before the first 401 came back;
    // after that, nothing more.
    assert!(
        fmp_server.requests().len() <= 2,
        "{:?}",
        fmp_server.requests()
    );
    assert!(stats
        .iter()
        .all(|s| s.disabled.as_deref().is_none_or(|d| !d.contains("expired"))));
}

#[tokio::test]
async fn nightly_uses_one_grouped_call_per_session_when_cheaper() {
    let (polygon_server, chain) = polygon_chain_on(polygon_api).await;
    let symbols = symbols(&["AAPL", "MSFT", "BRKB", "NVDA"]);
    let outcome = chain.bars(&symbols, &sessions(&["2024-03-11"])).await;
    assert_eq!(
        polygon_server.requests().len(),
        1,
        "one grouped call for every symbol"
    );
    assert_eq!(outcome.bars.len(), 3);
    assert_eq!(
        outcome.missing.get("NVDA").unwrap(),
        &sessions(&["2024-03-11"])
    );
    // One symbol over several sessions: one ranged call instead.
    let (polygon_server, chain) = polygon_chain_on(polygon_api).await;
    let outcome = chain
        .bars(
            &symbols[..1],
            &sessions(&["2024-03-07", "2024-03-08", "2024-03-11"]),
        )
        .await;
    assert_eq!(outcome.bars.len(), 3);
    assert!(polygon_server
        .requests()
        .iter()
        .all(|s| s.path.starts_with("/v2/aggs/ticker/AAPL/")));
}

#[tokio::test]
async fn no_usable_provider_is_a_clear_error() {
    let fmp_server = TestServer::start(fmp_api).await;
    let polygon_server = TestServer::start(polygon_api).await;
    let chain = ProviderChain::new(vec![
        Arc::new(FmpProvider::new("bad", &fmp_server.base_url, fast()).unwrap()),
        Arc::new(PolygonProvider::new("bad", &polygon_server.base_url, fast()).unwrap()),
    ]);
    let e = chain
        .splits("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("splits of AAPL")
            && text.contains("fmp: not authorised")
            && text.contains("polygon: not authorised"),
        "{text}"
    );
    // Both were dropped by the calls above: the error still names each and why (a dropped
    // provider is never silently absent from a failure).
    let text = chain.security("AAPL").await.unwrap_err().to_string();
    assert!(
        text.contains("security AAPL")
            && text.contains("fmp: not authorised")
            && text.contains("polygon: not authorised"),
        "{text}"
    );
}

/// Polygon listing every ticker's splits and dividends when no `ticker` is given.
fn polygon_listings(seen: &Seen) -> Reply {
    match (seen.path.as_str(), seen.param("ticker")) {
        ("/v3/reference/splits", None) => Reply::json(
            r#"{"results":[{"execution_date":"2024-06-10","id":"a","split_from":1,"split_to":10,"ticker":"NVDA"},
                           {"execution_date":"2024-06-12","id":"b","split_from":20,"split_to":1,"ticker":"OTHER"}],"status":"OK","request_id":"r"}"#,
        ),
        ("/v3/reference/dividends", None) if seen.param("cursor").is_none() => Reply::json(
            r#"{"results":[{"cash_amount":0.25,"currency":"USD","dividend_type":"CD","ex_dividend_date":"2024-05-10","frequency":4,"ticker":"AAPL"}],
                "status":"OK","request_id":"r","next_url":"https://api.polygon.io/v3/reference/dividends?cursor=page2"}"#,
        ),
        ("/v3/reference/dividends", None) => Reply::json(
            r#"{"results":[{"cash_amount":0.75,"currency":"USD","dividend_type":"CD","ex_dividend_date":"2024-05-15","frequency":4,"ticker":"MSFT"},
                           {"cash_amount":1.1,"currency":"USD","dividend_type":"CD","ex_dividend_date":"2024-05-15","frequency":4,"ticker":"OTHER"}],"status":"OK","request_id":"r"}"#,
        ),
        _ => polygon_api(seen),
    }
}

#[tokio::test]
async fn corporate_actions_of_the_universe_come_from_one_listing() {
    let (polygon_server, chain) = polygon_chain_on(polygon_listings).await;
    let symbols = symbols(&["AAPL", "MSFT", "NVDA"]);
    let splits = chain
        .splits_many(&symbols, date("2024-01-01"), date("2024-06-30"))
        .await;
    let got: Vec<_> = splits
        .rows
        .iter()
        .map(|s| {
            (
                s.row.symbol.as_str(),
                s.row.numerator,
                s.row.denominator,
                s.provider,
            )
        })
        .collect();
    assert_eq!(
        got,
        [("NVDA", dec!(10), dec!(1), ProviderName::Polygon)],
        "OTHER is not ours"
    );
    let dividends = chain
        .dividends_many(&symbols, date("2024-01-01"), date("2024-06-30"))
        .await;
    let got: Vec<_> = dividends
        .rows
        .iter()
        .map(|d| (d.row.symbol.as_str(), d.row.amount))
        .collect();
    assert_eq!(got, [("AAPL", dec!(0.25)), ("MSFT", dec!(0.75))]);
    let requests = polygon_server.requests();
    assert_eq!(
        requests.len(),
        3,
        "one splits listing, two dividend pages: {requests:?}"
    );
    assert!(requests
        .iter()
        .all(|r| r.param("ticker").is_none() && r.param("apiKey") == Some(KEY)));
    assert_eq!(requests[0].param("execution_date.gte"), Some("2024-01-01"));
}

#[tokio::test]
async fn fmp_calendars_are_asked_in_90_day_windows_and_fall_back_when_restricted() {
    let fmp_calendars = |seen: &Seen| match seen.path.as_str() {
        "/stable/dividends-calendar" => Reply::json(format!(
            r#"[{{"symbol":"AAPL","date":"{}","recordDate":"","paymentDate":"","declarationDate":"","adjDividend":0.06,"dividend":0.24,"yield":0.5,"frequency":"Quarterly"}},
                {{"symbol":"ZZZ","date":"{}","adjDividend":1,"dividend":1,"yield":1,"frequency":"Quarterly"}}]"#,
            seen.param("from").unwrap(),
            seen.param("to").unwrap()
        )),
        "/stable/splits-calendar" => Reply::status(
            402,
            r#"{"Error Message": "Restricted Endpoint: This endpoint is not available under your current subscription please visit our subscription page to upgrade your plan"}"#,
        ),
        _ => fmp_api(seen),
    };
    let (fmp_server, _polygon_server, chain) = chain_on(fmp_calendars, polygon_listings).await;
    let symbols = symbols(&["AAPL", "NVDA"]);
    let dividends = chain
        .dividends_many(&symbols, date("2024-01-01"), date("2024-06-28"))
        .await;
    let windows: Vec<_> = fmp_server
        .requests()
        .iter()
        .map(|r| {
            (
                r.param("from").unwrap().to_owned(),
                r.param("to").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        windows,
        [
            ("2024-01-01".to_owned(), "2024-03-30".to_owned()),
            ("2024-03-31".to_owned(), "2024-06-28".to_owned())
        ]
    );
    let got: Vec<_> = dividends
        .rows
        .iter()
        .map(|d| {
            (
                d.row.symbol.as_str(),
                d.row.ex_date,
                d.row.amount,
                d.provider,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("AAPL", date("2024-01-01"), dec!(0.24), ProviderName::Fmp),
            ("AAPL", date("2024-03-31"), dec!(0.24), ProviderName::Fmp)
        ],
        "the declared dividend, not adjDividend; ZZZ is not ours"
    );
    // FMP's plan has no splits calendar: Polygon's listing answers, and FMP stays in use
    // for what its plan covers; the calendar is not asked again.
    let splits = chain
        .splits_many(&symbols, date("2024-01-01"), date("2024-06-30"))
        .await;
    assert_eq!(splits.rows.len(), 1);
    assert_eq!(
        (splits.rows[0].provider, splits.rows[0].row.symbol.as_str()),
        (ProviderName::Polygon, "NVDA")
    );
    assert_eq!(chain.stats()[0].disabled, None);
    let again = chain
        .splits_many(&symbols, date("2024-01-01"), date("2024-06-30"))
        .await;
    assert_eq!(again.rows.len(), 1);
    let fmp_calendar_calls = fmp_server
        .requests()
        .iter()
        .filter(|r| r.path == "/stable/splits-calendar")
        .count();
    assert_eq!(fmp_calendar_calls, 1);
    let bars = chain.bars(&symbols[..1], &sessions(&["2020-08-28"])).await;
    assert_eq!(bars.bars[0].provider, ProviderName::Fmp);
}

#[tokio::test]
async fn one_symbol_asks_per_symbol() {
    let (fmp_server, polygon_server, chain) = chain_on(fmp_api, polygon_api).await;
    let splits = chain
        .splits_many(&symbols(&["AAPL"]), date("2020-01-01"), date("2020-12-31"))
        .await;
    assert_eq!(splits.rows.len(), 1);
    assert_eq!(fmp_server.requests()[0].path, "/stable/splits");
    assert!(polygon_server.requests().is_empty());
}

#[tokio::test]
async fn a_symbol_outside_the_plan_falls_back_for_that_symbol_only() {
    let fmp_without_msft = |seen: &Seen| match seen.param("symbol") {
        Some("MSFT") => Reply::status(
            402,
            r#"{"Error Message": "Premium Query Parameter: This value set for 'symbol' is not available under your current subscription please visit our subscription page to upgrade your plan at https://site.financialmodelingprep.com/developer/docs/pricing"}"#,
        ),
        _ => fmp_api(seen),
    };
    let (_fmp_server, _polygon_server, chain) =
        chain_on(fmp_without_msft, polygon_two_symbols).await;
    let outcome = chain
        .bars(&symbols(&["MSFT"]), &sessions(&["2024-03-11"]))
        .await;
    assert_eq!(outcome.bars[0].provider, ProviderName::Polygon);
    assert!(
        matches!(outcome.failures[..], [(ref s, ProviderError::Unauthorized { .. })] if s == "MSFT"),
        "{:?}",
        outcome.failures
    );
    // FMP is still used for what its plan covers, on the same endpoint.
    let outcome = chain
        .bars(&symbols(&["AAPL"]), &sessions(&["2020-08-28"]))
        .await;
    assert_eq!(
        (outcome.bars[0].provider, outcome.bars[0].row.close),
        (ProviderName::Fmp, dec!(499.23))
    );
    assert_eq!(chain.stats()[0].disabled, None);
}
