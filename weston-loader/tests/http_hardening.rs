//! What a provider's answer may not do: be larger than the body cap (refused unread, a
//! malformed answer) or redirect the key to another host (redirects are never followed).

mod common;

use common::{date, fast, KEY};
use fake_providers::{Reply, Seen, TestServer};
use weston_loader::providers::{HttpLimits, PolygonProvider, Provider, ProviderError};

/// A grouped-daily answer with `n` bars of 2024-03-11 (stamped at the close).
fn grouped(n: usize) -> String {
    let bar = |i: usize| {
        format!(r#"{{"T":"S{i}","v":100,"o":10,"c":10,"h":11,"l":9,"t":1710187200000}}"#)
    };
    let results: Vec<String> = (0..n).map(bar).collect();
    format!(
        r#"{{"status":"OK","adjusted":false,"resultsCount":{n},"results":[{}]}}"#,
        results.join(",")
    )
}

#[tokio::test]
async fn an_answer_over_the_body_cap_is_refused_unread() {
    let server = TestServer::start(|_: &Seen| Reply::json(grouped(200))).await;
    let body_len = grouped(200).len() as u64;
    let provider = PolygonProvider::new(KEY, &server.base_url, fast()).unwrap();
    let bars = provider.grouped_daily(date("2024-03-11")).await.unwrap();
    assert_eq!(bars.map(|b| b.len()), Some(200), "under the default cap");

    let capped = PolygonProvider::new(
        KEY,
        &server.base_url,
        HttpLimits {
            max_body_bytes: body_len - 1,
            ..fast()
        },
    )
    .unwrap();
    let e = capped.grouped_daily(date("2024-03-11")).await.unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, ProviderError::Malformed { .. })
            && text.contains(&format!("larger than {} bytes", body_len - 1))
            && text.contains("WESTON_HTTP_MAX_BODY_BYTES"),
        "{text}"
    );
    assert!(!text.contains(KEY), "{text}");
    // Not retried: a larger answer will not shrink.
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_the_key_never_reaches_another_host() {
    let elsewhere = TestServer::start(|_: &Seen| Reply::json(grouped(1))).await;
    let target = elsewhere.base_url.clone();
    let redirecting = TestServer::start(move |seen: &Seen| {
        let query: Vec<String> = seen.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Reply::status(302, "").header(
            "location",
            format!("{target}{}?{}", seen.path, query.join("&")),
        )
    })
    .await;
    let provider = PolygonProvider::new(KEY, &redirecting.base_url, fast()).unwrap();
    let e = provider
        .grouped_daily(date("2024-03-11"))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, ProviderError::Malformed { .. }) && text.contains("HTTP 302"),
        "{text}"
    );
    assert!(!text.contains(KEY), "{text}");
    assert_eq!(redirecting.requests().len(), 1);
    assert!(
        elsewhere.requests().is_empty(),
        "the other host was asked: {:?}",
        elsewhere.requests()
    );
}

#[tokio::test]
async fn a_base_url_that_is_not_http_is_refused() {
    for url in ["ftp://127.0.0.1/", "file:///etc/passwd"] {
        let e = PolygonProvider::new(KEY, url, fast()).err().unwrap();
        assert!(e.contains("http or https"), "{e}");
    }
}
