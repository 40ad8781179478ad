//! A listing or calendar endpoint that fails is never read as "no events": the chain asks
//! the per-symbol endpoint or the next provider, and names the symbols nobody could answer
//! for. Each way a calendar fails (404, plan refusal, timeout, garbage) is tried against
//! FMP alone (its per-symbol endpoint answers), FMP then Polygon (Polygon's listing
//! answers), and providers that all fail for one symbol (that symbol is named).

mod common;

use std::sync::Arc;

use common::{date, fmp, fmp_api, polygon, polygon_api, Reply, Seen, TestServer};
use fake_providers::Fault;
use rust_decimal_macros::dec;
use weston_loader::model::{ProviderName, Sourced, Split};
use weston_loader::providers::{ActionsOutcome, ProviderChain};

// The test clients time out after 1.5 s, before the timeout's reply.
const FAULTS: [Fault; 4] = [
    Fault::NotFound,
    Fault::Refused(403),
    Fault::TimedOut,
    Fault::Garbage("<html>maintenance</html>"),
];

/// FMP as documented, except that both calendars fail with `fault`.
fn fmp_without_calendars(fault: Fault) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    move |seen: &Seen| match seen.path.as_str() {
        "/stable/splits-calendar" | "/stable/dividends-calendar" => fault.reply(),
        _ => fmp_api(seen),
    }
}

/// AAPL (which split 4-for-1 on 2020-08-31 in every fixture) and MSFT (no split).
fn universe() -> Vec<String> {
    vec!["AAPL".to_owned(), "MSFT".to_owned()]
}

async fn splits_2020(chain: &ProviderChain) -> ActionsOutcome<Split> {
    chain
        .splits_many(&universe(), date("2020-01-01"), date("2020-12-31"))
        .await
}

fn found(outcome: &ActionsOutcome<Split>) -> Vec<(&str, String, ProviderName)> {
    outcome
        .rows
        .iter()
        .map(|Sourced { provider, row }| (row.symbol.as_str(), row.date.to_string(), *provider))
        .collect()
}

#[tokio::test]
async fn a_calendar_that_404s_is_asked_per_symbol_not_read_as_no_splits() {
    let server = TestServer::start(fmp_without_calendars(Fault::NotFound)).await;
    let chain = ProviderChain::new(vec![Arc::new(fmp(&server))]);
    let outcome = splits_2020(&chain).await;
    assert_eq!(
        found(&outcome),
        [("AAPL", "2020-08-31".to_owned(), ProviderName::Fmp)],
        "the 404 of the calendar is not 'no splits': FMP's per-symbol endpoint supplies it"
    );
    assert_eq!(
        (
            outcome.rows[0].row.numerator,
            outcome.rows[0].row.denominator
        ),
        (dec!(4), dec!(1))
    );
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let per_symbol: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/stable/splits")
        .filter_map(|r| r.param("symbol").map(str::to_owned))
        .collect();
    assert_eq!(per_symbol, ["AAPL", "MSFT"]);
}

#[tokio::test]
async fn every_calendar_fault_falls_back_to_fmp_per_symbol() {
    for fault in FAULTS {
        let server = TestServer::start(fmp_without_calendars(fault)).await;
        let chain = ProviderChain::new(vec![Arc::new(fmp(&server))]);
        let outcome = splits_2020(&chain).await;
        assert_eq!(
            found(&outcome),
            [("AAPL", "2020-08-31".to_owned(), ProviderName::Fmp)],
            "{fault:?}"
        );
        assert!(
            outcome.failures.is_empty(),
            "{fault:?}: {:?}",
            outcome.failures
        );
        let dividends = chain
            .dividends_many(&universe(), date("2020-01-01"), date("2020-12-31"))
            .await;
        assert!(
            !dividends.rows.is_empty() && dividends.failures.is_empty(),
            "{fault:?}: AAPL's 2020 dividends come per symbol: {dividends:?}"
        );
    }
}

#[tokio::test]
async fn every_calendar_fault_falls_back_to_polygons_listing() {
    for fault in FAULTS {
        let fmp_server = TestServer::start(fmp_without_calendars(fault)).await;
        let polygon_server = TestServer::start(polygon_api).await;
        let chain = ProviderChain::new(vec![
            Arc::new(fmp(&fmp_server)),
            Arc::new(polygon(&polygon_server)),
        ]);
        let outcome = splits_2020(&chain).await;
        assert_eq!(
            found(&outcome),
            [("AAPL", "2020-08-31".to_owned(), ProviderName::Polygon)],
            "{fault:?}"
        );
        assert!(outcome.failures.is_empty(), "{fault:?}");
        assert!(
            polygon_server
                .requests()
                .iter()
                .any(|r| r.path == "/v3/reference/splits" && r.param("ticker").is_none()),
            "{fault:?}: Polygon's listing of every ticker was asked"
        );
    }
}

#[tokio::test]
async fn a_symbol_nobody_can_answer_for_is_named_not_dropped() {
    for fault in FAULTS {
        // FMP's calendar fails, and so does its per-symbol endpoint for MSFT; Polygon is down.
        let fmp_server = TestServer::start(move |seen: &Seen| {
            if seen.path == "/stable/splits" && seen.param("symbol") == Some("MSFT") {
                return fault.reply();
            }
            fmp_without_calendars(fault)(seen)
        })
        .await;
        let polygon_server = TestServer::start(|_: &Seen| Reply::status(503, "down")).await;
        let chain = ProviderChain::new(vec![
            Arc::new(fmp(&fmp_server)),
            Arc::new(polygon(&polygon_server)),
        ]);
        let outcome = splits_2020(&chain).await;
        assert_eq!(
            found(&outcome),
            [("AAPL", "2020-08-31".to_owned(), ProviderName::Fmp)],
            "{fault:?}"
        );
        let failed: Vec<&str> = outcome.failures.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(failed, ["MSFT"], "{fault:?}");
        let text = outcome.failures[0].1.to_string();
        assert!(
            text.contains("splits of MSFT") && text.contains("fmp") && text.contains("polygon"),
            "{fault:?}: {text}"
        );
    }
}

#[tokio::test]
async fn an_unknown_ticker_is_not_a_failure_but_a_missing_endpoint_is() {
    // Polygon's ticker details answer 404 NOT_FOUND for a ticker it does not know: that
    // one 404 is an answer ("unknown"), as documented.
    let polygon_server = TestServer::start(polygon_api).await;
    let provider = polygon(&polygon_server);
    use weston_loader::providers::Provider;
    assert_eq!(provider.security("ZZZZ").await.unwrap(), None);
    // A 404 on a per-symbol FMP endpoint (symbol in the query) is a missing endpoint.
    let fmp_server = TestServer::start(|seen: &Seen| match seen.path.as_str() {
        "/stable/splits" => Reply::status(404, "Not Found"),
        _ => fmp_api(seen),
    })
    .await;
    let provider = fmp(&fmp_server);
    let error = provider
        .splits("AAPL", date("2020-01-01"), date("2020-12-31"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("HTTP 404"), "{error}");
}
