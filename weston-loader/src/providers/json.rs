//! Exact parsing of provider JSON: numbers keep every digit (no f64 on the way), dates
//! are the provider's calendar dates, epoch milliseconds become New York trading dates.

use std::str::FromStr;

use chrono::{NaiveDate, TimeZone};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A JSON number (or numeric string) as an exact decimal, read from its literal text.
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let raw = Box::<RawValue>::deserialize(d)?;
    parse_decimal(raw.get()).map_err(serde::de::Error::custom)
}

/// Like [`decimal`]; `null` or absent gives `None`.
pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let raw = Option::<Box<RawValue>>::deserialize(d)?;
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => parse_decimal(raw.get())
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let literal = text.trim().trim_matches('"');
    let parsed = if literal.contains(['e', 'E']) {
        Decimal::from_scientific(literal)
    } else {
        Decimal::from_str_exact(literal).or_else(|_| Decimal::from_str(literal))
    };
    parsed
        .map(|d| d.normalize())
        .map_err(|e| format!("expected a number, got {text}: {e}"))
}

/// A `YYYY-MM-DD` date; an empty string or `null` gives `None` (FMP writes `""`).
pub fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        // Timestamps such as Polygon's `delisted_utc` carry the date first.
        Some(t) => NaiveDate::parse_from_str(t.get(..10).unwrap_or(t), "%Y-%m-%d")
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("bad date {t:?}: {e}"))),
    }
}

/// The America/New_York calendar date of an epoch-milliseconds instant. Polygon stamps a
/// daily bar at the session's midnight (range aggregates) or at its close (grouped daily);
/// both fall on the trading date in New York time, whatever the UTC offset (EST or EDT).
pub fn new_york_date(epoch_ms: i64) -> Option<NaiveDate> {
    let instant = chrono::Utc.timestamp_millis_opt(epoch_ms).single()?;
    Some(
        instant
            .with_timezone(&chrono_tz::America::New_York)
            .date_naive(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[derive(Deserialize)]
    struct Row {
        #[serde(deserialize_with = "decimal")]
        v: Decimal,
        #[serde(default, deserialize_with = "opt_decimal")]
        vw: Option<Decimal>,
    }

    #[test]
    fn numbers_keep_every_digit() {
        let row: Row = serde_json::from_str(r#"{"v": 1234567.123456789012, "vw": 0.1}"#).unwrap();
        assert_eq!(row.v, dec!(1234567.123456789012));
        assert_eq!(row.vw, Some(dec!(0.1)));
        let row: Row = serde_json::from_str(r#"{"v": 7.0218343e+07}"#).unwrap();
        assert_eq!(row.v, dec!(70218343));
        assert_eq!(row.vw, None);
        let row: Row = serde_json::from_str(r#"{"v": 5, "vw": null}"#).unwrap();
        assert_eq!((row.v, row.vw), (dec!(5), None));
        assert!(serde_json::from_str::<Row>(r#"{"v": "lots"}"#).is_err());
        assert!(serde_json::from_str::<Row>(r#"{"v": true}"#).is_err());
    }

    #[test]
    fn epoch_ms_to_new_york_dates_across_dst() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        // Midnight New York of 2024-03-08 (EST, 05:00 UTC) and 2024-03-11 (EDT, 04:00 UTC).
        assert_eq!(new_york_date(1_709_874_000_000), Some(d(2024, 3, 8)));
        assert_eq!(new_york_date(1_710_129_600_000), Some(d(2024, 3, 11)));
        // 16:00 New York (the close) on 2024-11-01 (EDT, 20:00 UTC) and 2024-11-04 (EST, 21:00 UTC).
        assert_eq!(new_york_date(1_730_491_200_000), Some(d(2024, 11, 1)));
        assert_eq!(new_york_date(1_730_754_000_000), Some(d(2024, 11, 4)));
        // 20:00 New York is already the next day in UTC.
        assert_eq!(new_york_date(1_730_764_800_000), Some(d(2024, 11, 4)));
    }
}
