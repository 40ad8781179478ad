//! Storage: one validated batch in one transaction. COPY into temporary staging tables,
//! then one set-based upsert per table (`weston-loader/sql/`) whose `ON CONFLICT ... DO
//! UPDATE ... WHERE` skips rows whose values did not change (no new tuple, `updated_at`
//! kept) and never lets a mock row replace a real one; the run's progress is counted in
//! the same transaction.

use sqlx::{Connection, PgConnection};

use crate::model::{Batch, Written};
use crate::provenance;

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

/// Runs one of the batch's writes (`$1` is the run's id); the rows it wrote.
async fn write_for_run(tx: &mut PgConnection, sql: &str, run_id: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(sql)
        .bind(run_id)
        .execute(tx)
        .await?
        .rows_affected())
}

/// Stages every table of `batch` (not yet written).
async fn stage(tx: &mut PgConnection, batch: &Batch) -> Result<(), sqlx::Error> {
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
    let bars = copy_text(&batch.bars, |b| {
        let r = &b.row;
        let prices = [r.open, r.high, r.low, r.close, r.volume].map(|p| text(&p));
        let mut fields = vec![text(&r.symbol), text(&r.date)];
        fields.extend(prices);
        fields.extend([r.vwap.map(|v| v.to_string()), text(&b.provider)]);
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
            "weston_stage_bars",
            "symbol, date, open, high, low, close, volume, vwap, provider",
            bars,
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
        copy_in(tx, table, columns, data).await?;
    }
    // What a DBA deleted stays deleted: the correction trail's tombstones.
    sqlx::raw_sql(include_str!("../sql/skip_deleted_events.sql"))
        .execute(&mut *tx)
        .await?;
    Ok(())
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
    stage(&mut tx, batch).await?;
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
    let prices_daily = write_for_run(
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
