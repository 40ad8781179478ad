//! Exact parsing of provider JSON: numbers keep every digit (no f64 on the way), dates
//! are the provider's calendar dates, epoch milliseconds become New York trading dates.

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

/// The exact value of a JSON number, or an error naming it when a `Decimal` (28 significant
/// digits, 28 decimal places) cannot hold it exactly: a stored price is what was sent,
/// never a rounding of it (two different long values would otherwise compare equal).
fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let literal = text.trim().trim_matches('"');
    let (mantissa, exponent) = match literal.split_once(['e', 'E']) {
        Some((m, e)) => (
            m,
            e.parse::<i32>()
                .map_err(|e| format!("expected a number, got {text}: {e}"))?,
        ),
        None => (literal, 0),
    };
    // Trailing zeros after the point change no value: 1.50000… is 1.5 whatever its length.
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    let is_number = !mantissa.is_empty()
        && mantissa
            .trim_start_matches(['-', '+'])
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.');
    if !is_number {
        return Err(format!("expected a number, got {text}"));
    }
    let inexact = || {
        format!(
            "the number {text} cannot be stored exactly (at most 28 significant digits and \
             28 decimal places); refusing to round it"
        )
    };
    let value = Decimal::from_str_exact(mantissa).map_err(|e| {
        if mantissa.chars().filter(char::is_ascii_digit).count() > 28 {
            inexact()
        } else {
            format!("expected a number, got {text}: {e}")
        }
    })?;
    // value = digits * 10^-places, in integers: exact or refused, never rounded.
    let mut digits = value.mantissa();
    if digits == 0 {
        return Ok(Decimal::ZERO);
    }
    let mut places = i64::from(value.scale()) - i64::from(exponent);
    while places > 28 && digits % 10 == 0 {
        digits /= 10;
        places -= 1;
    }
    if places < 0 {
        digits = u32::try_from(-places)
            .ok()
            .and_then(|n| 10i128.checked_pow(n))
            .and_then(|f| digits.checked_mul(f))
            .ok_or_else(inexact)?;
        places = 0;
    }
    let places = u32::try_from(places).ok().filter(|p| *p <= 28);
    let value = places
        .and_then(|p| Decimal::try_from_i128_with_scale(digits, p).ok())
        .ok_or_else(inexact)?;
    Ok(value.normalize())
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

/// The rows of a listing read one by one: a row that is not what the provider documents
/// is rejected with its reason (the endpoint and the row's text) and the others are kept.
pub fn each_row<T: serde::de::DeserializeOwned>(
    endpoint: &str,
    rows: Vec<serde_json::Value>,
    rejected: &mut Vec<String>,
) -> Vec<T> {
    const SHOWN: usize = 200;
    rows.into_iter()
        .filter_map(|row| match T::deserialize(&row) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                let text = row.to_string();
                let shown: String = text.chars().take(SHOWN).collect();
                let more = if text.chars().count() > SHOWN {
                    "…"
                } else {
                    ""
                };
                rejected.push(format!("{endpoint}: row {shown}{more} rejected: {e}"));
                None
            }
        })
        .collect()
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
    fn a_number_a_decimal_cannot_hold_exactly_is_refused_not_rounded() {
        let forty = format!("1.{}", "1234567890".repeat(4));
        let error = serde_json::from_str::<Row>(&format!(r#"{{"v": {forty}}}"#))
            .err()
            .expect("40 decimals are refused");
        assert!(
            error.to_string().contains(&forty) && error.to_string().contains("exactly"),
            "{error}"
        );
        // One more digit than 28 significant ones, as a string and in scientific notation.
        for text in [
            r#""99999999999999999999999999999""#,
            "9.9999999999999999999999999999e5",
            "1e-29",
            "1e29",
        ] {
            let error = serde_json::from_str::<Row>(&format!(r#"{{"v": {text}}}"#))
                .err()
                .unwrap_or_else(|| panic!("{text} is refused"));
            assert!(error.to_string().contains("exactly"), "{text}: {error}");
        }
        // Long only in trailing zeros, or exactly at the limits: kept exactly.
        let row: Row = serde_json::from_str(&format!(r#"{{"v": 2.5{}}}"#, "0".repeat(40))).unwrap();
        assert_eq!(row.v, dec!(2.5));
        let row: Row = serde_json::from_str(r#"{"v": 1234567890.123456789012345678}"#).unwrap();
        assert_eq!(row.v, dec!(1234567890.123456789012345678));
        let row: Row = serde_json::from_str(r#"{"v": 1e-28}"#).unwrap();
        assert_eq!(row.v, dec!(0.0000000000000000000000000001));
        let row: Row = serde_json::from_str(r#"{"v": 25e-1}"#).unwrap();
        assert_eq!(row.v, dec!(2.5));
        let row: Row = serde_json::from_str(r#"{"v": -3.10E+2}"#).unwrap();
        assert_eq!(row.v, dec!(-310));
        assert!(serde_json::from_str::<Row>(r#"{"v": "1.2.3"}"#).is_err());
        assert!(serde_json::from_str::<Row>(r#"{"v": ""}"#).is_err());
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
