//! A stored `numeric` to the nearest `f64`, read straight from its bytes.
//!
//! PostgreSQL's own cast prints the numeric and parses the text with `strtod`; for the long
//! numbers exact adjustment makes (20-digit factors, 24-digit prices) that is most of a
//! float read's cost. Both round to nearest, ties to even, so the two give the same double.
//!
//! The bytes are PostgreSQL's on-disk numeric (`src/backend/utils/adt/numeric.c`, stable
//! across versions since pg_upgrade keeps it): a 16-bit header, in the long form a 16-bit
//! weight, then base-10000 digits, the first worth 10000^weight.

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
    if let Some(value) = exactly(digits, exponent) {
        return Ok(if negative { -value } else { value });
    }
    // The digits as decimal text and a power of ten: Rust's parser rounds to nearest, ties
    // to even, from any number of digits, as strtod does. On the stack when it fits.
    let length = count * 4 + 24;
    let mut stack = [0u8; 160];
    let mut heap = Vec::new();
    let text: &mut [u8] = if length <= stack.len() {
        &mut stack[..length]
    } else {
        heap.resize(length, 0);
        &mut heap
    };
    let mut at = 0;
    let mut put = |byte: u8| {
        text[at] = byte;
        at += 1;
    };
    if negative {
        put(b'-');
    }
    for pair in digits.chunks_exact(2) {
        let digit = u16::from_ne_bytes([pair[0], pair[1]]);
        if digit >= 10_000 {
            return Err(FloatError::Malformed);
        }
        for place in [1000, 100, 10, 1] {
            put(b'0' + (digit / place % 10) as u8);
        }
    }
    put(b'e');
    if exponent < 0 {
        put(b'-');
    }
    let magnitude = exponent.unsigned_abs();
    let mut place = 1;
    while place * 10 <= magnitude {
        place *= 10;
    }
    while place > 0 {
        put(b'0' + (magnitude / place % 10) as u8);
        place /= 10;
    }
    let text = std::str::from_utf8(&text[..at]).map_err(|_| FloatError::Malformed)?;
    let value: f64 = text.parse().map_err(|_| FloatError::Malformed)?;
    // Zero has no digits as PostgreSQL makes it; zero digits are zero all the same.
    if value.is_infinite() || (value == 0.0 && digits.iter().any(|&b| b != 0)) {
        return Err(FloatError::OutOfRange);
    }
    Ok(value)
}

/// Powers of ten a double holds exactly.
const EXACT_POWERS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Most stored prices and volumes: at most 16 digits, an integer a double holds exactly,
/// times or over a power of ten a double holds exactly, so one operation rounds once and
/// gives the nearest double (Clinger's fast path). None: not such a number.
fn exactly(digits: &[u8], exponent: i64) -> Option<f64> {
    if digits.len() > 8 {
        return None;
    }
    let mut integer: u64 = 0;
    for pair in digits.chunks_exact(2) {
        let digit = u16::from_ne_bytes([pair[0], pair[1]]);
        if digit >= 10_000 {
            return None;
        }
        integer = integer * 10_000 + u64::from(digit);
    }
    if integer > 1 << 53 {
        return None;
    }
    let power = *EXACT_POWERS.get(usize::try_from(exponent.unsigned_abs()).ok()?)?;
    Some(if exponent < 0 {
        integer as f64 / power
    } else {
        integer as f64 * power
    })
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
