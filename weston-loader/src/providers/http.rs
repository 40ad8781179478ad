//! HTTP plumbing shared by the real providers: one reqwest client with timeouts, a
//! client-side rate limiter per provider, bounded retries, error classification, counters.
//!
//! Knobs (environment; defaults in brackets):
//! - `WESTON_FMP_RATE_LIMIT` [`300/min`], `WESTON_POLYGON_RATE_LIMIT` [`5/min`]: requests per
//!   `s`, `min` or `h` allowed by the plan. Calls are spaced evenly (no bursts), so no
//!   sliding window of the provider ever sees more than the plan allows.
//! - `WESTON_HTTP_TIMEOUT_SECS` [30]: whole-request timeout (connect timeout is 10 s).
//! - `WESTON_HTTP_MAX_RETRIES` [5]: retries of a transient or rate-limited call.
//! - `WESTON_HTTP_MAX_RETRY_AFTER_SECS` [120]: a longer `Retry-After` (a daily quota) is not
//!   waited for: the call fails as rate limited and the fallback chain moves on.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::ProviderError;
use crate::cli::ProviderName;

/// How many requests a plan allows per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: NonZeroU32,
    pub per: Duration,
}

impl RateLimit {
    pub fn per_minute(requests: u32) -> Self {
        RateLimit {
            requests: NonZeroU32::new(requests.max(1)).expect("max(1) is non-zero"),
            per: Duration::from_secs(60),
        }
    }

    /// The time between two calls.
    pub fn interval(&self) -> Duration {
        self.per / self.requests.get()
    }

    /// `N/s`, `N/min`, `N/h` (or a bare `N`, per minute).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (count, unit) = text.split_once('/').unwrap_or((text, "min"));
        let requests: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("rate limit {text:?}: expected N/s, N/min or N/h"))?;
        let requests = NonZeroU32::new(requests)
            .ok_or_else(|| format!("rate limit {text:?}: the count must be positive"))?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "m" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => return Err(format!("rate limit {text:?}: unknown unit {other:?}")),
        };
        Ok(RateLimit { requests, per })
    }
}

/// Rate limit, timeouts and retry policy of one provider.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub rate: RateLimit,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: usize,
    /// First backoff of the exponential retry schedule (jitter is added).
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for.
    pub max_retry_after: Duration,
}

impl HttpLimits {
    /// Defaults for a plan allowing `rate`.
    pub fn with_rate(rate: RateLimit) -> Self {
        HttpLimits {
            rate,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 5,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(120),
        }
    }

    /// The documented default plan of each provider: FMP 300/min, Polygon free 5/min.
    pub fn default_for(provider: ProviderName) -> Self {
        Self::with_rate(match provider {
            ProviderName::Fmp => RateLimit::per_minute(300),
            ProviderName::Polygon => RateLimit::per_minute(5),
            ProviderName::Mock => RateLimit::per_minute(60_000),
        })
    }

    /// The defaults overridden by the environment knobs of the module documentation.
    pub fn from_env(provider: ProviderName) -> Result<Self, String> {
        let mut limits = Self::default_for(provider);
        let rate_var = match provider {
            ProviderName::Fmp => Some("WESTON_FMP_RATE_LIMIT"),
            ProviderName::Polygon => Some("WESTON_POLYGON_RATE_LIMIT"),
            ProviderName::Mock => None,
        };
        if let Some(var) = rate_var {
            if let Ok(text) = std::env::var(var) {
                limits.rate = RateLimit::parse(&text).map_err(|e| format!("{var}: {e}"))?;
            }
        }
        let secs = |var: &str| -> Result<Option<u64>, String> {
            match std::env::var(var) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{var}: expected a whole number, got {text:?}")),
                Err(_) => Ok(None),
            }
        };
        if let Some(s) = secs("WESTON_HTTP_TIMEOUT_SECS")? {
            limits.timeout = Duration::from_secs(s.max(1));
        }
        if let Some(n) = secs("WESTON_HTTP_MAX_RETRIES")? {
            limits.max_retries = n as usize;
        }
        if let Some(s) = secs("WESTON_HTTP_MAX_RETRY_AFTER_SECS")? {
            limits.max_retry_after = Duration::from_secs(s);
        }
        Ok(limits)
    }
}

/// What a provider said in a successful-looking (HTTP 200) body that is really an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyProblem {
    Unauthorized(String),
    RateLimited(String),
    Other(String),
}

/// Counters of one provider for the run's log and `etl_run.stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProviderStats {
    pub provider: String,
    /// Requests sent (every attempt, retries and pages included).
    pub http_calls: u64,
    /// Attempts that were retried (transient failures and 429s).
    pub retries: u64,
    /// HTTP 429 answers received.
    pub rate_limited: u64,
    /// Rows parsed from the provider's answers.
    pub rows_returned: u64,
    /// Rows the fallback chain took from this provider (what gets stored).
    pub rows_supplied: u64,
    /// Why the provider was dropped for the rest of the run, if it was.
    pub disabled: Option<String>,
}

/// The HTTP client of one provider. The API key is added to the URL at send time only, so
/// every URL that reaches a message or a log is key-free.
pub struct HttpClient {
    provider: ProviderName,
    client: reqwest::Client,
    limiter: DefaultDirectRateLimiter,
    limits: HttpLimits,
    api_key: String,
    key_param: &'static str,
    body_check: fn(&[u8]) -> Option<BodyProblem>,
    http_calls: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    rows_returned: AtomicU64,
    disabled: Mutex<Option<String>>,
    /// Endpoints outside the plan, with the provider's message.
    restricted: Mutex<std::collections::BTreeMap<String, String>>,
}

impl HttpClient {
    /// `key_param` is the query parameter carrying the key; `body_check` finds errors that a
    /// provider reports inside an HTTP 200 body.
    pub fn new(
        provider: ProviderName,
        api_key: String,
        key_param: &'static str,
        limits: HttpLimits,
        body_check: fn(&[u8]) -> Option<BodyProblem>,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(limits.timeout)
            .connect_timeout(limits.connect_timeout)
            .user_agent(concat!("weston-loader/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("{provider}: cannot build the HTTP client: {e}"))?;
        let quota = Quota::with_period(limits.rate.interval())
            .ok_or_else(|| format!("{provider}: the rate limit allows no request"))?;
        Ok(HttpClient {
            provider,
            client,
            limiter: RateLimiter::direct(quota),
            limits,
            api_key,
            key_param,
            body_check,
            http_calls: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            rows_returned: AtomicU64::new(0),
            disabled: Mutex::new(None),
            restricted: Mutex::new(Default::default()),
        })
    }

    pub fn provider(&self) -> ProviderName {
        self.provider
    }

    pub fn add_rows(&self, rows: usize) {
        self.rows_returned.fetch_add(rows as u64, Ordering::Relaxed);
    }

    pub fn stats(&self) -> ProviderStats {
        ProviderStats {
            provider: self.provider.as_str().to_owned(),
            http_calls: self.http_calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            rows_returned: self.rows_returned.load(Ordering::Relaxed),
            rows_supplied: 0,
            disabled: self.disabled.lock().expect("disabled lock").clone(),
        }
    }

    pub fn malformed(
        &self,
        endpoint: &str,
        symbol: &str,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError::Malformed {
            provider: self.provider,
            endpoint: endpoint.to_owned(),
            symbol: symbol.to_owned(),
            message: self.redact(&message.into()),
        }
    }

    /// GET `url` (without key) and parse its JSON body; `None` for HTTP 404. Transient
    /// failures and 429s are retried (bounded); any other failure is returned classified.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        endpoint: &str,
        symbol: &str,
    ) -> Result<Option<T>, ProviderError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.limits.min_backoff)
            .with_max_delay(self.limits.max_backoff)
            .with_max_times(self.limits.max_retries)
            .with_jitter();
        let max_retry_after = self.limits.max_retry_after;
        if let Some(message) = self
            .restricted
            .lock()
            .expect("restricted lock")
            .get(endpoint)
        {
            return Err(ProviderError::Unauthorized {
                provider: self.provider,
                message: message.clone(),
            });
        }
        let body = (|| self.attempt(&url))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e| {
                matches!(
                    e,
                    ProviderError::Transient { .. } | ProviderError::RateLimited { .. }
                )
            })
            .adjust(move |e, next| match (e, next) {
                // Exhausted schedule: give up even on a 429.
                (_, None) => None,
                (
                    ProviderError::RateLimited {
                        retry_after: Some(wait),
                        ..
                    },
                    Some(_),
                ) => {
                    if *wait > max_retry_after {
                        None
                    } else {
                        // A little jitter so concurrent callers do not return in lockstep.
                        let spread = wait.as_millis() as u64 / 10 + 1;
                        Some(*wait + Duration::from_millis(rand::random_range(0..spread)))
                    }
                }
                (_, next) => next,
            })
            .notify(|e, wait| {
                self.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    provider = %self.provider,
                    endpoint,
                    symbol,
                    "retrying in {wait:?}: {e}"
                );
            })
            .await;
        let body = match body {
            Ok(body) => body,
            Err(ProviderError::Unauthorized { provider, message }) => {
                self.refuse(endpoint, &message);
                return Err(ProviderError::Unauthorized { provider, message });
            }
            // `attempt` knows the URL, not which endpoint and symbol it serves.
            Err(ProviderError::Malformed {
                provider, message, ..
            }) => {
                return Err(ProviderError::Malformed {
                    provider,
                    endpoint: endpoint.to_owned(),
                    symbol: symbol.to_owned(),
                    message,
                })
            }
            Err(e) => return Err(e),
        };
        let Some(body) = body else { return Ok(None) };
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| self.malformed(endpoint, symbol, format!("GET {}: {e}", redacted(&url))))
    }

    /// After a refusal, send nothing more that would be refused: nothing at all for a bad
    /// key (HTTP 401 or a message about the key), nothing to that endpoint for a plan
    /// restriction (the plan may still cover the others).
    fn refuse(&self, endpoint: &str, message: &str) {
        let lower = message.to_ascii_lowercase();
        // FMP's "Premium Query Parameter": this symbol (or option) is outside the plan, the
        // endpoint is not; the next provider fills that symbol.
        if lower.contains("query parameter") {
            return;
        }
        let bad_key = message.starts_with("HTTP 401") || lower.contains("api key");
        if bad_key {
            let mut disabled = self.disabled.lock().expect("disabled lock");
            if disabled.is_none() {
                tracing::error!(
                    provider = %self.provider,
                    "{}: the API key is refused ({message}); not used for the rest of this run",
                    self.provider
                );
                *disabled = Some(message.to_owned());
            }
        } else {
            let mut restricted = self.restricted.lock().expect("restricted lock");
            if !restricted.contains_key(endpoint) {
                tracing::error!(
                    provider = %self.provider,
                    endpoint,
                    "{}: {endpoint} is not in the plan ({message}); not asked again this run",
                    self.provider
                );
                restricted.insert(endpoint.to_owned(), message.to_owned());
            }
        }
    }

    /// One request: the limiter's turn, the call, the classification of its answer.
    async fn attempt(&self, url: &Url) -> Result<Option<Vec<u8>>, ProviderError> {
        if let Some(message) = self.disabled.lock().expect("disabled lock").clone() {
            return Err(ProviderError::Unauthorized {
                provider: self.provider,
                message,
            });
        }
        self.limiter.until_ready().await;
        self.http_calls.fetch_add(1, Ordering::Relaxed);
        let mut keyed = url.clone();
        keyed
            .query_pairs_mut()
            .append_pair(self.key_param, &self.api_key);
        let transient = |what: String| ProviderError::Transient {
            provider: self.provider,
            message: self.redact(&format!("GET {}: {what}", redacted(url))),
        };
        let response = self
            .client
            .get(keyed)
            .send()
            .await
            .map_err(|e| transient(describe_reqwest(e)))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response
            .bytes()
            .await
            .map_err(|e| transient(describe_reqwest(e)))?
            .to_vec();
        let message = || self.redact(&body_message(&body));
        match status {
            s if s.is_success() => match (self.body_check)(&body) {
                None => Ok(Some(body)),
                Some(BodyProblem::Unauthorized(m)) => Err(ProviderError::Unauthorized {
                    provider: self.provider,
                    message: self.redact(&m),
                }),
                Some(BodyProblem::RateLimited(m)) => {
                    self.rate_limited.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(provider = %self.provider, "rate limited: {}", self.redact(&m));
                    Err(ProviderError::RateLimited {
                        provider: self.provider,
                        retry_after,
                    })
                }
                Some(BodyProblem::Other(m)) => Err(ProviderError::Malformed {
                    provider: self.provider,
                    endpoint: url.path().to_owned(),
                    symbol: String::new(),
                    message: format!("error in an HTTP 200 body: {}", self.redact(&m)),
                }),
            },
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::UNAUTHORIZED | StatusCode::PAYMENT_REQUIRED | StatusCode::FORBIDDEN => {
                Err(ProviderError::Unauthorized {
                    provider: self.provider,
                    message: format!("HTTP {}: {}", status.as_u16(), message()),
                })
            }
            StatusCode::TOO_MANY_REQUESTS => {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
                Err(ProviderError::RateLimited {
                    provider: self.provider,
                    retry_after,
                })
            }
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                Err(transient(format!("HTTP {}: {}", s.as_u16(), message())))
            }
            s => Err(ProviderError::Malformed {
                provider: self.provider,
                endpoint: url.path().to_owned(),
                symbol: String::new(),
                message: format!(
                    "HTTP {} for GET {}: {}",
                    s.as_u16(),
                    redacted(url),
                    message()
                ),
            }),
        }
    }

    /// The key must never reach a log: replace it wherever it could have slipped in.
    pub fn redact(&self, text: &str) -> String {
        if self.api_key.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.api_key, "<redacted>")
        }
    }
}

/// `url` with any key-like query parameter replaced (the URLs we build carry none; a
/// provider's `next_url` might).
pub fn redacted(url: &Url) -> String {
    let mut clean = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let secret = k.eq_ignore_ascii_case("apikey") || k.eq_ignore_ascii_case("api_key");
            (
                k.into_owned(),
                if secret {
                    "<redacted>".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if pairs.is_empty() {
        clean.set_query(None);
    } else {
        clean.query_pairs_mut().clear().extend_pairs(pairs);
    }
    clean.to_string()
}

/// reqwest's error without its URL (which holds the key), with its causes.
fn describe_reqwest(e: reqwest::Error) -> String {
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
fn body_message(body: &[u8]) -> String {
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

/// An environment variable's value; `None` when it is unset or blank.
pub(crate) fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A provider's base URL, checked once so that building request URLs cannot fail;
/// `setting` names where it came from in the error.
pub(crate) fn parse_base_url(setting: &str, base_url: &str) -> Result<Url, String> {
    let base =
        Url::parse(base_url).map_err(|e| format!("{setting} {base_url:?} is not a URL: {e}"))?;
    if base.cannot_be_a_base() {
        return Err(format!("{setting} {base_url:?} cannot be a base URL"));
    }
    Ok(base)
}

/// `base` with `segments` appended to its path and `query` added.
pub(crate) fn join_url<'a>(
    base: &Url,
    segments: impl IntoIterator<Item = &'a str>,
    query: &[(&str, &str)],
) -> Url {
    let mut url = base.clone();
    url.path_segments_mut()
        .expect("parse_base_url accepts base URLs only")
        .pop_if_empty()
        .extend(segments);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url
}

/// What sets one provider's HTTP API apart: its name, the query parameter carrying the key,
/// the environment variables configuring it, its public address and how it reports errors
/// inside HTTP 200 bodies. Every real provider is built from one.
pub(crate) struct ApiSpec {
    pub provider: ProviderName,
    pub key_param: &'static str,
    /// The provider is configured only when this variable holds a key.
    pub key_var: &'static str,
    /// Overrides `default_base_url` (a local server in tests).
    pub base_url_var: &'static str,
    pub default_base_url: &'static str,
    pub body_check: fn(&[u8]) -> Option<BodyProblem>,
}

impl ApiSpec {
    /// The provider's client and its checked base URL.
    pub fn connect(
        &self,
        api_key: String,
        base_url: &str,
        limits: HttpLimits,
    ) -> Result<(HttpClient, Url), String> {
        let base = parse_base_url(self.base_url_var, base_url)?;
        let http = HttpClient::new(
            self.provider,
            api_key,
            self.key_param,
            limits,
            self.body_check,
        )?;
        Ok((http, base))
    }

    /// `build` given the key, base URL and limits from the environment; `None` without a key.
    pub fn build_from_env<P>(
        &self,
        build: impl FnOnce(String, &str, HttpLimits) -> Result<P, String>,
    ) -> Option<Result<P, String>> {
        let key = env_value(self.key_var)?;
        let base_url =
            env_value(self.base_url_var).unwrap_or_else(|| self.default_base_url.to_owned());
        Some(HttpLimits::from_env(self.provider).and_then(|limits| build(key, &base_url, limits)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse() {
        assert_eq!(RateLimit::parse("5/min").unwrap(), RateLimit::per_minute(5));
        assert_eq!(RateLimit::parse("300").unwrap(), RateLimit::per_minute(300));
        assert_eq!(
            RateLimit::parse("10/s").unwrap().interval(),
            Duration::from_millis(100)
        );
        assert!(RateLimit::parse("0/min").is_err());
        assert!(RateLimit::parse("5/week").is_err());
        assert_eq!(RateLimit::per_minute(5).interval(), Duration::from_secs(12));
    }

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
    fn key_parameters_are_redacted() {
        let url = Url::parse("https://api.polygon.io/v3/x?cursor=abc&apiKey=SECRET").unwrap();
        let text = redacted(&url);
        assert!(
            !text.contains("SECRET") && text.contains("cursor=abc"),
            "{text}"
        );
    }
}
