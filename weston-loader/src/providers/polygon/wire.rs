//! Polygon's answers as documented: the JSON shapes the client reads, and how an error
//! is told inside a body.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::providers::http::BodyProblem;
use crate::providers::json::{decimal, opt_date, opt_decimal};

#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub(super) struct Page<T> {
    #[serde(default)]
    pub(super) results: Option<Vec<T>>,
    #[serde(default)]
    pub(super) next_url: Option<String>,
    #[serde(default)]
    pub(super) adjusted: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct Agg {
    #[serde(rename = "T", default)]
    pub(super) ticker: Option<String>,
    #[serde(deserialize_with = "decimal")]
    pub(super) o: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub(super) h: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub(super) l: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub(super) c: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub(super) v: Decimal,
    #[serde(default, deserialize_with = "opt_decimal")]
    pub(super) vw: Option<Decimal>,
    pub(super) t: i64,
}

#[derive(Deserialize)]
pub(super) struct PolygonSplit {
    #[serde(default)]
    pub(super) ticker: Option<String>,
    #[serde(deserialize_with = "opt_date", default)]
    pub(super) execution_date: Option<NaiveDate>,
    #[serde(deserialize_with = "decimal")]
    pub(super) split_from: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub(super) split_to: Decimal,
}

#[derive(Deserialize)]
pub(super) struct PolygonDividend {
    #[serde(default)]
    pub(super) ticker: Option<String>,
    #[serde(deserialize_with = "opt_date", default)]
    pub(super) ex_dividend_date: Option<NaiveDate>,
    #[serde(deserialize_with = "decimal")]
    pub(super) cash_amount: Decimal,
    #[serde(default)]
    pub(super) currency: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct DetailsEnvelope {
    pub(super) results: Option<TickerRow>,
}

/// Polygon answers errors with `{"status": "ERROR" | "NOT_AUTHORIZED", "error"|"message": …}`,
/// normally with a 4xx status; the same body under HTTP 200 is classified the same way.
pub(super) fn body_problem(body: &[u8]) -> Option<BodyProblem> {
    #[derive(Deserialize)]
    struct Status {
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        message: Option<String>,
    }
    // Only objects can carry a status; skip the parse for anything else.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let status: Status = serde_json::from_slice(body).ok()?;
    let kind = status.status?;
    if !matches!(kind.as_str(), "ERROR" | "NOT_AUTHORIZED") {
        return None;
    }
    let message = status
        .error
        .or(status.message)
        .unwrap_or_else(|| kind.clone());
    let lower = message.to_ascii_lowercase();
    Some(
        if kind == "NOT_AUTHORIZED"
            || lower.contains("api key")
            || lower.contains("not entitled")
            || lower.contains("upgrade")
        {
            BodyProblem::Unauthorized(message)
        } else if lower.contains("maximum requests") || lower.contains("rate limit") {
            BodyProblem::RateLimited(message)
        } else {
            BodyProblem::Other(message)
        },
    )
}

/// A row of `/v3/reference/tickers` (the listing, and ticker details' `results`).
#[derive(Deserialize)]
pub(super) struct TickerRow {
    pub(super) ticker: String,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) primary_exchange: Option<String>,
    #[serde(default)]
    pub(super) sic_description: Option<String>,
    #[serde(default)]
    pub(super) active: Option<bool>,
    #[serde(default)]
    pub(super) composite_figi: Option<String>,
    #[serde(default)]
    pub(super) share_class_figi: Option<String>,
    #[serde(default)]
    pub(super) cik: Option<String>,
    #[serde(default, deserialize_with = "opt_date")]
    pub(super) list_date: Option<NaiveDate>,
    /// "The last date that the asset was traded."
    #[serde(default, deserialize_with = "opt_date")]
    pub(super) delisted_utc: Option<NaiveDate>,
}

/// `/vX/reference/tickers/{id}/events`: an entity's ticker changes, each with its first day.
#[derive(Deserialize)]
pub(super) struct EventsEnvelope {
    #[serde(default)]
    pub(super) results: Option<EventsResult>,
}

#[derive(Deserialize)]
pub(super) struct EventsResult {
    #[serde(default)]
    pub(super) events: Vec<TickerEvent>,
}

#[derive(Deserialize)]
pub(super) struct TickerEvent {
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(deserialize_with = "opt_date", default)]
    pub(super) date: Option<NaiveDate>,
    #[serde(default)]
    pub(super) ticker_change: Option<TickerChange>,
}

#[derive(Deserialize)]
pub(super) struct TickerChange {
    pub(super) ticker: String,
}
