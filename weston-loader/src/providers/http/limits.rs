//! How fast and how long: a plan's rate limit, timeouts and the retry schedule.

use std::num::NonZeroU32;
use std::time::Duration;

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

/// The largest answer read by default: several times the largest legitimate one (Polygon's
/// grouped daily for the whole US market is about 3 MB; FMP's longest history about 2 MB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

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
    /// Answers larger than this are refused unread.
    pub max_body_bytes: u64,
}

impl HttpLimits {
    /// Defaults for a plan allowing `rate` (the other defaults are the command line's).
    pub fn with_rate(rate: RateLimit) -> Self {
        HttpLimits {
            rate,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 5,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(120),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
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
}
