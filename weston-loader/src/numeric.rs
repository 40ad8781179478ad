//! Reading `numeric` columns into `Decimal` fast, for the audit's reads of years of bars:
//! sqlx's own conversion raises 10000 to a power in decimals for every base-10000 digit,
//! most of the audit's time. Here the digits are summed as one integer at the column's
//! scale; the value and its scale are those sqlx gives (anything out of the plain case,
//! NaN, more than 28 decimals, a mantissa over 96 bits, goes through sqlx's conversion).

use rust_decimal::Decimal;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{Decode, Postgres, Type};

/// A `numeric` as `Decimal`, decoded fast; `.0` is the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numeric(pub Decimal);

impl Type<Postgres> for Numeric {
    fn type_info() -> PgTypeInfo {
        <Decimal as Type<Postgres>>::type_info()
    }
}

impl<'r> Decode<'r, Postgres> for Numeric {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.format() == PgValueFormat::Binary {
            if let Some(d) = from_binary(value.as_bytes()?) {
                return Ok(Numeric(d));
            }
        }
        <Decimal as Decode<Postgres>>::decode(value).map(Numeric)
    }
}

/// PostgreSQL's binary `numeric` (ndigits, weight, sign, dscale, then base-10000 digits,
/// each an i16 in network order): the value at scale dscale, or `None` for what is left
/// to sqlx.
pub fn from_binary(bytes: &[u8]) -> Option<Decimal> {
    let word = |i: usize| -> Option<i32> {
        let b = bytes.get(2 * i..2 * i + 2)?;
        Some(i32::from(i16::from_be_bytes([b[0], b[1]])))
    };
    let (ndigits, weight, sign, dscale) = (word(0)?, word(1)?, word(2)? & 0xFFFF, word(3)?);
    const POSITIVE: i32 = 0x0000;
    const NEGATIVE: i32 = 0x4000;
    if !(0..=28).contains(&dscale) || (sign != POSITIVE && sign != NEGATIVE) || ndigits < 0 {
        return None;
    }
    if bytes.len() != 8 + 2 * ndigits as usize {
        return None;
    }
    if ndigits == 0 {
        // sqlx answers zero at scale 0, whatever the column's scale.
        return Some(Decimal::ZERO);
    }
    let mut mantissa: u128 = 0;
    for i in 0..ndigits {
        let digit = u128::try_from(word(4 + i as usize)?).ok()?;
        if digit >= 10_000 {
            return None;
        }
        // The power of ten this digit stands for, at the value's scale.
        let exponent = 4 * (weight - i) + dscale;
        let scaled = if exponent >= 0 {
            digit.checked_mul(10u128.checked_pow(exponent as u32)?)?
        } else {
            let divisor = 10u128.pow((-exponent).min(4) as u32);
            if -exponent > 4 || digit % divisor != 0 {
                return None;
            }
            digit / divisor
        };
        mantissa = mantissa.checked_add(scaled)?;
    }
    if mantissa >= 1u128 << 96 {
        return None;
    }
    let signed = i128::try_from(mantissa).ok()?;
    let value = if sign == NEGATIVE { -signed } else { signed };
    Decimal::try_from_i128_with_scale(value, dscale as u32).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text`'s binary form as PostgreSQL sends it (digits of 4, aligned on the point).
    fn binary(text: &str) -> Vec<u8> {
        let negative = text.starts_with('-');
        let text = text.trim_start_matches('-');
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let dscale = frac.len() as i16;
        let int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
        let frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
        let mut digits: Vec<i16> = int
            .as_bytes()
            .chunks(4)
            .chain(frac.as_bytes().chunks(4))
            .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap())
            .collect();
        let mut weight = (int.len() / 4) as i16 - 1;
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        let sign: u16 = if negative { 0x4000 } else { 0 };
        let mut out = Vec::new();
        for w in [digits.len() as i16, weight, sign as i16, dscale] {
            out.extend(w.to_be_bytes());
        }
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    #[test]
    fn values_and_scales_are_the_columns() {
        for text in [
            "131.2636",
            "0.0001",
            "48734500",
            "48734500.00",
            "1.5",
            "-2.25",
            "123456789012.123456",
            "0.000012345",
            "10000",
            "99999999.9999",
        ] {
            let d = from_binary(&binary(text)).unwrap();
            assert_eq!(d.to_string(), text, "{text}");
        }
        // Zero is sqlx's zero, at scale 0.
        assert_eq!(from_binary(&binary("0.00")).unwrap().to_string(), "0");
        // NaN and malformed input are left to sqlx.
        assert_eq!(from_binary(&[0, 0, 0, 0, 0xC0, 0, 0, 0]), None);
        assert_eq!(from_binary(&[0, 1, 0, 0]), None);
    }
}
