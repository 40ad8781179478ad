//! Split and total-return adjustment (docs/REFERENCE.md, "Adjusted prices"), computed exactly.
//!
//! An event's date is its ex-date. A bar dated `d` is adjusted by every event with
//! `d < ex_date <= as_of` (`as_of` `None`: every event given):
//! - a split `numerator`-for-`denominator` multiplies prices by `denominator / numerator`
//!   and volume by `numerator / denominator`;
//! - with `total_return`, a dividend multiplies prices (not volume) by
//!   `1 - amount / close_before`, where `close_before` is the raw close of the last bar
//!   before the ex-date, multiplied by `denominator / numerator` of every split dated after
//!   that bar and on or before the ex-date (the ex-date's share basis, which is the basis
//!   `amount` is paid in).
//!
//! Defined edge cases:
//! - A dividend with no bar before its ex-date adjusts nothing (multiplier 1): there is no
//!   price to take it from, and no stored bar lies before it anyway.
//! - A dividend whose amount is not below `close_before` would make prices zero or negative;
//!   that is refused with [`AdjustError::DividendNotBelowClose`] naming the event.
//! - Several events on one date (a split and a dividend) multiply into one segment.
//! - Events on non-trading days need nothing special: only the date comparison matters.
//!
//! All arithmetic is on exact rationals ([`Exact`]); a cumulative factor is rounded only
//! once, when rendered as a `numeric` by [`to_numeric`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use chrono::NaiveDate;
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// An exact rational number.
pub type Exact = BigRational;

/// Fractional digits of a factor whose decimal expansion does not terminate (2/3, 1/7).
/// Terminating factors (1/4, 3/2, 1/10) are rendered exactly, whatever their length.
pub const FACTOR_SCALE: u32 = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub ex_date: NaiveDate,
    pub numerator: Exact,
    pub denominator: Exact,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dividend {
    pub ex_date: NaiveDate,
    pub amount: Exact,
}

/// The last raw bar strictly before a dividend's ex-date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorClose {
    pub date: NaiveDate,
    pub close: Exact,
}

/// Bars dated before `effective_before` (and on or after the previous segment's
/// `effective_before`) take these cumulative factors; bars on or after the last segment's
/// date take 1. One segment per event date, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub effective_before: NaiveDate,
    pub price_factor: Exact,
    pub volume_factor: Exact,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdjustError {
    NonPositiveSplit {
        ex_date: NaiveDate,
        numerator: Exact,
        denominator: Exact,
    },
    NonPositiveDividend {
        ex_date: NaiveDate,
        amount: Exact,
    },
    DividendNotBelowClose {
        ex_date: NaiveDate,
        amount: Exact,
        bar_date: NaiveDate,
        close_before: Exact,
    },
}

impl fmt::Display for AdjustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdjustError::NonPositiveSplit {
                ex_date,
                numerator,
                denominator,
            } => write!(
                f,
                "split on {ex_date} has ratio {}-for-{}; both must be > 0",
                to_numeric(numerator),
                to_numeric(denominator)
            ),
            AdjustError::NonPositiveDividend { ex_date, amount } => write!(
                f,
                "dividend with ex-date {ex_date} has amount {}; it must be > 0",
                to_numeric(amount)
            ),
            AdjustError::DividendNotBelowClose {
                ex_date,
                amount,
                bar_date,
                close_before,
            } => write!(
                f,
                "dividend with ex-date {ex_date} pays {} per share, not less than the close before it \
                 ({} on {bar_date}, in the ex-date's share basis); total-return adjustment would make prices <= 0",
                to_numeric(amount),
                to_numeric(close_before)
            ),
        }
    }
}

impl std::error::Error for AdjustError {}

/// Which adjustment, for which bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Adjustment {
    /// Events after this date are ignored; `None`: every event given.
    pub as_of: Option<NaiveDate>,
    /// Also adjust for dividends.
    pub total_return: bool,
    /// Only bars dated on or after this will be looked up: events on or before it adjust
    /// none of them and are left out. `None`: every bar.
    pub bars_from: Option<NaiveDate>,
}

impl Adjustment {
    /// Whether an event with this ex-date adjusts any bar asked for.
    pub fn in_effect(&self, ex_date: NaiveDate) -> bool {
        self.as_of.is_none_or(|as_of| ex_date <= as_of)
            && self.bars_from.is_none_or(|from| ex_date > from)
    }
}

/// The factor segments of one symbol.
///
/// `splits` must include every split that may lie between a dividend in effect and the
/// bar before it (simplest: all splits up to `as_of`), since they set the dividend's share
/// basis. `prior_close(ex_date)` returns the last raw bar strictly before `ex_date`; it is
/// asked only for dividends in effect, and only when `total_return`.
// The error carries the offending exact values for its message; it is rare, so its size
// costs nothing on the path that matters.
#[allow(clippy::result_large_err)]
pub fn factor_segments(
    splits: &[Split],
    dividends: &[Dividend],
    mut prior_close: impl FnMut(NaiveDate) -> Option<PriorClose>,
    adjustment: Adjustment,
) -> Result<Vec<Segment>, AdjustError> {
    let in_effect = |d: NaiveDate| adjustment.in_effect(d);
    // Per event date: the product of that date's own multipliers (price, volume).
    let mut by_date: BTreeMap<NaiveDate, (Exact, Exact)> = BTreeMap::new();
    for split in splits {
        if !split.numerator.is_positive() || !split.denominator.is_positive() {
            return Err(AdjustError::NonPositiveSplit {
                ex_date: split.ex_date,
                numerator: split.numerator.clone(),
                denominator: split.denominator.clone(),
            });
        }
        if !in_effect(split.ex_date) {
            continue;
        }
        let entry = by_date
            .entry(split.ex_date)
            .or_insert_with(|| (Exact::one(), Exact::one()));
        entry.0 = times(&entry.0, &split.denominator, &split.numerator);
        entry.1 = times(&entry.1, &split.numerator, &split.denominator);
    }
    for dividend in dividends {
        if !dividend.amount.is_positive() {
            return Err(AdjustError::NonPositiveDividend {
                ex_date: dividend.ex_date,
                amount: dividend.amount.clone(),
            });
        }
        if !adjustment.total_return || !in_effect(dividend.ex_date) {
            continue;
        }
        let entry = by_date
            .entry(dividend.ex_date)
            .or_insert_with(|| (Exact::one(), Exact::one()));
        let Some(prior) = prior_close(dividend.ex_date) else {
            continue;
        };
        // Splits after the prior bar up to the ex-date, inclusive: a split on the ex-date
        // itself is already in the basis the amount is paid in.
        let mut close_before = prior.close.clone();
        for split in splits {
            if prior.date < split.ex_date && split.ex_date <= dividend.ex_date {
                close_before = times(&close_before, &split.denominator, &split.numerator);
            }
        }
        if dividend.amount >= close_before {
            return Err(AdjustError::DividendNotBelowClose {
                ex_date: dividend.ex_date,
                amount: dividend.amount.clone(),
                bar_date: prior.date,
                close_before,
            });
        }
        // 1 - amount / close_before, as one fraction.
        let (a, c) = (&dividend.amount, &close_before);
        let denominator = a.denom() * c.numer();
        let multiplier = Exact::new_raw(&denominator - a.numer() * c.denom(), denominator);
        entry.0 = times(&entry.0, &multiplier, &Exact::one());
    }

    // Cumulate from the newest event back: a bar takes every event after it.
    let mut price = Exact::one();
    let mut volume = Exact::one();
    let mut segments: Vec<Segment> = by_date
        .into_iter()
        .rev()
        .map(|(date, (p, v))| {
            price = times(&price, &p, &Exact::one());
            volume = times(&volume, &v, &Exact::one());
            Segment {
                effective_before: date,
                price_factor: price.clone(),
                volume_factor: volume.clone(),
            }
        })
        .collect();
    segments.reverse();
    Ok(segments)
}

/// The (price, volume) factors of a bar dated `date`, from `segments` as returned by
/// [`factor_segments`].
pub fn factors_on(segments: &[Segment], date: NaiveDate) -> (Exact, Exact) {
    // The first segment whose date is after the bar; segments are ascending.
    let i = segments.partition_point(|s| s.effective_before <= date);
    segments.get(i).map_or_else(
        || (Exact::one(), Exact::one()),
        |s| (s.price_factor.clone(), s.volume_factor.clone()),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDecimalError(pub String);

impl fmt::Display for ParseDecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a finite decimal number", self.0)
    }
}

impl std::error::Error for ParseDecimalError {}

/// Parses PostgreSQL's text form of a finite `numeric` (`-12.3400`, `5`, `.5`).
/// `NaN` and `Infinity` are refused.
pub fn parse_decimal(text: &str) -> Result<Exact, ParseDecimalError> {
    let err = || ParseDecimalError(text.to_string());
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = s.split_once('.').unwrap_or((s, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(err());
    }
    let sign = |n: BigInt| if negative { -n } else { n };
    // A price or an amount fits a machine word: reduce it there (a gcd of two words), not
    // as a big fraction; reading every event's amount and close was a tenth of a read.
    let word = int_part
        .bytes()
        .chain(frac_part.bytes())
        .try_fold(0u64, |n, b| {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        });
    let scale = u32::try_from(frac_part.len()).map_err(|_| err())?;
    if let (Some(numerator), Some(denominator)) = (word, 10u64.checked_pow(scale)) {
        let common = numerator.gcd(&denominator);
        return Ok(Exact::new_raw(
            sign(BigInt::from(numerator / common)),
            BigInt::from(denominator / common),
        ));
    }
    let digits = format!("{int_part}{frac_part}");
    let numerator: BigInt = digits.parse().map_err(|_| err())?;
    Ok(Exact::new(sign(numerator), BigInt::from(10u32).pow(scale)))
}

/// Renders `value` as the text of a `numeric`: exactly when its decimal expansion
/// terminates (the reduced denominator has no prime factor but 2 and 5), with the fewest
/// digits that do so; otherwise rounded to [`FACTOR_SCALE`] fractional digits. A
/// non-terminating expansion is never exactly halfway between two roundings, so
/// "to nearest" needs no tie rule (half-even and half-up agree).
pub fn to_numeric(value: &Exact) -> String {
    // Fractions are kept unreduced (see `times`), and a gcd of their long products costs
    // more than everything else here: n/d terminates exactly when d, its 2s and 5s
    // removed, divides n, which takes one division.
    let (numer, denom) = if value.denom().is_negative() {
        (-value.numer(), -value.denom())
    } else {
        (value.numer().clone(), value.denom().clone())
    };
    if denom.is_one() {
        // Whole (a volume factor with no split is 1/1): nothing to divide.
        return numer.to_string();
    }
    let (mut units, mut scale) = scaled_floor(&numer, &denom, FACTOR_SCALE);
    if !units.1.is_zero() {
        let (twos, fives, rest) = twos_fives(&denom);
        let (quotient, remainder) = numer.div_rem(&rest);
        if remainder.is_zero() {
            // n/d = quotient / (2^twos 5^fives): exact with max(twos, fives) digits.
            let power = BigInt::from(2u32).pow(twos) * BigInt::from(5u32).pow(fives);
            (units, scale) = scaled_floor(&quotient, &power, twos.max(fives));
        } else if units.1.clone() * 2 > denom {
            // Round to nearest: floor, plus one when the remainder is more than half.
            units.0 += 1;
        }
    }
    if units.1.is_zero() {
        // Exact: drop trailing zeros for the shortest form, 16 at a time, then the rest
        // (< 16) by 8, 4, 2 and 1: a factor of 1 has 20 of them, which one division each
        // made the slowest case of all.
        let mut drop_zeros = |zeros: u32| {
            let dropped = scale >= zeros && divide_exactly(&mut units.0, 10u64.pow(zeros));
            if dropped {
                scale -= zeros;
            }
            dropped
        };
        while drop_zeros(16) {}
        for zeros in [8, 4, 2, 1] {
            drop_zeros(zeros);
        }
    }
    let negative = units.0.is_negative();
    let digits = units.0.abs().to_string();
    let scale = scale as usize;
    let body = if scale == 0 {
        digits
    } else {
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int_part, frac_part) = padded.split_at(padded.len() - scale);
        format!("{int_part}.{frac_part}")
    };
    if negative {
        format!("-{body}")
    } else {
        body
    }
}

/// Divides `value` by `divisor` when it divides exactly; whether it did. A divisor of one
/// machine word is the cheap case of a big division.
fn divide_exactly(value: &mut BigInt, divisor: u64) -> bool {
    let (quotient, remainder) = value.div_rem(&BigInt::from(divisor));
    let divides = remainder.is_zero();
    if divides {
        *value = quotient;
    }
    divides
}

/// `(floor(numer / denom * 10^scale), remainder)` and `scale`; `denom` > 0.
fn scaled_floor(numer: &BigInt, denom: &BigInt, scale: u32) -> ((BigInt, BigInt), u32) {
    static TEN_TO_FACTOR_SCALE: LazyLock<BigInt> =
        LazyLock::new(|| BigInt::from(10u32).pow(FACTOR_SCALE));
    let scaled = if scale == FACTOR_SCALE {
        numer * &*TEN_TO_FACTOR_SCALE
    } else {
        numer * BigInt::from(10u32).pow(scale)
    };
    (scaled.div_mod_floor(denom), scale)
}

/// `value * numer / denom` without reducing: reduction (a gcd) costs far more than the
/// products it would shorten, and only rendering needs it, rarely (see `to_numeric`).
fn times(value: &Exact, numer: &Exact, denom: &Exact) -> Exact {
    Exact::new_raw(
        value.numer() * numer.numer() * denom.denom(),
        value.denom() * numer.denom() * denom.numer(),
    )
}

/// `denominator` (> 0) as `2^twos * 5^fives * rest`, `rest` prime to 10.
fn twos_fives(denominator: &BigInt) -> (u32, u32, BigInt) {
    let twos = denominator.trailing_zeros().unwrap_or(0);
    let mut rest = denominator >> twos;
    // A product of prices holds dozens of fives: divide them out 27 at a time (5^27 still
    // fits a machine word), then the rest (< 27) by 16, 8, 4, 2 and 1, instead of one
    // division a five.
    let mut fives = 0u32;
    let mut divide_out = |power: u32| {
        let divides = divide_exactly(&mut rest, 5u64.pow(power));
        if divides {
            fives += power;
        }
        divides
    };
    while divide_out(27) {}
    for power in [16, 8, 4, 2, 1] {
        divide_out(power);
    }
    let twos = u32::try_from(twos).expect("a factor's denominator has fewer than 2^32 bits");
    (twos, fives, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn x(s: &str) -> Exact {
        parse_decimal(s).unwrap()
    }
    fn adj(as_of: Option<NaiveDate>, total_return: bool) -> Adjustment {
        Adjustment {
            as_of,
            total_return,
            bars_from: None,
        }
    }
    fn split(date: &str, n: &str, dn: &str) -> Split {
        Split {
            ex_date: d(date),
            numerator: x(n),
            denominator: x(dn),
        }
    }

    #[test]
    fn decimals_round_trip_and_refuse_non_finite() {
        for s in ["0", "5", "-12.3400", "0.25", "124.8075", "1208.88"] {
            let v = x(s);
            assert_eq!(v, x(&to_numeric(&v)), "{s}");
        }
        assert_eq!(to_numeric(&x("-12.3400")), "-12.34");
        assert_eq!(to_numeric(&x(".5")), "0.5");
        for bad in [
            "NaN",
            "Infinity",
            "-Infinity",
            "",
            ".",
            "1e5",
            "1.2.3",
            "--1",
        ] {
            assert!(parse_decimal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn terminating_factors_are_exact_and_others_round_to_nearest() {
        let r = |n: i128, dn: i128| to_numeric(&Exact::new(n.into(), dn.into()));
        assert_eq!(r(1, 4), "0.25");
        assert_eq!(r(3, 2), "1.5");
        assert_eq!(r(1, 10), "0.1");
        assert_eq!(r(28, 1), "28");
        assert_eq!(r(1, 1024), "0.0009765625");
        assert_eq!(r(2, 3), "0.66666666666666666667");
        assert_eq!(r(1, 7), "0.14285714285714285714");
        assert_eq!(r(1, 28), "0.03571428571428571429");
        assert_eq!(r(-2, 3), "-0.66666666666666666667");
        assert_eq!(r(1, 3 * 10i128.pow(20)), "0.00000000000000000000");
        // Past 20 places when the expansion terminates, through the twos and the fives.
        assert_eq!(
            r(1, 2i128.pow(70)),
            "0.0000000000000000000008470329472543003390683225006796419620513916015625"
        );
        assert_eq!(r(1, 5i128.pow(30)), "0.000000000000000000001073741824");
        assert_eq!(
            r(7, 5i128.pow(40)),
            "0.0000000000000000000000000007696581394432"
        );
        let big = |n: i128, dn: i128| to_numeric(&Exact::new_raw(n.into(), dn.into()));
        assert_eq!(
            big(12345 * 3, 8 * 5i128.pow(41) * 3),
            "0.0000000000000000000000000339336776122368"
        );
        // Unreduced, as products are kept: the same text as reduced.
        assert_eq!(big(6, 6), "1");
        assert_eq!(big(100_000, 1_000), "100");
        assert_eq!(big(-8, 2), "-4");
        assert_eq!(big(5, -1), "-5");
        assert_eq!(big(0, 7), "0");
        assert_eq!(big(3 * 10i128.pow(25), 10i128.pow(25)), "3");
    }

    #[test]
    fn decimals_past_a_machine_word_parse_alike() {
        // A word's digits are reduced as words, longer ones as big fractions: both reduced.
        for s in [
            "00012.500",
            "-0.000",
            "18446744073709551615",
            "18446744073709551616",
            "123456789012345678901234.5678901234567890",
            "0.0000000000000000000125",
        ] {
            let v = x(s);
            let (n, d) = (v.numer().clone(), v.denom().clone());
            assert_eq!(
                Exact::new(n.clone(), d.clone()).numer(),
                &n,
                "{s} is reduced"
            );
            assert!(d.is_positive(), "{s}");
            assert_eq!(to_numeric(&v), to_numeric(&Exact::new(n, d)), "{s}");
        }
        assert_eq!(x("00012.500"), Exact::new(25.into(), 2.into()));
        assert_eq!(to_numeric(&x("-0.000")), "0");
        assert_eq!(
            to_numeric(&x("123456789012345678901234.5678901234567890")),
            "123456789012345678901234.567890123456789"
        );
    }

    #[test]
    fn aapl_four_for_one_of_2020_08_31() {
        let splits = [split("2020-08-31", "4", "1")];
        let segments = factor_segments(&splits, &[], |_| None, adj(None, false)).unwrap();
        let (price, volume) = factors_on(&segments, d("2020-08-28"));
        assert_eq!(to_numeric(&(x("499.23") * price)), "124.8075");
        assert_eq!(volume, x("4"));
        // As of the last day before the split, nothing has happened yet.
        let as_of =
            factor_segments(&splits, &[], |_| None, adj(Some(d("2020-08-28")), false)).unwrap();
        assert!(as_of.is_empty());
        // The bar on the ex-date is already post-split.
        assert_eq!(factors_on(&segments, d("2020-08-31")).0, Exact::one());
    }

    #[test]
    fn dividend_uses_the_prior_close_in_the_ex_date_basis() {
        // Last bar 2024-01-05 at 100; a 2-for-1 on 2024-01-08 (a Monday) and a 1.00 dividend
        // the same day: close_before = 50, so the multiplier is 1 - 1/50 = 0.98.
        let splits = [split("2024-01-08", "2", "1")];
        let dividends = [Dividend {
            ex_date: d("2024-01-08"),
            amount: x("1.00"),
        }];
        let prior = |ex: NaiveDate| {
            (ex == d("2024-01-08")).then(|| PriorClose {
                date: d("2024-01-05"),
                close: x("100"),
            })
        };
        let segments = factor_segments(&splits, &dividends, prior, adj(None, true)).unwrap();
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].price_factor, x("0.49"));
        assert_eq!(segments[0].volume_factor, x("2"));
        let split_only = factor_segments(&splits, &dividends, prior, adj(None, false)).unwrap();
        assert_eq!(split_only[0].price_factor, x("0.5"));
    }

    #[test]
    fn a_dividend_not_below_the_close_is_refused_and_one_without_a_bar_is_ignored() {
        let dividends = [Dividend {
            ex_date: d("2024-03-01"),
            amount: x("5"),
        }];
        let high = |_| {
            Some(PriorClose {
                date: d("2024-02-29"),
                close: x("5"),
            })
        };
        let err = factor_segments(&[], &dividends, high, adj(None, true)).unwrap_err();
        assert!(err.to_string().contains("2024-03-01"), "{err}");
        let none = factor_segments(&[], &dividends, |_| None, adj(None, true)).unwrap();
        assert_eq!(none[0].price_factor, Exact::one());
    }

    /// A bar: date and raw close (the only price the adjustment reads).
    #[derive(Debug, Clone)]
    struct Bar {
        date: NaiveDate,
        close: Exact,
    }

    /// The contract read literally, bar by bar, with no segments.
    fn reference(
        bars: &[Bar],
        splits: &[Split],
        dividends: &[Dividend],
        as_of: Option<NaiveDate>,
        total_return: bool,
        bars_from: Option<NaiveDate>,
    ) -> Result<Vec<(Exact, Exact)>, NaiveDate> {
        // A dividend that would make prices <= 0 is refused (by its ex-date) when it
        // adjusts a bar asked for.
        if total_return {
            for dv in dividends.iter().filter(|dv| {
                as_of.is_none_or(|a| dv.ex_date <= a) && bars_from.is_none_or(|f| dv.ex_date > f)
            }) {
                if let Some(m) = dividend_multiplier(bars, splits, dv) {
                    if !m.is_positive() {
                        return Err(dv.ex_date);
                    }
                }
            }
        }
        let applies = |bar: NaiveDate, ex: NaiveDate| bar < ex && as_of.is_none_or(|a| ex <= a);
        Ok(bars
            .iter()
            .map(|bar| {
                let mut price = Exact::one();
                let mut volume = Exact::one();
                for s in splits.iter().filter(|s| applies(bar.date, s.ex_date)) {
                    price = price * s.denominator.clone() / s.numerator.clone();
                    volume = volume * s.numerator.clone() / s.denominator.clone();
                }
                if total_return {
                    for dv in dividends.iter().filter(|dv| applies(bar.date, dv.ex_date)) {
                        if let Some(m) = dividend_multiplier(bars, splits, dv) {
                            price *= m;
                        }
                    }
                }
                (price, volume)
            })
            .collect())
    }

    /// `1 - amount / close_before`, or None without a bar before the ex-date.
    fn dividend_multiplier(bars: &[Bar], splits: &[Split], dv: &Dividend) -> Option<Exact> {
        let last = bars.iter().rfind(|b| b.date < dv.ex_date)?;
        let mut close_before = last.close.clone();
        for s in splits {
            if last.date < s.ex_date && s.ex_date <= dv.ex_date {
                close_before = close_before * s.denominator.clone() / s.numerator.clone();
            }
        }
        Some(Exact::one() - dv.amount.clone() / close_before)
    }

    /// Whether `value`'s decimal expansion terminates: its reduced denominator has no
    /// prime factor but 2 and 5 (by the definition, with a gcd, unlike `to_numeric`).
    fn terminates(value: &Exact) -> bool {
        let reduced = Exact::new(value.numer().clone(), value.denom().clone());
        let mut rest = reduced.denom().abs();
        for p in [2u32, 5] {
            while (&rest % BigInt::from(p)).is_zero() {
                rest /= BigInt::from(p);
            }
        }
        rest.is_one()
    }

    proptest! {
        /// Unreduced fractions (as `times` makes them) render as their reduced form does:
        /// exactly when the expansion terminates, else within half a unit of the last digit.
        #[test]
        fn unreduced_fractions_render_as_reduced_ones(
            n in -10_000_000i64..10_000_000, dn in 1i64..10_000_000, k in 1i64..100_000,
            twos in 0u32..30, fives in 0u32..30) {
            let dn = BigInt::from(dn) * BigInt::from(2u32).pow(twos) * BigInt::from(5u32).pow(fives);
            let reduced = Exact::new(BigInt::from(n), dn.clone());
            let unreduced = Exact::new_raw(BigInt::from(n) * k, dn * k);
            let shown = to_numeric(&unreduced);
            prop_assert_eq!(&shown, &to_numeric(&reduced));
            let half_ulp = Exact::new(1.into(), BigInt::from(2) * BigInt::from(10u32).pow(FACTOR_SCALE));
            prop_assert!((x(&shown) - &reduced).abs() <= half_ulp);
            if terminates(&reduced) {
                prop_assert_eq!(x(&shown), reduced);
                // The shortest form: no trailing zero after a decimal point.
                prop_assert!(!shown.contains('.') || !shown.ends_with('0'), "{}", shown);
            }
        }
    }

    fn day(offset: u32) -> NaiveDate {
        d("2019-12-30") + chrono::Days::new(u64::from(offset))
    }

    prop_compose! {
        /// Weekday bars (so events also land on weekends, between bars) at cents prices.
        fn bars()(offsets in prop::collection::btree_set(0u32..120, 0..40),
                  cents in prop::collection::vec(100u32..100_000, 40)) -> Vec<Bar> {
            offsets.into_iter()
                .filter(|o| o % 7 < 5)
                .zip(cents)
                .map(|(o, c)| Bar { date: day(o), close: Exact::new(c.into(), 100.into()) })
                .collect()
        }
    }

    fn ratios() -> impl Strategy<Value = (u32, u32)> {
        // Forward, reverse and fractional splits; (1,1) is a harmless no-op.
        prop_oneof![
            Just((2, 1)),
            Just((3, 2)),
            Just((4, 1)),
            Just((7, 1)),
            Just((10, 1)),
            Just((1, 8)),
            Just((2, 3)),
            Just((1, 1)),
            (1u32..20, 1u32..20),
        ]
    }

    prop_compose! {
        fn splits()(events in prop::collection::btree_map(0u32..130, ratios(), 0..5)) -> Vec<Split> {
            // A map: one split per date, like the table's primary key.
            events.into_iter().map(|(o, (n, dn))| Split {
                ex_date: day(o),
                numerator: Exact::from_integer(n.into()),
                denominator: Exact::from_integer(dn.into()),
            }).collect()
        }
    }

    prop_compose! {
        /// Amounts up to 0.99 against closes from 1.00: usually below the close, but a
        /// forward split between the prior bar and the ex-date can push it above.
        fn dividends()(events in prop::collection::btree_map(0u32..130, 1u32..100, 0..6)) -> Vec<Dividend> {
            events.into_iter().map(|(o, cents)| Dividend {
                ex_date: day(o),
                amount: Exact::new(cents.into(), 100.into()),
            }).collect()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn segments_agree_with_the_reference(
            bars in bars(),
            splits in splits(),
            dividends in dividends(),
            as_of in prop::option::of(0u32..130),
            total_return in any::<bool>(),
            bars_from in prop::option::of(0u32..130),
        ) {
            let as_of = as_of.map(day);
            let bars_from = bars_from.map(day);
            let adjustment = Adjustment { as_of, total_return, bars_from };
            let prior = |ex: NaiveDate| bars.iter().rfind(|b| b.date < ex)
                .map(|b| PriorClose { date: b.date, close: b.close.clone() });
            let expected = reference(&bars, &splits, &dividends, as_of, total_return, bars_from);
            match (factor_segments(&splits, &dividends, prior, adjustment), expected) {
                (Ok(segments), Ok(expected)) => {
                    // Ascending, one per event date in effect.
                    prop_assert!(segments.windows(2).all(|w| w[0].effective_before < w[1].effective_before));
                    // Every bar asked for (on or after bars_from) gets the reference factors.
                    for (bar, want) in bars.iter().zip(&expected) {
                        if bars_from.is_some_and(|from| bar.date < from) {
                            continue;
                        }
                        prop_assert_eq!(&factors_on(&segments, bar.date), want, "bar {}", bar.date);
                    }
                    // Rendering: exact when terminating, else within half a unit of the last digit.
                    let half_ulp = Exact::new(1.into(), BigInt::from(2) * BigInt::from(10u32).pow(FACTOR_SCALE));
                    for s in &segments {
                        let shown = x(&to_numeric(&s.price_factor));
                        prop_assert!((shown.clone() - &s.price_factor).abs() <= half_ulp);
                        if terminates(&s.price_factor) {
                            prop_assert_eq!(&shown, &s.price_factor);
                        }
                    }
                }
                (Err(AdjustError::DividendNotBelowClose { ex_date, .. }), Err(want)) => {
                    prop_assert_eq!(ex_date, want);
                }
                (got, want) => prop_assert!(false, "core {:?} but reference {:?}", got, want),
            }
        }
    }
}
