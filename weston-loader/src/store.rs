//! Storage: one validated batch in one transaction. COPY into temporary staging tables,
//! then one set-based upsert per table (`weston-loader/sql/`) whose `ON CONFLICT ... DO
//! UPDATE ... WHERE` skips rows whose values did not change (no new tuple, `updated_at`
//! kept) and never lets a mock row replace a real one; the run's progress is counted in
//! the same transaction. A backfill's bars dated after their symbol's last stored bar skip
//! the staging and the upsert: nothing stored can conflict with them.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::{Connection, PgConnection};

use crate::model::{Batch, DailyBar, Sourced, Written};
use crate::provenance;

/// A batch with at least this many bars (a backfill's) copies those dated after their
/// symbol's last stored bar straight into prices_daily. A night's batch (a few bars a
/// symbol, most of them re-read) keeps the single upsert: the two statements more would
/// cost it more than they save.
pub const DIRECT_COPY_MIN_BARS: usize = 5_000;

/// Creates this session's staging tables (once per connection).
pub async fn prepare_staging(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(include_str!("../sql/staging.sql"))
        .execute(conn)
        .await?;
    Ok(())
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

/// One staging table's COPY text, a row per item.
fn copy_text<T>(items: &[T], fields: impl Fn(&T) -> Vec<Option<String>>) -> String {
    let mut out = String::new();
    for item in items {
        let values = fields(item);
        let refs: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
        row(&mut out, &refs);
    }
    out
}

/// COPY of `data` into `table`; the rows it wrote.
async fn copy_in(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    data: String,
) -> Result<u64, sqlx::Error> {
    if data.is_empty() {
        return Ok(0);
    }
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
        .await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await
}

/// Runs one of the batch's writes (`$1` is the run's id); the rows it wrote.
async fn write_for_run(tx: &mut PgConnection, sql: &str, run_id: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(sql)
        .bind(run_id)
        .execute(tx)
        .await?
        .rows_affected())
}

/// One bar's COPY fields, the staging table's columns (`run`: prices_daily's run_id too).
fn bar_fields(b: &Sourced<DailyBar>, run: Option<i64>) -> Vec<Option<String>> {
    let r = &b.row;
    let prices = [r.open, r.high, r.low, r.close, r.volume].map(|p| Some(p.to_string()));
    let mut fields = vec![Some(r.symbol.clone()), Some(r.date.to_string())];
    fields.extend(prices);
    fields.extend([r.vwap.map(|v| v.to_string()), Some(b.provider.to_string())]);
    fields.extend(run.map(|id| Some(id.to_string())));
    fields
}

/// The bars of a large batch dated after their symbol's last stored bar (`price_last_dates`,
/// read under the lock corrections take, so a correction committed before is seen): no
/// stored row can conflict with them. A small batch, or a database without
/// `price_last_dates`, has none: every bar goes through the upsert.
async fn fresh_bars<'b>(
    tx: &mut PgConnection,
    bars: &'b [Sourced<DailyBar>],
) -> Result<(Vec<&'b Sourced<DailyBar>>, Vec<&'b Sourced<DailyBar>>), sqlx::Error> {
    if bars.len() < DIRECT_COPY_MIN_BARS
        || !crate::home::has_table(&mut *tx, "price_last_dates").await?
    {
        return Ok((Vec::new(), bars.iter().collect()));
    }
    let mut symbols: Vec<&str> = bars.iter().map(|b| b.row.symbol.as_str()).collect();
    symbols.dedup();
    let last: HashMap<String, NaiveDate> =
        sqlx::query_as("SELECT symbol, last_date FROM price_last_dates WHERE symbol = ANY($1)")
            .bind(&symbols)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    Ok(bars
        .iter()
        .partition(|b| last.get(&b.row.symbol).is_none_or(|l| b.row.date > *l)))
}

/// Stages every table of `batch` (not yet written) and returns the bars to copy straight
/// into prices_daily (`fresh_bars`), which are not staged.
async fn stage<'b>(
    tx: &mut PgConnection,
    batch: &'b Batch,
) -> Result<Vec<&'b Sourced<DailyBar>>, sqlx::Error> {
    let text = |v: &dyn ToString| Some(v.to_string());
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string());
    let mut securities = copy_text(&batch.described, |s| {
        let i = &s.row;
        let (symbol, known, provider) = (text(&i.symbol), text(&"t"), text(&s.provider));
        let (name, exchange) = (i.name.clone(), i.exchange.clone());
        let (sector, industry) = (i.sector.clone(), i.industry.clone());
        let (listed, delisted) = (date(i.listed_date), date(i.delisted_date));
        vec![
            symbol, known, name, exchange, sector, industry, listed, delisted, provider,
        ]
    });
    securities += &copy_text(&batch.undescribed, |s| {
        let mut fields = vec![text(&s.row), text(&"f")];
        fields.extend([None, None, None, None, None, None, text(&s.provider)]);
        fields
    });
    // Splits and dividends: symbol, date, two values, provider.
    let dated = |symbol: &str, date: chrono::NaiveDate, values: [String; 2], provider| {
        let [first, second] = values.map(Some);
        vec![text(&symbol), text(&date), first, second, text(&provider)]
    };
    let splits = copy_text(&batch.splits, |s| {
        let values = [s.row.numerator.to_string(), s.row.denominator.to_string()];
        dated(&s.row.symbol, s.row.date, values, s.provider)
    });
    let dividends = copy_text(&batch.dividends, |d| {
        let values = [d.row.amount.to_string(), d.row.currency.clone()];
        dated(&d.row.symbol, d.row.ex_date, values, d.provider)
    });
    let staged = [
        (
            "weston_stage_securities",
            "symbol, known, name, exchange, sector, industry, listed_date, delisted_date, provider",
            securities,
        ),
        (
            "weston_stage_splits",
            "symbol, date, numerator, denominator, provider",
            splits,
        ),
        (
            "weston_stage_dividends",
            "symbol, ex_date, amount, currency, provider",
            dividends,
        ),
    ];
    for (table, columns, data) in staged {
        copy_in(tx, &format!("pg_temp.{table}"), columns, data).await?;
    }
    // What a DBA deleted stays deleted: the correction trail's tombstones. Its lock is
    // held from here to the commit.
    sqlx::raw_sql(include_str!("../sql/skip_deleted_events.sql"))
        .execute(&mut *tx)
        .await?;
    let (fresh, staged) = fresh_bars(&mut *tx, &batch.bars).await?;
    let data = copy_text(&staged, |b| bar_fields(b, None));
    copy_in(tx, "pg_temp.weston_stage_bars", BAR_COLUMNS, data).await?;
    Ok(fresh)
}

const BAR_COLUMNS: &str = "symbol, date, open, high, low, close, volume, vwap, provider";

/// Copies `fresh` (dated after every stored bar of their symbol) into prices_daily as the
/// upsert would insert them: its checks, foreign keys and statement triggers apply alike.
async fn copy_fresh(
    tx: &mut PgConnection,
    run_id: i64,
    fresh: &[&Sourced<DailyBar>],
) -> Result<u64, sqlx::Error> {
    let data = copy_text(fresh, |b| bar_fields(b, Some(run_id)));
    let columns = format!("{BAR_COLUMNS}, run_id");
    copy_in(tx, "prices_daily", &columns, data).await
}

/// The staged splits' and dividends' upserts: the rows each wrote.
async fn write_events_staged(
    tx: &mut PgConnection,
    run_id: i64,
) -> Result<(u64, u64), sqlx::Error> {
    let splits = write_for_run(tx, include_str!("../sql/upsert_splits.sql"), run_id).await?;
    let dividends = write_for_run(tx, include_str!("../sql/upsert_dividends.sql"), run_id).await?;
    Ok((splits, dividends))
}

/// What writing one staged split or dividend changes (`classify_staged_events.sql`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventChange {
    /// `split` or `dividend`.
    pub kind: String,
    pub symbol: String,
    pub date: chrono::NaiveDate,
    /// The stored value and provider; `None` for an event added.
    pub stored: Option<String>,
    pub stored_by: Option<String>,
    pub now: String,
    pub now_by: String,
}

/// Writes the splits and dividends of `batch` (symbols stored already) in the caller's
/// transaction, under the same lock and tombstones as a batch, and counts them; returns
/// what they added or changed, read before the upserts under that lock.
pub async fn write_events(
    tx: &mut PgConnection,
    run_id: i64,
    batch: &Batch,
) -> Result<(Written, Vec<EventChange>), sqlx::Error> {
    stage(&mut *tx, batch).await?;
    let changes = sqlx::query_as(include_str!("../sql/classify_staged_events.sql"))
        .fetch_all(&mut *tx)
        .await?;
    let (splits, dividends) = write_events_staged(&mut *tx, run_id).await?;
    let written = Written {
        splits,
        dividends,
        ..Written::default()
    };
    provenance::progress(&mut *tx, run_id, written.total()).await?;
    Ok((written, changes))
}

/// Writes one validated batch in one transaction and counts it with
/// `weston_etl_progress` in that same transaction.
pub async fn write_batch(
    conn: &mut PgConnection,
    run_id: i64,
    batch: &Batch,
) -> Result<Written, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let fresh = stage(&mut tx, batch).await?;
    let securities = write_for_run(
        &mut tx,
        include_str!("../sql/upsert_securities.sql"),
        run_id,
    )
    .await?
        + write_for_run(
            &mut tx,
            include_str!("../sql/insert_bare_securities.sql"),
            run_id,
        )
        .await?;
    let prices_daily = copy_fresh(&mut tx, run_id, &fresh).await?
        + write_for_run(
            &mut tx,
            include_str!("../sql/upsert_prices_daily.sql"),
            run_id,
        )
        .await?;
    // After the securities: the events' foreign key.
    let (splits, dividends) = write_events_staged(&mut tx, run_id).await?;
    let written = Written {
        securities,
        prices_daily,
        splits,
        dividends,
    };
    provenance::progress(&mut tx, run_id, written.total()).await?;
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
}
