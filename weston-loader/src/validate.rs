//! The row rules, and their only home: what providers return is checked here, before
//! anything is written. Pure: no I/O.
//!
//! Policy: invalid rows are rejected (each with symbol, date and rule) and the rest of the
//! batch is written; a key that appears twice in one payload rejects every copy, since
//! neither can be trusted; a symbol outside the schema's format loses its whole payload.
//! Rejection happens before the transaction, so a batch is always written whole or not at
//! all.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::model::{Batch, DailyBar, Dividend, Sourced, Split};

/// A row refused before writing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub symbol: String,
    pub date: Option<NaiveDate>,
    pub rule: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.date {
            Some(d) => write!(f, "{} {}: {} ({})", self.symbol, d, self.rule, self.detail),
            None => write!(f, "{}: {} ({})", self.symbol, self.rule, self.detail),
        }
    }
}

/// A `--symbols` list as `run` and `audit` take it: each trimmed and upper-cased, checked
/// against the schema's format, the first of a repeated symbol kept; the error names the
/// bad symbol.
pub fn symbol_list(given: &[String]) -> Result<Vec<String>, String> {
    let mut symbols = Vec::new();
    for s in given {
        let s = s.trim().to_uppercase();
        if !valid_symbol(&s) {
            return Err(format!("--symbols: {s:?} is not a valid symbol"));
        }
        if !symbols.contains(&s) {
            symbols.push(s);
        }
    }
    Ok(symbols)
}

/// The `securities_symbol_format` rule of the schema.
pub fn valid_symbol(symbol: &str) -> bool {
    let b = symbol.as_bytes();
    !b.is_empty()
        && b.len() <= 20
        && (b[0].is_ascii_uppercase() || b[0].is_ascii_digit())
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
}

fn valid_currency(c: &str) -> bool {
    c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())
}

/// A broken rule: its name and what the row held.
type Broken = Option<(&'static str, String)>;

/// Keeps the rows that break no rule. `broken` names the first rule a row breaks, given how
/// many rows share its key (symbol, date); the others become rejections.
fn retain_valid<T>(
    rows: &mut Vec<Sourced<T>>,
    key: impl Fn(&T) -> (&str, NaiveDate),
    broken: impl Fn(&T, usize) -> Broken,
    rejected: &mut Vec<Rejection>,
) {
    let mut per_key: HashMap<(String, NaiveDate), usize> = HashMap::new();
    for r in rows.iter() {
        let (symbol, date) = key(&r.row);
        *per_key.entry((symbol.to_owned(), date)).or_default() += 1;
    }
    rows.retain(|r| {
        let (symbol, date) = key(&r.row);
        match broken(&r.row, per_key[&(symbol.to_owned(), date)]) {
            Some((rule, detail)) => {
                rejected.push(Rejection {
                    symbol: symbol.to_owned(),
                    date: Some(date),
                    rule,
                    detail,
                });
                false
            }
            None => true,
        }
    });
}

/// The rules every dated row shares: one copy per key, nothing after `today`.
fn common(same_key: usize, what: &str, date: NaiveDate, today: NaiveDate) -> Broken {
    if same_key > 1 {
        Some(("duplicate key in payload", format!("{same_key} {what}")))
    } else if date > today {
        Some((
            "date in the future",
            format!("after {today}, today in New York"),
        ))
    } else {
        None
    }
}

fn bar_rule(b: &DailyBar, same_key: usize, today: NaiveDate) -> Broken {
    common(same_key, "bars for this date", b.date, today).or_else(|| {
        if [b.open, b.high, b.low, b.close]
            .iter()
            .any(|p| *p <= Decimal::ZERO)
            || b.vwap.is_some_and(|v| v <= Decimal::ZERO)
        {
            Some((
                "price not positive",
                format!(
                    "open {} high {} low {} close {} vwap {:?}",
                    b.open, b.high, b.low, b.close, b.vwap
                ),
            ))
        } else if b.volume < Decimal::ZERO {
            Some(("negative volume", format!("volume {}", b.volume)))
        } else if b.high < b.low {
            Some(("high below low", format!("high {} < low {}", b.high, b.low)))
        } else if b.open < b.low || b.open > b.high || b.close < b.low || b.close > b.high {
            Some((
                "open or close outside low..high",
                format!(
                    "open {} close {} range {}..{}",
                    b.open, b.close, b.low, b.high
                ),
            ))
        } else {
            None
        }
    })
}

fn split_rule(s: &Split, same_key: usize, today: NaiveDate) -> Broken {
    common(same_key, "splits for this ex-date", s.date, today).or_else(|| {
        (s.numerator <= Decimal::ZERO || s.denominator <= Decimal::ZERO).then(|| {
            (
                "split side not positive",
                format!("{}-for-{}", s.numerator, s.denominator),
            )
        })
    })
}

fn dividend_rule(d: &Dividend, same_key: usize, today: NaiveDate) -> Broken {
    common(same_key, "dividends for this ex-date", d.ex_date, today).or_else(|| {
        if d.amount <= Decimal::ZERO {
            Some((
                "dividend amount not positive",
                format!("amount {}", d.amount),
            ))
        } else if !valid_currency(&d.currency) {
            Some((
                "currency format",
                format!("{:?} is not a three-letter ISO 4217 code", d.currency),
            ))
        } else {
            None
        }
    })
}

/// Removes invalid rows from `batch` (see the module comment) and returns why each went.
/// `today` is the New York date: anything after it is in the future.
pub fn validate(batch: &mut Batch, today: NaiveDate) -> Vec<Rejection> {
    let mut rejected = Vec::new();

    let bad_symbols: BTreeSet<String> = (batch.described.iter().map(|s| &s.row.symbol))
        .chain(batch.undescribed.iter().map(|s| &s.row))
        .chain(batch.bars.iter().map(|b| &b.row.symbol))
        .chain(batch.splits.iter().map(|s| &s.row.symbol))
        .chain(batch.dividends.iter().map(|d| &d.row.symbol))
        .filter(|s| !valid_symbol(s))
        .cloned()
        .collect();
    for symbol in &bad_symbols {
        rejected.push(Rejection {
            symbol: symbol.clone(),
            date: None,
            rule: "symbol format",
            detail: "expected 1-20 of A-Z 0-9 . - starting with a letter or digit".into(),
        });
    }
    let good = |symbol: &String| !bad_symbols.contains(symbol);
    batch.described.retain(|s| good(&s.row.symbol));
    batch.undescribed.retain(|s| good(&s.row));
    batch.bars.retain(|b| good(&b.row.symbol));
    batch.splits.retain(|s| good(&s.row.symbol));
    batch.dividends.retain(|d| good(&d.row.symbol));

    retain_valid(
        &mut batch.bars,
        |b| (&b.symbol, b.date),
        |b, n| bar_rule(b, n, today),
        &mut rejected,
    );
    retain_valid(
        &mut batch.splits,
        |s| (&s.symbol, s.date),
        |s, n| split_rule(s, n, today),
        &mut rejected,
    );
    retain_valid(
        &mut batch.dividends,
        |d| (&d.symbol, d.ex_date),
        |d, n| dividend_rule(d, n, today),
        &mut rejected,
    );

    // Metadata listed after its delisting is ignored; the symbol keeps a bare row.
    let (kept, ignored): (Vec<_>, Vec<_>) =
        std::mem::take(&mut batch.described).into_iter().partition(
            |s| !matches!((s.row.listed_date, s.row.delisted_date), (Some(l), Some(d)) if l > d),
        );
    batch.described = kept;
    for s in ignored {
        rejected.push(Rejection {
            symbol: s.row.symbol.clone(),
            date: None,
            rule: "listing order",
            detail: format!(
                "listed {:?} after delisted {:?}; metadata ignored",
                s.row.listed_date, s.row.delisted_date
            ),
        });
        batch.undescribed.push(Sourced {
            provider: s.provider,
            row: s.row.symbol,
        });
    }
    rejected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_rule_matches_the_schema() {
        for ok in ["AAPL", "BRK.B", "MOCK0001", "1X", "A-B"] {
            assert!(valid_symbol(ok), "{ok}");
        }
        for bad in ["", "aapl", ".A", "A B", "ABCDEFGHIJKLMNOPQRSTU"] {
            assert!(!valid_symbol(bad), "{bad}");
        }
    }

    #[test]
    fn a_symbol_list_is_cleaned_once_and_names_a_bad_symbol() {
        let given = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            symbol_list(&given(&[" aapl", "BRK.B ", "AAPL", "msft"])).unwrap(),
            ["AAPL", "BRK.B", "MSFT"]
        );
        let e = symbol_list(&given(&["AAPL", "A B"])).unwrap_err();
        assert!(e.contains("\"A B\" is not a valid symbol"), "{e}");
        assert!(symbol_list(&[]).unwrap().is_empty());
    }
}
