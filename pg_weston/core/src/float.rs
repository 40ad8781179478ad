//! A stored `numeric` to the nearest `f64`, read straight from its bytes.
//!
//! PostgreSQL's own cast prints the numeric and parses the text with `strtod`; for the long
//! numbers exact adjustment makes (20-digit factors, 24-digit prices) that is most of a
//! float read's cost. Here a numeric of at most 36 digits is converted in integers: one
//! floating-point operation where that is exact (most prices as traded), else a quotient
//! checked in 256-bit integers (adjusted prices); longer or extreme ones go to Rust's
//! parser as text. Every path rounds to nearest, ties to even, as `strtod` does, so the
//! double is the one PostgreSQL's cast gives.
//!
//! The bytes are PostgreSQL's on-disk numeric (`src/backend/utils/adt/numeric.c`, stable
//! across versions since pg_upgrade keeps it): a 16-bit header, in the long form a 16-bit
//! weight, then base-10000 digits, the first worth 10000^weight.

use std::fmt::Write;

/// Why a numeric has no double.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatError {
    /// Non-zero and too large or too small for a double (PostgreSQL's cast refuses it too).
    OutOfRange,
    /// Not a numeric's bytes.
    Malformed,
}

const SIGN_MASK: u16 = 0xC000;
const NEGATIVE: u16 = 0x4000;
const SHORT: u16 = 0x8000;
const SPECIAL: u16 = 0xC000;
const EXTENDED_SIGN_MASK: u16 = 0xF000;
const NAN: u16 = 0xC000;
const POSITIVE_INFINITY: u16 = 0xD000;
const NEGATIVE_INFINITY: u16 = 0xF000;
const SHORT_NEGATIVE: u16 = 0x2000;
const SHORT_WEIGHT_NEGATIVE: u16 = 0x0040;
const SHORT_WEIGHT_MASK: u16 = 0x003F;

/// The double nearest the numeric whose bytes (after the varlena header) are `numeric`.
pub fn numeric_to_f64(numeric: &[u8]) -> Result<f64, FloatError> {
    let word = |at: usize| -> Result<u16, FloatError> {
        numeric
            .get(at..at + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
            .ok_or(FloatError::Malformed)
    };
    let header = word(0)?;
    let (negative, weight, digits_at) = match header & SIGN_MASK {
        SPECIAL => {
            return match header & EXTENDED_SIGN_MASK {
                NAN => Ok(f64::NAN),
                POSITIVE_INFINITY => Ok(f64::INFINITY),
                NEGATIVE_INFINITY => Ok(f64::NEG_INFINITY),
                _ => Err(FloatError::Malformed),
            };
        }
        SHORT => {
            let magnitude = i32::from(header & SHORT_WEIGHT_MASK);
            let weight = if header & SHORT_WEIGHT_NEGATIVE != 0 {
                magnitude - 64
            } else {
                magnitude
            };
            (header & SHORT_NEGATIVE != 0, weight, 2)
        }
        sign => (sign == NEGATIVE, i32::from(word(2)? as i16), 4),
    };
    let digits = &numeric[digits_at..];
    if !digits.len().is_multiple_of(2) {
        return Err(FloatError::Malformed);
    }
    if digits.is_empty() {
        return Ok(0.0);
    }
    let count = digits.len() / 2;
    let exponent = 4 * (i64::from(weight) + 1 - count as i64);
    if let Some(value) = integer(digits).and_then(|integer| nearest(integer, exponent)) {
        return Ok(if negative { -value } else { value });
    }
    // Longer or extreme: the digits as decimal text and a power of ten, to Rust's parser,
    // which rounds to nearest, ties to even, from any number of digits, as strtod does.
    let mut text = String::with_capacity(count * 4 + 24);
    if negative {
        text.push('-');
    }
    for digit in base_digits(digits) {
        if digit >= 10_000 {
            return Err(FloatError::Malformed);
        }
        write!(text, "{digit:04}").expect("a String takes any text");
    }
    write!(text, "e{exponent}").expect("a String takes any text");
    let value: f64 = text.parse().map_err(|_| FloatError::Malformed)?;
    // Zero has no digits as PostgreSQL makes it; zero digits are zero all the same.
    if value.is_infinite() || (value == 0.0 && digits.iter().any(|&b| b != 0)) {
        return Err(FloatError::OutOfRange);
    }
    Ok(value)
}

/// The base-10000 digits of a numeric's digit bytes.
fn base_digits(digits: &[u8]) -> impl Iterator<Item = u16> + '_ {
    digits
        .chunks_exact(2)
        .map(|pair| u16::from_ne_bytes([pair[0], pair[1]]))
}

/// The powers of ten a `u128` holds, each the nearest double: exact up to 10^22.
const POWERS: [f64; 39] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32,
    1e33, 1e34, 1e35, 1e36, 1e37, 1e38,
];
const EXACT_POWERS: usize = 22;
const MANTISSA_BITS: u32 = 52;

/// The digits as one integer, when there are at most nine of them (36 decimal digits: every
/// price times a 20-place factor). None: more, or a digit out of range (the text path
/// reports it).
fn integer(digits: &[u8]) -> Option<u128> {
    if digits.len() > 18 {
        return None;
    }
    let mut integer: u128 = 0;
    for digit in base_digits(digits) {
        if digit >= 10_000 {
            return None;
        }
        integer = integer * 10_000 + u128::from(digit);
    }
    Some(integer)
}

/// integer x 10^exponent to the nearest double, ties to even, without text; None where the
/// arithmetic below does not reach (the text path takes those).
fn nearest(integer: u128, exponent: i64) -> Option<f64> {
    let power = usize::try_from(exponent.unsigned_abs()).ok()?;
    // Clinger's fast path: an integer a double holds exactly, times or over a power of ten
    // a double holds exactly: one operation, rounded once. Most stored prices and volumes.
    if integer <= 1 << 53 && power <= EXACT_POWERS {
        let integer = integer as f64;
        return Some(if exponent < 0 {
            integer / POWERS[power]
        } else {
            integer * POWERS[power]
        });
    }
    if exponent >= 0 {
        // An integer: Rust's u128-to-f64 conversion rounds to nearest, ties to even.
        let power = u32::try_from(exponent).ok()?;
        return Some(integer.checked_mul(10u128.checked_pow(power)?)? as f64);
    }
    quotient(integer, power)
}

/// integer / 10^power to the nearest double, ties to even: a double close to it by
/// floating point, then moved until the exact quotient lies within half a unit of it,
/// checked in 256-bit integers. Covers quotients from about 2^-73 to 2^54 (prices, factors).
fn quotient(integer: u128, power: usize) -> Option<f64> {
    let divisor = 10u128.checked_pow(u32::try_from(power).ok()?)?;
    if integer == 0 {
        return None;
    }
    let mut candidate = integer as f64 / POWERS[power];
    // Each rounding above is at most half a unit: a step or two at most.
    for _ in 0..4 {
        let bits = candidate.to_bits();
        let biased = i32::try_from(bits >> MANTISSA_BITS).ok()?;
        let mantissa = (bits & ((1 << MANTISSA_BITS) - 1)) | (1 << MANTISSA_BITS);
        // Not a normal positive double, or the neighbour below half a unit away (the
        // midpoint below would not be an integer in the scale used here).
        if biased == 0 || biased == 0x7ff || mantissa == 1 << MANTISSA_BITS {
            return None;
        }
        // candidate = mantissa x 2^binary; its midpoints with its neighbours are
        // (2 mantissa +- 1) x 2^(binary - 1). Compared, scaled by 2^(1 - binary) x divisor:
        // integer x 2^(1 - binary) against (2 mantissa +- 1) x divisor.
        let binary = biased - 1075;
        let scaled = shifted(integer, u32::try_from(1 - binary).ok()?)?;
        let above = widened(divisor, 2 * mantissa + 1);
        let below = widened(divisor, 2 * mantissa - 1);
        let even = mantissa.is_multiple_of(2);
        match scaled.cmp(&above) {
            std::cmp::Ordering::Greater => {
                candidate = candidate.next_up();
                continue;
            }
            std::cmp::Ordering::Equal => {
                return Some(if even { candidate } else { candidate.next_up() });
            }
            std::cmp::Ordering::Less => {}
        }
        return Some(match scaled.cmp(&below) {
            std::cmp::Ordering::Less => {
                candidate = candidate.next_down();
                continue;
            }
            std::cmp::Ordering::Equal if !even => candidate.next_down(),
            _ => candidate,
        });
    }
    None
}

/// value x 2^shift as (high, low) 128-bit halves; None past 127 bits of shift.
fn shifted(value: u128, shift: u32) -> Option<(u128, u128)> {
    match shift {
        0 => Some((0, value)),
        1..=127 => Some((value >> (128 - shift), value << shift)),
        _ => None,
    }
}

/// value x factor as (high, low) 128-bit halves.
fn widened(value: u128, factor: u64) -> (u128, u128) {
    let factor = u128::from(factor);
    let low = (value & u128::from(u64::MAX)) * factor;
    let high = (value >> 64) * factor;
    let (sum, carry) = low.overflowing_add(high << 64);
    ((high >> 64) + u128::from(carry), sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The long form's bytes of sign, weight and base-10000 digits.
    fn long(negative: bool, weight: i16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(if negative { NEGATIVE } else { 0 }).to_ne_bytes());
        out.extend_from_slice(&weight.to_ne_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_ne_bytes());
        }
        out
    }

    /// The short form's (weight -64..=63).
    fn short(negative: bool, weight: i32, digits: &[u16]) -> Vec<u8> {
        let weight_bits = if weight < 0 {
            SHORT_WEIGHT_NEGATIVE | ((weight + 64) as u16 & SHORT_WEIGHT_MASK)
        } else {
            weight as u16 & SHORT_WEIGHT_MASK
        };
        let header = SHORT | if negative { SHORT_NEGATIVE } else { 0 } | weight_bits;
        let mut out = header.to_ne_bytes().to_vec();
        for d in digits {
            out.extend_from_slice(&d.to_ne_bytes());
        }
        out
    }

    #[test]
    fn both_forms_read_alike() {
        // 123.4567 = 0123 . 4567: weight 0.
        assert_eq!(numeric_to_f64(&short(false, 0, &[123, 4567])), Ok(123.4567));
        assert_eq!(numeric_to_f64(&long(false, 0, &[123, 4567])), Ok(123.4567));
        assert_eq!(numeric_to_f64(&short(true, 0, &[123, 4567])), Ok(-123.4567));
        assert_eq!(numeric_to_f64(&long(true, 0, &[123, 4567])), Ok(-123.4567));
        // 0.00001234 = 0.0000 1234: weight -2.
        assert_eq!(numeric_to_f64(&short(false, -2, &[1234])), Ok(0.00001234));
        // 12340000 = 1234 0000 with the zero digit dropped: weight 1.
        assert_eq!(numeric_to_f64(&short(false, 1, &[1234])), Ok(12_340_000.0));
    }

    #[test]
    fn the_fast_path_and_the_text_agree() {
        // Up to four base-10000 digits at every weight a double's exact powers reach, and
        // past them: the fast path where it applies, the parser elsewhere, the same double.
        let digit_sets: [&[u16]; 6] = [
            &[1],
            &[9999],
            &[12, 3456],
            &[7, 2750],
            &[9007, 1992, 5474, 992],
            &[9999, 9999, 9999, 9999],
        ];
        for digits in digit_sets {
            for weight in -12..12 {
                let text = digits.iter().map(|d| format!("{d:04}")).collect::<String>();
                let exponent = 4 * (weight + 1 - digits.len() as i32);
                let want: f64 = format!("{text}e{exponent}").parse().unwrap();
                assert_eq!(
                    numeric_to_f64(&long(false, weight as i16, digits)),
                    Ok(want),
                    "{text}e{exponent}"
                );
                assert_eq!(
                    numeric_to_f64(&long(true, weight as i16, digits)),
                    Ok(-want),
                    "-{text}e{exponent}"
                );
            }
        }
    }

    /// The long form of n x 10^-k (k of any size: padded to whole base-10000 digits).
    fn decimal(n: u128, k: u32) -> (Vec<u8>, String) {
        let pad = (4 - k % 4) % 4;
        let mut n = n * 10u128.pow(pad);
        let k = k + pad;
        let mut digits = Vec::new();
        while n > 0 {
            digits.push((n % 10_000) as u16);
            n /= 10_000;
        }
        digits.reverse();
        let weight = digits.len() as i16 - 1 - (k / 4) as i16;
        let text = digits.iter().map(|d| format!("{d:04}")).collect::<String>();
        (long(false, weight, &digits), format!("{text}e-{k}"))
    }

    /// A small generator, the same numbers each run.
    fn numbers(seed: u64) -> impl Iterator<Item = u64> {
        let mut x = seed;
        std::iter::repeat_with(move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x >> 11
        })
    }

    #[test]
    fn every_path_agrees_with_the_parser() {
        // Random numerics of one to twelve base-10000 digits at weights -14..14: the fast
        // path, the integers, the quotients and the text, each against Rust's parser.
        let mut random = numbers(7);
        for _ in 0..200_000 {
            let count = 1 + random.next().unwrap() % 12;
            let weight = (random.next().unwrap() % 29) as i16 - 14;
            let mut digits: Vec<u16> = (0..count)
                .map(|_| (random.next().unwrap() % 10_000) as u16)
                .collect();
            digits[0] = digits[0].max(1);
            let text = digits.iter().map(|d| format!("{d:04}")).collect::<String>();
            let exponent = 4 * (i32::from(weight) + 1 - count as i32);
            let want: f64 = format!("{text}e{exponent}").parse().unwrap();
            assert_eq!(
                numeric_to_f64(&long(false, weight, &digits)),
                Ok(want),
                "{text}e{exponent}"
            );
        }
    }

    #[test]
    fn halfway_between_two_doubles_goes_to_the_even_one() {
        // For doubles m x 2^e (e -25..0), the exact decimal of the midpoint above,
        // (2m + 1) x 5^(1-e) x 10^-(1-e), and one unit in its last place either side.
        let mut random = numbers(11);
        for _ in 0..20_000 {
            let mantissa = (1u128 << 52) + u128::from(random.next().unwrap() % (1 << 52));
            let e = -((random.next().unwrap() % 26) as i32);
            let k = (1 - e) as u32;
            let midpoint = (2 * mantissa + 1) * 5u128.pow(k);
            let lower = f64::from_bits(
                ((1075 + e) as u64 * (1 << 52)) | (mantissa as u64 & ((1 << 52) - 1)),
            );
            let upper = lower.next_up();
            let even = if mantissa.is_multiple_of(2) {
                lower
            } else {
                upper
            };
            // The quotient path itself, whatever path the bytes take.
            assert_eq!(
                quotient(midpoint, k as usize),
                Some(even),
                "{midpoint}e-{k}"
            );
            assert_eq!(quotient(midpoint * 10 - 1, k as usize + 1), Some(lower));
            assert_eq!(quotient(midpoint * 10 + 1, k as usize + 1), Some(upper));
            let (bytes, text) = decimal(midpoint, k);
            assert_eq!(numeric_to_f64(&bytes), Ok(even), "{text}");
            let (bytes, text) = decimal(midpoint * 10 - 1, k + 1);
            assert_eq!(numeric_to_f64(&bytes), Ok(lower), "{text}");
            let (bytes, text) = decimal(midpoint * 10 + 1, k + 1);
            assert_eq!(numeric_to_f64(&bytes), Ok(upper), "{text}");
        }
    }

    #[test]
    fn zero_and_the_special_values() {
        assert_eq!(numeric_to_f64(&short(false, 0, &[])), Ok(0.0));
        assert_eq!(numeric_to_f64(&long(false, 0, &[])), Ok(0.0));
        assert!(numeric_to_f64(&NAN.to_ne_bytes()).unwrap().is_nan());
        assert_eq!(
            numeric_to_f64(&POSITIVE_INFINITY.to_ne_bytes()),
            Ok(f64::INFINITY)
        );
        assert_eq!(
            numeric_to_f64(&NEGATIVE_INFINITY.to_ne_bytes()),
            Ok(f64::NEG_INFINITY)
        );
    }

    #[test]
    fn long_numbers_round_to_nearest_ties_to_even() {
        // 549.167433333333333330577995, an adjusted price of 24 digits.
        let digits = [549, 1674, 3333, 3333, 3333, 3057, 7995];
        assert_eq!(
            numeric_to_f64(&long(false, 0, &digits)),
            Ok("549.167433333333333330577995".parse().unwrap())
        );
        // 2^53 + 1 = 9007199254740993 lies halfway between two doubles: to the even one.
        let halfway = [9007, 1992, 5474, 993];
        assert_eq!(
            numeric_to_f64(&long(false, 3, &halfway)),
            Ok(9_007_199_254_740_992.0)
        );
        // A hair above halfway: up.
        let above = [9007, 1992, 5474, 993, 0, 1];
        assert_eq!(
            numeric_to_f64(&long(false, 3, &above)),
            Ok(9_007_199_254_740_994.0)
        );
    }

    #[test]
    fn out_of_range_is_an_error_and_subnormals_are_kept() {
        // 10^400 and 10^-400.
        assert_eq!(
            numeric_to_f64(&long(false, 100, &[1])),
            Err(FloatError::OutOfRange)
        );
        assert_eq!(
            numeric_to_f64(&long(false, -100, &[1])),
            Err(FloatError::OutOfRange)
        );
        // 10^-320 is a subnormal double.
        assert_eq!(numeric_to_f64(&long(false, -80, &[1])), Ok(1e-320));
    }

    #[test]
    fn bytes_that_are_no_numeric_are_refused() {
        assert_eq!(numeric_to_f64(&[]), Err(FloatError::Malformed));
        assert_eq!(numeric_to_f64(&[0x00]), Err(FloatError::Malformed));
        assert_eq!(
            numeric_to_f64(&short(false, 0, &[10_000])),
            Err(FloatError::Malformed)
        );
        let mut odd = short(false, 0, &[1]);
        odd.push(0);
        assert_eq!(numeric_to_f64(&odd), Err(FloatError::Malformed));
    }
}
