//! The Polygon client against a local server speaking Polygon's documented REST format:
//! raw aggregates, pagination, New York dates, grouped daily, reference data, plan refusals.

mod common;

use common::{
    aapl_dividends_2020, aapl_splits_2020, date, polygon, polygon_api, polygon_on, Provider,
    ProviderError, Reply, Seen, TestServer, KEY,
};
use rust_decimal_macros::dec;

#[tokio::test]
async fn polygon_bars_are_raw_paginated_and_dated_in_new_york() {
    let (server, provider) = polygon_on(polygon_api).await;
    let bars = provider
        .daily_bars("AAPL", date("2024-03-07"), date("2024-03-12"))
        .await
        .unwrap();
    let dates: Vec<_> = bars.iter().map(|b| b.date.to_string()).collect();
    // 03-08 is stamped 05:00 UTC (EST), 03-11 04:00 UTC (EDT, the day after the change).
    assert_eq!(
        dates,
        ["2024-03-07", "2024-03-08", "2024-03-11", "2024-03-12"]
    );
    assert_eq!(
        (bars[1].open, bars[1].high, bars[1].close),
        (dec!(169), dec!(173.7), dec!(170.73)),
        "raw, unadjusted"
    );
    assert_eq!(
        bars[1].volume,
        dec!(76114634.5),
        "fractional volume kept exactly"
    );
    assert_eq!(bars[1].vwap, Some(dec!(170.5847)));
    assert_eq!(bars[3].vwap, None, "no `vw`, no vwap");

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "two pages: {requests:?}");
    assert_eq!(
        requests[0].path,
        "/v2/aggs/ticker/AAPL/range/1/day/2024-03-07/2024-03-12"
    );
    assert_eq!(requests[0].param("adjusted"), Some("false"));
    assert_eq!(requests[0].param("sort"), Some("asc"));
    assert_eq!(requests[0].param("limit"), Some("50000"));
    // next_url is followed on our base URL, with the key re-attached.
    assert_eq!(requests[1].param("cursor"), Some("bGltaXQ9MiZzb3J0PWFzYw"));
    assert_eq!(requests[1].param("apiKey"), Some(KEY));
    let stats = provider.stats();
    assert_eq!((stats.http_calls, stats.rows_returned), (2, 4));
}

#[tokio::test]
async fn polygon_unknown_ticker_and_missing_results_are_empty() {
    let (_server, provider) = polygon_on(polygon_api).await;
    assert!(provider
        .daily_bars("ZZZZ", date("2024-03-07"), date("2024-03-12"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        provider.security("ZZZZ").await.unwrap(),
        None,
        "404 Ticker not found"
    );
}

#[tokio::test]
async fn polygon_grouped_daily_dates_bars_by_session_close() {
    let (server, provider) = polygon_on(polygon_api).await;
    let bars = provider
        .grouped_daily(date("2024-03-11"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bars.len(), 3);
    assert!(
        bars.iter().all(|b| b.date == date("2024-03-11")),
        "16:00 EDT is 20:00 UTC: still the 11th"
    );
    let brk = bars.iter().find(|b| b.symbol == "BRKB").unwrap();
    assert_eq!(brk.volume, dec!(3112.75));
    assert_eq!(server.requests()[0].param("adjusted"), Some("false"));
    // A session with no trading (a holiday) answers without results.
    let holiday = provider.grouped_daily(date("2024-03-29")).await.unwrap();
    assert_eq!(holiday, Some(vec![]));
}

#[tokio::test]
async fn polygon_grouped_daily_around_both_dst_changes() {
    // Session-close stamps on the last EST and first EDT sessions of November 2024 and
    // at 20:00 New York (already the next day in UTC).
    let (_server, provider) = polygon_on(|seen: &Seen| {
        let t = match seen.path.rsplit('/').next().unwrap() {
            "2024-11-01" => 1_730_491_200_000i64, // 16:00 EDT
            "2024-11-04" => 1_730_764_800_000i64, // 20:00 EST = 01:00 UTC on the 5th
            _ => 1_709_931_600_000i64,            // 2024-03-08 16:00 EST
        };
        Reply::json(format!(
            r#"{{"queryCount":1,"resultsCount":1,"adjusted":false,"results":[{{"T":"AAPL","v":1,"o":1,"c":1,"h":1,"l":1,"t":{t}}}],"status":"OK","request_id":"r","count":1}}"#
        ))
    })
    .await;
    for day in ["2024-11-01", "2024-11-04", "2024-03-08"] {
        let bars = provider.grouped_daily(date(day)).await.unwrap().unwrap();
        assert_eq!(bars[0].date, date(day));
    }
    // A stamp on another day than asked is rejected, naming provider, endpoint and symbol.
    let e = provider
        .grouped_daily(date("2024-03-11"))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, ProviderError::Malformed { .. })
            && text.contains("polygon")
            && text.contains("AAPL")
            && text.contains("grouped"),
        "{text}"
    );
}

#[tokio::test]
async fn polygon_reference_data() {
    let (server, provider) = polygon_on(polygon_api).await;
    let splits = aapl_splits_2020(&provider).await.unwrap();
    assert_eq!(
        (splits[0].date, splits[0].numerator, splits[0].denominator),
        (date("2020-08-31"), dec!(4), dec!(1))
    );
    let dividends = aapl_dividends_2020(&provider).await.unwrap();
    assert_eq!(
        (
            dividends[0].ex_date,
            dividends[0].amount,
            dividends[0].currency.as_str()
        ),
        (date("2020-08-07"), dec!(0.82), "USD")
    );
    let info = provider.security("AAPL").await.unwrap().unwrap();
    assert_eq!(info.name.as_deref(), Some("Apple Inc."));
    assert_eq!(info.exchange.as_deref(), Some("XNAS"));
    assert_eq!(info.listed_date, Some(date("1980-12-12")));
    let requests = server.requests();
    assert_eq!(requests[0].param("ticker"), Some("AAPL"));
    assert_eq!(requests[0].param("execution_date.gte"), Some("2020-01-01"));
    assert_eq!(
        requests[1].param("ex_dividend_date.lte"),
        Some("2020-12-31")
    );
}

#[tokio::test]
async fn polygon_reverse_split_is_one_for_eight() {
    let server = TestServer::start(|_: &Seen| {
        Reply::json(r#"{"results":[{"execution_date":"2023-05-01","split_from":8,"split_to":1,"ticker":"XYZ"}],"status":"OK","request_id":"r"}"#)
    })
    .await;
    let split = polygon(&server)
        .splits("XYZ", date("2023-01-01"), date("2023-12-31"))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((split.numerator, split.denominator), (dec!(1), dec!(8)));
}

#[tokio::test]
async fn plan_restriction_403_is_unauthorized() {
    let (server, provider) = polygon_on(|_: &Seen| {
        Reply::status(403, r#"{"status":"NOT_AUTHORIZED","request_id":"r","message":"You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"}"#)
    })
    .await;
    let e = provider
        .grouped_daily(date("2024-03-11"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Unauthorized { .. }) && e.to_string().contains("not entitled"),
        "{e}"
    );
    assert_eq!(server.requests().len(), 1);
    // Not asked again this run; the client does not drop the whole provider for it.
    let again = provider.grouped_daily(date("2024-03-12")).await;
    assert!(matches!(again, Err(ProviderError::Unauthorized { .. })));
    assert_eq!(server.requests().len(), 1);
    assert_eq!(provider.stats().disabled, None);
}
