//! The write path: validate what providers returned, then store one batch of symbols in
//! one transaction: COPY into temporary staging tables, then one set-based upsert per
//! table whose `ON CONFLICT ... DO UPDATE ... WHERE` skips rows whose values did not
//! change (no new tuple, `updated_at` kept) and never lets a mock row replace a real one.
//!
//! Validation policy: invalid rows are rejected (each with symbol, date and rule) and the
//! rest of the batch is written; a key that appears twice in one payload rejects every
//! copy, since neither can be trusted. Rejection happens before the transaction, so a
//! batch is always written whole or not at all.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{Connection, PgConnection};

use crate::cli::ProviderName;
use crate::providers::{DailyBar, Dividend, SecurityInfo, Split};

/// Everything fetched for one symbol from the provider that served it.
#[derive(Debug, Clone)]
pub struct SymbolLoad {
    pub provider: ProviderName,
    pub symbol: String,
    /// `None` when the provider has no metadata: the symbol still gets a bare row.
    pub security: Option<SecurityInfo>,
    pub bars: Vec<DailyBar>,
    pub splits: Vec<Split>,
    pub dividends: Vec<Dividend>,
}

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

/// Rows actually written (inserted or changed) per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Written {
    pub securities: u64,
    pub prices_daily: u64,
    pub splits: u64,
    pub dividends: u64,
}

impl Written {
    pub fn total(&self) -> u64 {
        self.securities + self.prices_daily + self.splits + self.dividends
    }

    pub fn add(&mut self, other: Written) {
        self.securities += other.securities;
        self.prices_daily += other.prices_daily;
        self.splits += other.splits;
        self.dividends += other.dividends;
    }
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

/// Keeps the rows that break no rule. `broken` names the first rule a row breaks, given how
/// many rows of `rows` share its date; the others go to `reject` with their date.
fn retain_valid<T>(
    rows: &mut Vec<T>,
    date_of: impl Fn(&T) -> NaiveDate,
    broken: impl Fn(&T, usize) -> Option<(&'static str, String)>,
    reject: &mut impl FnMut(NaiveDate, &'static str, String),
) {
    let mut per_date: HashMap<NaiveDate, usize> = HashMap::new();
    for row in rows.iter() {
        *per_date.entry(date_of(row)).or_default() += 1;
    }
    rows.retain(|row| {
        let date = date_of(row);
        match broken(row, per_date[&date]) {
            Some((rule, detail)) => {
                reject(date, rule, detail);
                false
            }
            None => true,
        }
    });
}

/// Removes invalid rows from `batch` (see the module comment) and returns why each went.
/// `today` is the New York date: anything after it is in the future.
pub fn validate(batch: &mut Vec<SymbolLoad>, today: NaiveDate) -> Vec<Rejection> {
    let mut rejected = Vec::new();
    let mut reject = |symbol: &str, date: Option<NaiveDate>, rule: &'static str, detail: String| {
        rejected.push(Rejection {
            symbol: symbol.to_string(),
            date,
            rule,
            detail,
        });
    };
    batch.retain(|load| {
        let ok = valid_symbol(&load.symbol);
        if !ok {
            reject(
                &load.symbol,
                None,
                "symbol format",
                "expected 1-20 of A-Z 0-9 . - starting with a letter or digit".into(),
            );
        }
        ok
    });
    for load in batch.iter_mut() {
        let symbol = load.symbol.clone();

        let mut reject_dated =
            |date: NaiveDate, rule, detail| reject(&symbol, Some(date), rule, detail);
        retain_valid(
            &mut load.bars,
            |b| b.date,
            |b, same_date| {
                if b.symbol != symbol {
                    Some((
                        "symbol mismatch",
                        format!("bar is for {} in the payload of {symbol}", b.symbol),
                    ))
                } else if same_date > 1 {
                    Some((
                        "duplicate key in payload",
                        format!("{same_date} bars for this date"),
                    ))
                } else if b.date > today {
                    Some((
                        "date in the future",
                        format!("after {today}, today in New York"),
                    ))
                } else if [b.open, b.high, b.low, b.close]
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
            },
            &mut reject_dated,
        );
        retain_valid(
            &mut load.splits,
            |s| s.date,
            |s, same_date| {
                if s.symbol != symbol {
                    Some(("symbol mismatch", format!("split is for {}", s.symbol)))
                } else if same_date > 1 {
                    Some((
                        "duplicate key in payload",
                        format!("{same_date} splits for this ex-date"),
                    ))
                } else if s.date > today {
                    Some((
                        "date in the future",
                        format!("after {today}, today in New York"),
                    ))
                } else if s.numerator <= Decimal::ZERO || s.denominator <= Decimal::ZERO {
                    Some((
                        "split side not positive",
                        format!("{}-for-{}", s.numerator, s.denominator),
                    ))
                } else {
                    None
                }
            },
            &mut reject_dated,
        );
        retain_valid(
            &mut load.dividends,
            |d| d.ex_date,
            |d, same_date| {
                if d.symbol != symbol {
                    Some(("symbol mismatch", format!("dividend is for {}", d.symbol)))
                } else if same_date > 1 {
                    Some((
                        "duplicate key in payload",
                        format!("{same_date} dividends for this ex-date"),
                    ))
                } else if d.ex_date > today {
                    Some((
                        "date in the future",
                        format!("after {today}, today in New York"),
                    ))
                } else if d.amount <= Decimal::ZERO {
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
            },
            &mut reject_dated,
        );

        if let Some(info) = &load.security {
            let bad = if info.symbol != symbol {
                Some((
                    "symbol mismatch",
                    format!("metadata is for {}", info.symbol),
                ))
            } else if matches!((info.listed_date, info.delisted_date), (Some(l), Some(d)) if l > d)
            {
                Some((
                    "listing order",
                    format!(
                        "listed {:?} after delisted {:?}",
                        info.listed_date, info.delisted_date
                    ),
                ))
            } else {
                None
            };
            if let Some((rule, detail)) = bad {
                reject(&symbol, None, rule, format!("{detail}; metadata ignored"));
                load.security = None;
            }
        }
    }
    rejected
}

/// Text-format COPY field: `\N` for NULL, backslash escapes for the rest.
fn field(out: &mut String, value: Option<&str>) {
    match value {
        None => out.push_str("\\N"),
        Some(v) => {
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
}

fn row(out: &mut String, fields: &[Option<&str>]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        field(out, *f);
    }
    out.push('\n');
}

/// Creates this session's staging tables (once per connection). Temporary tables are not
/// WAL-logged and `ON COMMIT DELETE ROWS` empties them with each batch.
pub async fn prepare_staging(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "CREATE TEMP TABLE IF NOT EXISTS weston_stage_bars (symbol text, date date, open numeric, high numeric,
             low numeric, close numeric, volume numeric, vwap numeric, provider text) ON COMMIT DELETE ROWS;
         CREATE TEMP TABLE IF NOT EXISTS weston_stage_splits (symbol text, date date, numerator numeric,
             denominator numeric, provider text) ON COMMIT DELETE ROWS;
         CREATE TEMP TABLE IF NOT EXISTS weston_stage_dividends (symbol text, ex_date date, amount numeric,
             currency text, provider text) ON COMMIT DELETE ROWS;
         CREATE TEMP TABLE IF NOT EXISTS weston_stage_securities (symbol text, known boolean, name text,
             exchange text, sector text, industry text, listed_date date, delisted_date date, provider text)
             ON COMMIT DELETE ROWS;",
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn copy_in(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    data: String,
) -> Result<(), sqlx::Error> {
    if data.is_empty() {
        return Ok(());
    }
    let mut copy = conn
        .copy_in_raw(&format!("COPY pg_temp.{table} ({columns}) FROM STDIN"))
        .await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

// A mock row never replaces a row a real provider wrote (`t` is the stored row).
const NOT_MOCK_OVER_REAL: &str =
    "(EXCLUDED.provider <> 'mock' OR t.provider IS NOT DISTINCT FROM 'mock')";

fn upsert_bars_sql() -> String {
    format!(
        "INSERT INTO prices_daily AS t (symbol, date, open, high, low, close, volume, vwap, provider, run_id, updated_at)
         SELECT symbol, date, open, high, low, close, volume, vwap, provider, $1, now() FROM pg_temp.weston_stage_bars
         ON CONFLICT (symbol, date) DO UPDATE
            SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
                volume = EXCLUDED.volume, vwap = EXCLUDED.vwap, provider = EXCLUDED.provider,
                run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
          WHERE (t.open, t.high, t.low, t.close, t.volume, t.vwap, t.provider)
                IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close,
                                  EXCLUDED.volume, EXCLUDED.vwap, EXCLUDED.provider)
            AND {NOT_MOCK_OVER_REAL}"
    )
}

/// Runs one of the batch's writes (`$1` is the run's id); the rows it wrote.
async fn write_for_run(tx: &mut PgConnection, sql: &str, run_id: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(sql)
        .bind(run_id)
        .execute(tx)
        .await?
        .rows_affected())
}

/// Writes one validated batch in one transaction and counts it with
/// `weston_etl_progress` in that same transaction.
pub async fn write_batch(
    conn: &mut PgConnection,
    run_id: i64,
    batch: &[SymbolLoad],
) -> Result<Written, sqlx::Error> {
    let (mut bars, mut splits, mut dividends, mut known, mut bare) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    // A symbol whose rows came from two providers has two loads but one `securities` row:
    // the metadata if a provider gave it, else a bare row.
    let described: std::collections::HashSet<&str> = batch
        .iter()
        .filter(|l| l.security.is_some())
        .map(|l| l.symbol.as_str())
        .collect();
    let mut bare_done: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for load in batch {
        let provider = load.provider.as_str();
        for b in &load.bars {
            let vwap = b.vwap.map(|v| v.to_string());
            row(
                &mut bars,
                &[
                    Some(&b.symbol),
                    Some(&b.date.to_string()),
                    Some(&b.open.to_string()),
                    Some(&b.high.to_string()),
                    Some(&b.low.to_string()),
                    Some(&b.close.to_string()),
                    Some(&b.volume.to_string()),
                    vwap.as_deref(),
                    Some(provider),
                ],
            );
        }
        for s in &load.splits {
            let _ = writeln!(
                splits,
                "{}\t{}\t{}\t{}\t{}",
                s.symbol, s.date, s.numerator, s.denominator, provider
            );
        }
        for d in &load.dividends {
            let _ = writeln!(
                dividends,
                "{}\t{}\t{}\t{}\t{}",
                d.symbol, d.ex_date, d.amount, d.currency, provider
            );
        }
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string());
        match &load.security {
            Some(info) => {
                let (listed, delisted) = (date(info.listed_date), date(info.delisted_date));
                row(
                    &mut known,
                    &[
                        Some(&load.symbol),
                        Some("t"),
                        info.name.as_deref(),
                        info.exchange.as_deref(),
                        info.sector.as_deref(),
                        info.industry.as_deref(),
                        listed.as_deref(),
                        delisted.as_deref(),
                        Some(provider),
                    ],
                );
            }
            None if described.contains(load.symbol.as_str())
                || !bare_done.insert(load.symbol.as_str()) => {}
            None => row(
                &mut bare,
                &[
                    Some(&load.symbol),
                    Some("f"),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some(provider),
                ],
            ),
        }
    }
    known.push_str(&bare);

    let mut tx = conn.begin().await?;
    copy_in(
        &mut tx,
        "weston_stage_securities",
        "symbol, known, name, exchange, sector, industry, listed_date, delisted_date, provider",
        known,
    )
    .await?;
    copy_in(
        &mut tx,
        "weston_stage_bars",
        "symbol, date, open, high, low, close, volume, vwap, provider",
        bars,
    )
    .await?;
    copy_in(
        &mut tx,
        "weston_stage_splits",
        "symbol, date, numerator, denominator, provider",
        splits,
    )
    .await?;
    copy_in(
        &mut tx,
        "weston_stage_dividends",
        "symbol, ex_date, amount, currency, provider",
        dividends,
    )
    .await?;

    let mut securities = write_for_run(&mut tx, &format!(
        "INSERT INTO securities AS t (symbol, name, exchange, sector, industry, listed_date, delisted_date, provider, run_id, updated_at)
         -- A field the answering provider lacks (Polygon has no sector, FMP no delisting
         -- date) keeps what is stored: a refresh never blanks what another provider said.
         SELECT s.symbol, coalesce(s.name, cur.name), coalesce(s.exchange, cur.exchange),
                coalesce(s.sector, cur.sector), coalesce(s.industry, cur.industry),
                coalesce(s.listed_date, cur.listed_date), coalesce(s.delisted_date, cur.delisted_date),
                s.provider, $1, now()
           FROM pg_temp.weston_stage_securities s
           LEFT JOIN securities cur ON cur.symbol = s.symbol
          WHERE s.known
         ON CONFLICT (symbol) DO UPDATE
            SET name = EXCLUDED.name, exchange = EXCLUDED.exchange, sector = EXCLUDED.sector,
                industry = EXCLUDED.industry, listed_date = EXCLUDED.listed_date,
                delisted_date = EXCLUDED.delisted_date, provider = EXCLUDED.provider,
                run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
          WHERE (t.name, t.exchange, t.sector, t.industry, t.listed_date, t.delisted_date, t.provider)
                IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.exchange, EXCLUDED.sector, EXCLUDED.industry,
                                  EXCLUDED.listed_date, EXCLUDED.delisted_date, EXCLUDED.provider)
            AND {NOT_MOCK_OVER_REAL}"
    ), run_id).await?;
    // Symbols without metadata still need their row (the bars' foreign key).
    securities += write_for_run(
        &mut tx,
        "INSERT INTO securities (symbol, provider, run_id, updated_at)
         SELECT symbol, provider, $1, now() FROM pg_temp.weston_stage_securities WHERE NOT known
         ON CONFLICT (symbol) DO NOTHING",
        run_id,
    )
    .await?;
    let prices_daily = write_for_run(&mut tx, &upsert_bars_sql(), run_id).await?;
    let splits = write_for_run(&mut tx, &format!(
        "INSERT INTO splits AS t (symbol, date, numerator, denominator, provider, run_id, updated_at)
         SELECT symbol, date, numerator, denominator, provider, $1, now() FROM pg_temp.weston_stage_splits
         ON CONFLICT (symbol, date) DO UPDATE
            SET numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,
                provider = EXCLUDED.provider, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
          WHERE (t.numerator, t.denominator, t.provider)
                IS DISTINCT FROM (EXCLUDED.numerator, EXCLUDED.denominator, EXCLUDED.provider)
            AND {NOT_MOCK_OVER_REAL}"
    ), run_id).await?;
    let dividends = write_for_run(&mut tx, &format!(
        "INSERT INTO dividends AS t (symbol, ex_date, amount, currency, provider, run_id, updated_at)
         SELECT symbol, ex_date, amount, currency, provider, $1, now() FROM pg_temp.weston_stage_dividends
         ON CONFLICT (symbol, ex_date) DO UPDATE
            SET amount = EXCLUDED.amount, currency = EXCLUDED.currency,
                provider = EXCLUDED.provider, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
          WHERE (t.amount, t.currency, t.provider)
                IS DISTINCT FROM (EXCLUDED.amount, EXCLUDED.currency, EXCLUDED.provider)
            AND {NOT_MOCK_OVER_REAL}"
    ), run_id).await?;

    let written = Written {
        securities,
        prices_daily,
        splits,
        dividends,
    };
    sqlx::query("SELECT weston_etl_progress($1, $2)")
        .bind(run_id)
        .bind(written.total() as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_escape_tabs_newlines_backslashes() {
        let mut out = String::new();
        row(&mut out, &[Some("a\tb\\c\nd"), None]);
        assert_eq!(out, "a\\tb\\\\c\\nd\t\\N\n");
    }

    #[test]
    fn symbol_rule_matches_the_schema() {
        for ok in ["AAPL", "BRK.B", "MOCK0001", "1X", "A-B"] {
            assert!(valid_symbol(ok), "{ok}");
        }
        for bad in ["", "aapl", ".A", "A B", "ABCDEFGHIJKLMNOPQRSTU"] {
            assert!(!valid_symbol(bad), "{bad}");
        }
    }
}
