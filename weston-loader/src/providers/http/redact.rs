//! Keeping the API key out of every message, log line and forwarded URL.

use reqwest::Url;

/// Whether a query parameter carries a key (`apikey`, `apiKey`, `api_key`).
fn is_key_param(name: &str) -> bool {
    name.eq_ignore_ascii_case("apikey") || name.eq_ignore_ascii_case("api_key")
}

/// `url` without any key-carrying query parameter: the URLs we build carry none, a
/// provider's `next_url` might. The key is added back only when a request is sent.
pub fn without_key(url: &Url) -> Url {
    let mut clean = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_key_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    clean.set_query(None);
    if !pairs.is_empty() {
        clean.query_pairs_mut().extend_pairs(pairs);
    }
    clean
}

/// `text` with `key` replaced wherever it slipped in (a server echoing it back).
pub fn redact(text: &str, key: &str) -> String {
    if key.is_empty() {
        text.to_owned()
    } else {
        text.replace(key, "<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parameters_are_removed_and_echoes_redacted() {
        let url = Url::parse("https://api.polygon.io/v3/x?cursor=abc&apiKey=SECRET").unwrap();
        let text = without_key(&url).to_string();
        assert!(
            !text.contains("SECRET") && text.contains("cursor=abc"),
            "{text}"
        );
        assert_eq!(redact("bad key SECRET", "SECRET"), "bad key <redacted>");
    }
}
