//! Polygon's REST API as documented, answering AAPL from the recorded fixtures. Adjusted
//! aggregates come back only for `adjusted=true`, which a client storing raw bars must never
//! ask for.

use crate::{fixture, Reply, Seen};

/// Polygon for a client holding `key`: aggregates (two pages), grouped daily, reference
/// data; any other key is refused as Polygon refuses it.
#[must_use]
pub fn polygon_api(key: &str, seen: &Seen) -> Reply {
    if seen.param("apiKey") != Some(key) {
        return Reply::status(
            401,
            r#"{"status":"ERROR","request_id":"x","error":"Unknown API Key"}"#,
        );
    }
    let path = seen.path.as_str();
    if path.starts_with("/v2/aggs/ticker/AAPL/range/1/day/") {
        // The cursor of next_url carries the first request's parameters.
        if seen.param("cursor") == Some("bGltaXQ9MiZzb3J0PWFzYw") {
            return Reply::json(fixture("polygon_aggs_AAPL_page2.json"));
        }
        if seen.param("adjusted") != Some("false") {
            return Reply::json(
                fixture("polygon_aggs_AAPL_page1.json")
                    .replace("\"adjusted\": false", "\"adjusted\": true")
                    .replace("170.73", "1.0"),
            );
        }
        return Reply::json(fixture("polygon_aggs_AAPL_page1.json"));
    }
    if path.starts_with("/v2/aggs/ticker/") {
        // An unknown ticker: no `results` at all.
        return Reply::json(
            r#"{"ticker":"ZZZZ","queryCount":0,"resultsCount":0,"adjusted":false,"status":"OK","request_id":"r"}"#,
        );
    }
    match path {
        "/v2/aggs/grouped/locale/us/market/stocks/2024-03-11" => {
            Reply::json(fixture("polygon_grouped_2024-03-11.json"))
        }
        "/v3/reference/splits" => Reply::json(fixture("polygon_splits_AAPL.json")),
        "/v3/reference/dividends" => Reply::json(fixture("polygon_dividends_AAPL.json")),
        "/v3/reference/tickers/AAPL" => Reply::json(fixture("polygon_ticker_AAPL.json")),
        // The inactive tickers by delisting date (detection's listing): none in any window.
        "/v3/reference/tickers" => Reply::json(r#"{"results":[],"status":"OK","request_id":"r"}"#),
        p if p.starts_with("/v2/aggs/grouped/") => Reply::json(
            r#"{"queryCount":0,"resultsCount":0,"adjusted":false,"status":"OK","request_id":"r"}"#,
        ),
        _ => Reply::status(
            404,
            r#"{"status":"NOT_FOUND","request_id":"r","message":"Ticker not found."}"#,
        ),
    }
}
