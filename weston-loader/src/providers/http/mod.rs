//! HTTP plumbing shared by the real providers: one reqwest client per provider with
//! timeouts, a body cap and no redirects, a client-side rate limiter, bounded retries and
//! counters. Limits in `limits.rs`, what an answer means in `classify.rs`, keeping the key
//! out of messages in `redact.rs`.

mod classify;
mod limits;
mod redact;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::Url;
use serde::de::DeserializeOwned;

pub use classify::{default_refusal, parse_retry_after, BodyProblem, Refusal};
pub use limits::{HttpLimits, RateLimit, DEFAULT_MAX_BODY_BYTES};
pub use redact::without_key;

use super::ProviderError;
use crate::model::{ProviderName, ProviderStats};
use classify::{body_message, describe_reqwest, status_class, StatusClass};

/// What sets one provider's HTTP API apart: its name, the query parameter carrying the key
/// and how it reports errors inside HTTP 200 bodies and how far its refusals reach.
pub(crate) struct ApiSpec {
    pub provider: ProviderName,
    pub key_param: &'static str,
    pub body_check: fn(&[u8]) -> Option<BodyProblem>,
    pub refusal: fn(&str) -> Refusal,
}

/// The HTTP client of one provider. The API key is added to the URL at send time only, so
/// every URL that reaches a message or a log is key-free. It is the one place that knows
/// whether the provider's key was refused (`disabled`).
pub struct HttpClient {
    spec: &'static ApiSpec,
    client: reqwest::Client,
    limiter: DefaultDirectRateLimiter,
    limits: HttpLimits,
    api_key: String,
    http_calls: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    rows_returned: AtomicU64,
    disabled: Mutex<Option<String>>,
    /// Endpoints outside the plan, with the provider's message.
    restricted: Mutex<BTreeMap<String, String>>,
}

impl HttpClient {
    pub(crate) fn new(
        spec: &'static ApiSpec,
        api_key: String,
        limits: HttpLimits,
    ) -> Result<Self, String> {
        let provider = spec.provider;
        let client = reqwest::Client::builder()
            .timeout(limits.timeout)
            .connect_timeout(limits.connect_timeout)
            // A redirect would carry the key to wherever it points: never followed, so an
            // answer of 3xx is an unexpected (malformed) one.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("weston-loader/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("{provider}: cannot build the HTTP client: {e}"))?;
        let quota = Quota::with_period(limits.rate.interval())
            .ok_or_else(|| format!("{provider}: the rate limit allows no request"))?;
        Ok(HttpClient {
            spec,
            client,
            limiter: RateLimiter::direct(quota),
            limits,
            api_key,
            http_calls: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            rows_returned: AtomicU64::new(0),
            disabled: Mutex::new(None),
            restricted: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn provider(&self) -> ProviderName {
        self.spec.provider
    }

    pub fn add_rows(&self, rows: usize) {
        self.rows_returned.fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// Why the key was refused, once it was: nothing more is sent this run.
    pub fn disabled(&self) -> Option<String> {
        self.disabled.lock().expect("disabled lock").clone()
    }

    pub fn stats(&self) -> ProviderStats {
        ProviderStats {
            provider: self.provider().as_str().to_owned(),
            http_calls: self.http_calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            rows_returned: self.rows_returned.load(Ordering::Relaxed),
            rows_supplied: 0,
            disabled: self.disabled(),
        }
    }

    pub fn malformed(
        &self,
        endpoint: &str,
        symbol: &str,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError::Malformed {
            provider: self.provider(),
            endpoint: endpoint.to_owned(),
            symbol: symbol.to_owned(),
            message: self.redact(&message.into()),
        }
    }

    /// GET `url` (without key) and parse its JSON body. Transient failures and 429s are
    /// retried (bounded); any other failure is returned classified. An HTTP 404 is a failure
    /// too: the endpoints asked this way name the symbol in the query and answer `[]` (or no
    /// results) for one they do not know, so a 404 says the endpoint itself is missing (a
    /// plan without it, a moved path), never that there is nothing.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        endpoint: &str,
        symbol: &str,
    ) -> Result<T, ProviderError> {
        let shown = without_key(&url).to_string();
        self.get_json_or_unknown(url, endpoint, symbol)
            .await?
            .ok_or_else(|| {
                self.malformed(
                    endpoint,
                    symbol,
                    format!("GET {shown}: HTTP 404, the endpoint is missing (not read as an empty answer)"),
                )
            })
    }

    /// Like `get_json`, `None` for HTTP 404: only for an endpoint whose path names the
    /// symbol, where a 404 is the provider's documented "unknown symbol".
    pub async fn get_json_or_unknown<T: DeserializeOwned>(
        &self,
        url: Url,
        endpoint: &str,
        symbol: &str,
    ) -> Result<Option<T>, ProviderError> {
        if let Some(message) = self
            .restricted
            .lock()
            .expect("restricted lock")
            .get(endpoint)
        {
            return Err(ProviderError::Unauthorized {
                provider: self.provider(),
                message: message.clone(),
            });
        }
        let body = match self.attempts(&url, endpoint, symbol).await {
            Ok(body) => body,
            Err(ProviderError::Unauthorized { provider, message }) => {
                self.refuse(endpoint, &message);
                return Err(ProviderError::Unauthorized { provider, message });
            }
            // `attempt` knows the URL, not which endpoint and symbol it serves.
            Err(ProviderError::Malformed { message, .. }) => {
                return Err(self.malformed(endpoint, symbol, message))
            }
            Err(e) => return Err(e),
        };
        let Some(body) = body else { return Ok(None) };
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            self.malformed(endpoint, symbol, format!("GET {}: {e}", without_key(&url)))
        })
    }

    /// `attempt` on the retry schedule: transient failures and short `Retry-After`s only.
    async fn attempts(
        &self,
        url: &Url,
        endpoint: &str,
        symbol: &str,
    ) -> Result<Option<Vec<u8>>, ProviderError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.limits.min_backoff)
            .with_max_delay(self.limits.max_backoff)
            .with_max_times(self.limits.max_retries)
            .with_jitter();
        let max_retry_after = self.limits.max_retry_after;
        (|| self.attempt(url))
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
                    provider = %self.provider(),
                    endpoint,
                    symbol,
                    "retrying in {wait:?}: {e}"
                );
            })
            .await
    }

    /// After a refusal, send nothing more that would be refused (how far is the
    /// provider's call: the key, the endpoint, or only this call).
    fn refuse(&self, endpoint: &str, message: &str) {
        let provider = self.provider();
        match (self.spec.refusal)(message) {
            Refusal::Call => {}
            Refusal::Key => {
                let mut disabled = self.disabled.lock().expect("disabled lock");
                if disabled.is_none() {
                    tracing::error!(
                        provider = %provider,
                        "{provider}: the API key is refused ({message}); not used for the rest of this run"
                    );
                    *disabled = Some(message.to_owned());
                }
            }
            Refusal::Endpoint => {
                let mut restricted = self.restricted.lock().expect("restricted lock");
                if !restricted.contains_key(endpoint) {
                    tracing::error!(
                        provider = %provider,
                        endpoint,
                        "{provider}: {endpoint} is not in the plan ({message}); not asked again this run"
                    );
                    restricted.insert(endpoint.to_owned(), message.to_owned());
                }
            }
        }
    }

    /// One request: the limiter's turn, the call, the classification of its answer.
    async fn attempt(&self, url: &Url) -> Result<Option<Vec<u8>>, ProviderError> {
        let provider = self.provider();
        if let Some(message) = self.disabled() {
            return Err(ProviderError::Unauthorized { provider, message });
        }
        self.limiter.until_ready().await;
        self.http_calls.fetch_add(1, Ordering::Relaxed);
        let mut keyed = url.clone();
        keyed
            .query_pairs_mut()
            .append_pair(self.spec.key_param, &self.api_key);
        let transient = |what: String| ProviderError::Transient {
            provider,
            message: self.redact(&format!("GET {}: {what}", without_key(url))),
        };
        let malformed = |what: String| ProviderError::Malformed {
            provider,
            endpoint: url.path().to_owned(),
            symbol: String::new(),
            message: self.redact(&what),
        };
        let mut response = self
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
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transient(describe_reqwest(e)))?
        {
            if (body.len() + chunk.len()) as u64 > self.limits.max_body_bytes {
                return Err(malformed(format!(
                    "GET {}: the answer is larger than {} bytes (WESTON_HTTP_MAX_BODY_BYTES); not read",
                    without_key(url),
                    self.limits.max_body_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let message = || self.redact(&body_message(&body));
        let rate_limited = |m: Option<String>| {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
            if let Some(m) = m {
                tracing::warn!(provider = %provider, "rate limited: {}", self.redact(&m));
            }
            ProviderError::RateLimited {
                provider,
                retry_after,
            }
        };
        match status_class(status) {
            StatusClass::Success => match (self.spec.body_check)(&body) {
                None => Ok(Some(body)),
                Some(BodyProblem::Unauthorized(m)) => Err(ProviderError::Unauthorized {
                    provider,
                    message: self.redact(&m),
                }),
                Some(BodyProblem::RateLimited(m)) => Err(rate_limited(Some(m))),
                Some(BodyProblem::Other(m)) => {
                    Err(malformed(format!("error in an HTTP 200 body: {m}")))
                }
            },
            StatusClass::NotFound => Ok(None),
            StatusClass::Refused => Err(ProviderError::Unauthorized {
                provider,
                message: format!("HTTP {}: {}", status.as_u16(), message()),
            }),
            StatusClass::RateLimited => Err(rate_limited(None)),
            StatusClass::Transient => Err(transient(format!(
                "HTTP {}: {}",
                status.as_u16(),
                message()
            ))),
            StatusClass::Unexpected => Err(malformed(format!(
                "HTTP {} for GET {}: {}",
                status.as_u16(),
                without_key(url),
                message()
            ))),
        }
    }

    /// The key must never reach a log: replace it wherever it could have slipped in.
    pub fn redact(&self, text: &str) -> String {
        redact::redact(text, &self.api_key)
    }
}

/// The client and checked base URL of a keyed API, which is what every real provider is
/// built from; `base_setting` names the base URL's setting in errors.
pub(crate) fn keyed_api(
    spec: &'static ApiSpec,
    base_setting: &str,
    api_key: String,
    base_url: &str,
    limits: HttpLimits,
) -> Result<(HttpClient, Url), String> {
    let base = parse_base_url(base_setting, base_url)?;
    Ok((HttpClient::new(spec, api_key, limits)?, base))
}

/// A provider's base URL, checked once so that building request URLs cannot fail; only
/// http and https; `setting` names where it came from in the error.
pub fn parse_base_url(setting: &str, base_url: &str) -> Result<Url, String> {
    let base =
        Url::parse(base_url).map_err(|e| format!("{setting} {base_url:?} is not a URL: {e}"))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(format!(
            "{setting} {base_url:?}: the scheme must be http or https, not {:?}",
            base.scheme()
        ));
    }
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
