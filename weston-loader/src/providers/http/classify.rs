//! What an answer means: success, a refusal, a rate limit, a transient failure worth
//! retrying, or a malformed answer. The texts that tell them apart inside a body are the
//! provider's own (each provider's file); the HTTP rules are here.

use std::time::Duration;

use reqwest::StatusCode;

/// What a provider said in a successful-looking (HTTP 200) body that is really an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyProblem {
    Unauthorized(String),
    RateLimited(String),
    Other(String),
}

/// How far a refusal reaches, as the provider's message tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The key itself: nothing more is sent this run.
    Key,
    /// One endpoint is outside the plan: it is not asked again this run.
    Endpoint,
    /// Only this call (a parameter or symbol outside the plan).
    Call,
}

/// The rule most providers follow: HTTP 401 or a message about the key refuses the key;
/// anything else refuses the endpoint.
pub fn default_refusal(message: &str) -> Refusal {
    if message.starts_with("HTTP 401") || message.to_ascii_lowercase().contains("api key") {
        Refusal::Key
    } else {
        Refusal::Endpoint
    }
}

/// The class of an HTTP status, before its body is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    NotFound,
    Refused,
    RateLimited,
    Transient,
    /// Anything else (a redirect, which is never followed, a 400): a malformed answer.
    Unexpected,
}

pub fn status_class(status: StatusCode) -> StatusClass {
    match status {
        s if s.is_success() => StatusClass::Success,
        StatusCode::NOT_FOUND => StatusClass::NotFound,
        StatusCode::UNAUTHORIZED | StatusCode::PAYMENT_REQUIRED | StatusCode::FORBIDDEN => {
            StatusClass::Refused
        }
        StatusCode::TOO_MANY_REQUESTS => StatusClass::RateLimited,
        s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => StatusClass::Transient,
        _ => StatusClass::Unexpected,
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The error text of a JSON error body (`error`, `message`, `Error Message`), else the start
/// of the body.
pub fn body_message(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        for field in ["Error Message", "error", "message"] {
            if let Some(serde_json::Value::String(text)) = map.get(field) {
                return text.clone();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect()
}

/// reqwest's error without its URL (which holds the key), with its causes.
pub fn describe_reqwest(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the body failed"
    } else {
        "request failed"
    };
    format!("{kind}: {}", crate::error::describe(&e.without_url()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_http_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let soon = chrono::Utc::now() + chrono::Duration::seconds(30);
        let header = soon.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let wait = parse_retry_after(&header).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(status_class(StatusCode::OK), StatusClass::Success);
        assert_eq!(status_class(StatusCode::FOUND), StatusClass::Unexpected);
        assert_eq!(
            status_class(StatusCode::BAD_GATEWAY),
            StatusClass::Transient
        );
        assert_eq!(status_class(StatusCode::FORBIDDEN), StatusClass::Refused);
        assert_eq!(default_refusal("HTTP 401: nope"), Refusal::Key);
        assert_eq!(default_refusal("HTTP 403: not in plan"), Refusal::Endpoint);
    }
}
