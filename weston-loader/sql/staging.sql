-- This session's staging tables (created once per connection). Temporary tables are not
-- WAL-logged, and ON COMMIT DELETE ROWS empties them with each batch.
CREATE TEMP TABLE IF NOT EXISTS weston_stage_bars (symbol text, date date, open numeric, high numeric,
    low numeric, close numeric, volume numeric, vwap numeric, provider text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS weston_stage_splits (symbol text, date date, numerator numeric,
    denominator numeric, provider text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS weston_stage_dividends (symbol text, ex_date date, amount numeric,
    currency text, provider text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS weston_stage_securities (symbol text, known boolean, name text,
    exchange text, sector text, industry text, listed_date date, delisted_date date, provider text)
    ON COMMIT DELETE ROWS;
