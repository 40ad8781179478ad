//! The FMP client against a local server speaking FMP's documented `/stable` format: the
//! raw (non-split-adjusted) series, declared dividends, key and plan errors inside HTTP 200
//! bodies, share classes written with a dash.

mod common;

use common::{
    aapl_bars_around_the_split, aapl_dividends_2020, aapl_splits_2020, date, fast, fmp_api, fmp_on,
    FmpProvider, Provider, ProviderError, Reply, Seen, TestServer, KEY,
};
use rust_decimal_macros::dec;

#[tokio::test]
async fn fmp_bars_are_the_raw_non_split_adjusted_series_oldest_first() {
    let (server, provider) = fmp_on(fmp_api).await;
    let bars = aapl_bars_around_the_split(&provider).await.unwrap();
    let dates: Vec<_> = bars.iter().map(|b| b.date.to_string()).collect();
    assert_eq!(dates, ["2020-08-27", "2020-08-28", "2020-08-31"]);
    // Before the 4-for-1 split of 2020-08-31 the raw close is ~500, the adjusted one ~125.
    assert_eq!(bars[1].close, dec!(499.23));
    assert_eq!(
        (bars[1].open, bars[1].high, bars[1].low, bars[1].volume),
        (dec!(504.05), dec!(505.77), dec!(498.31), dec!(46907479))
    );
    assert_eq!(bars[2].close, dec!(129.04));
    let seen = &server.requests()[0];
    assert_eq!(seen.path, "/stable/historical-price-eod/non-split-adjusted");
    assert_eq!(
        (seen.param("symbol"), seen.param("from"), seen.param("to")),
        (Some("AAPL"), Some("2020-08-27"), Some("2020-08-31"))
    );
}

#[tokio::test]
async fn fmp_reference_data_keeps_declared_dividends() {
    let (_server, provider) = fmp_on(fmp_api).await;
    let splits = aapl_splits_2020(&provider).await.unwrap();
    assert_eq!(splits.len(), 1, "the 2014 split is outside the range");
    assert_eq!(
        (splits[0].numerator, splits[0].denominator),
        (dec!(4), dec!(1))
    );
    let dividends = aapl_dividends_2020(&provider).await.unwrap();
    // `dividend` (0.82 as paid before the split), not `adjDividend` (0.205).
    assert_eq!(
        (dividends[0].ex_date, dividends[0].amount),
        (date("2020-08-07"), dec!(0.82))
    );
    assert_eq!(dividends[1].amount, dec!(0.205));
    let info = provider.security("AAPL").await.unwrap().unwrap();
    assert_eq!(
        (
            info.exchange.as_deref(),
            info.sector.as_deref(),
            info.industry.as_deref()
        ),
        (
            Some("NASDAQ"),
            Some("Technology"),
            Some("Consumer Electronics")
        )
    );
    assert_eq!(provider.security("NOPE").await.unwrap(), None);
    assert!(provider
        .daily_bars("NOPE", date("2020-08-27"), date("2020-08-31"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn bad_key_stops_the_provider_for_the_run() {
    let server = TestServer::start(fmp_api).await;
    let provider = FmpProvider::new("wrong-key", &server.base_url, fast()).unwrap();
    let e = aapl_bars_around_the_split(&provider).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Unauthorized { .. })
            && e.to_string().contains("Invalid API KEY"),
        "{e}"
    );
    assert!(!e.to_string().contains("wrong-key"));
    // No retry, and no further call for the rest of the run.
    assert!(matches!(
        aapl_splits_2020(&provider).await,
        Err(ProviderError::Unauthorized { .. })
    ));
    assert_eq!(server.requests().len(), 1);
    assert!(provider.stats().disabled.is_some());
}

#[tokio::test]
async fn fmp_errors_inside_http_200_bodies_are_classified() {
    let answering = |body: &'static str| fmp_on(move |_: &Seen| Reply::json(body));
    let (_server, provider) =
        answering(r#"{"Error Message": "Invalid API KEY. Feel free to create a Free API Key"}"#)
            .await;
    let e = aapl_bars_around_the_split(&provider).await.unwrap_err();
    assert!(matches!(e, ProviderError::Unauthorized { .. }), "{e}");

    let (_server, provider) = answering(r#"{"Error Message": "Restricted Endpoint: This endpoint is not available under your current subscription"}"#).await;
    let e = provider.security("AAPL").await.unwrap_err();
    assert!(matches!(e, ProviderError::Unauthorized { .. }), "{e}");

    let (_server, provider) = answering(
        r#"{"Error Message": "Limit Reach . Please upgrade your plan or visit our documentation"}"#,
    )
    .await;
    let e = aapl_splits_2020(&provider).await.unwrap_err();
    assert!(matches!(e, ProviderError::RateLimited { .. }), "{e}");
    assert_eq!(provider.stats().http_calls as usize, 1 + fast().max_retries);

    let (_server, provider) = answering(r#"{"Error Message": "Something unexpected"}"#).await;
    let e = aapl_dividends_2020(&provider).await.unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, ProviderError::Malformed { .. })
            && text.contains("dividends")
            && text.contains("AAPL"),
        "{text}"
    );
}

/// FMP writes share classes with a dash: BRK.B is asked for as BRK-B and comes back as
/// BRK.B, from the per-symbol endpoints and from the calendars alike.
#[tokio::test]
async fn fmp_share_classes_are_asked_with_a_dash_and_stored_with_a_dot() {
    let (_server, provider) = fmp_on(|seen: &Seen| {
        if seen.param("apikey") != Some(KEY) {
            return Reply::status(401, r#"{"Error Message": "Invalid API KEY."}"#);
        }
        match (seen.path.as_str(), seen.param("symbol")) {
            ("/stable/historical-price-eod/non-split-adjusted", Some("BRK-B")) => Reply::json(
                r#"[{"symbol": "BRK-B", "date": "2024-03-11", "adjOpen": 410.1, "adjHigh": 412.5, "adjLow": 408, "adjClose": 411.2, "volume": 3021845}]"#,
            ),
            ("/stable/profile", Some("BRK-B")) => Reply::json(
                r#"[{"symbol": "BRK-B", "companyName": "Berkshire Hathaway Inc.", "exchange": "NYSE", "sector": "Financial Services", "industry": "Insurance - Diversified", "ipoDate": "1996-05-09"}]"#,
            ),
            ("/stable/splits-calendar", None) => Reply::json(
                r#"[{"symbol": "BRK-B", "date": "2010-01-21", "numerator": 50, "denominator": 1}]"#,
            ),
            _ => Reply::json("[]"),
        }
    })
    .await;
    let bars = provider
        .daily_bars("BRK.B", date("2024-03-11"), date("2024-03-11"))
        .await
        .unwrap();
    assert_eq!(
        bars.iter()
            .map(|b| (b.symbol.as_str(), b.close))
            .collect::<Vec<_>>(),
        [("BRK.B", dec!(411.2))]
    );
    let info = provider
        .security("BRK.B")
        .await
        .unwrap()
        .expect("a profile");
    assert_eq!(
        (info.symbol.as_str(), info.name.as_deref()),
        ("BRK.B", Some("Berkshire Hathaway Inc."))
    );
    let splits = provider
        .all_splits(date("2010-01-01"), date("2010-03-31"))
        .await
        .unwrap()
        .expect("FMP lists splits by date");
    assert_eq!(
        splits
            .iter()
            .map(|s| (s.symbol.as_str(), s.date, s.numerator, s.denominator))
            .collect::<Vec<_>>(),
        [("BRK.B", date("2010-01-21"), dec!(50), dec!(1))]
    );
}

/// One malformed row of `symbol-change` (a date that is no date) or of `delisted-companies`
/// is rejected with its reason; every other row of both listings is kept.
#[tokio::test]
async fn a_malformed_row_of_a_listing_is_rejected_alone() {
    fn api(seen: &Seen) -> Reply {
        match seen.path.as_str() {
            "/stable/symbol-change" => Reply::json(
                r#"[{"date":"2022-06-09","companyName":"Meta","oldSymbol":"FB","newSymbol":"META"},
                    {"date":"June 2022","companyName":"Bad","oldSymbol":"OLD","newSymbol":"NEW"},
                    {"date":"2022-06-10","companyName":"Other","oldSymbol":"AAA","newSymbol":"BBB"}]"#,
            ),
            "/stable/delisted-companies" => Reply::json(
                r#"[{"symbol":"LEH","companyName":"Lehman","delistedDate":"2022-06-08"},
                    {"companyName":"No symbol","delistedDate":"2022-06-08"}]"#,
            ),
            _ => Reply::json("[]"),
        }
    }
    let (_server, provider) = fmp_on(api).await;
    let listing = provider
        .life_events(date("2022-06-01"), date("2022-06-30"))
        .await
        .unwrap()
        .expect("FMP lists life events");
    use weston_loader::model::LifeEvent;
    assert_eq!(
        listing.events,
        [
            LifeEvent::Renamed {
                old: "FB".into(),
                new: "META".into(),
                effective: date("2022-06-09")
            },
            LifeEvent::Renamed {
                old: "AAA".into(),
                new: "BBB".into(),
                effective: date("2022-06-10")
            },
            LifeEvent::Delisted {
                symbol: "LEH".into(),
                last_day: date("2022-06-08")
            },
        ]
    );
    assert_eq!(listing.rejected.len(), 2, "{:?}", listing.rejected);
    assert!(
        listing.rejected[0].starts_with("symbol-change: row ")
            && listing.rejected[0].contains("June 2022"),
        "{:?}",
        listing.rejected
    );
    assert!(
        listing.rejected[1].starts_with("delisted-companies: row ")
            && listing.rejected[1].contains("symbol"),
        "{:?}",
        listing.rejected
    );
}
