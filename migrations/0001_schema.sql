-- The market-data schema (docs/REFERENCE.md). Stored bars are raw (as traded); adjustment
-- happens on read. Every constraint is named so a rejected row says which rule it broke.

CREATE EXTENSION IF NOT EXISTS pg_weston;

CREATE TABLE securities (
    symbol        text PRIMARY KEY
                  CONSTRAINT securities_symbol_format CHECK (symbol ~ '^[A-Z0-9][A-Z0-9.\-]{0,19}$'),
    name          text,
    exchange      text,
    sector        text,
    industry      text,
    listed_date   date,
    delisted_date date,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT securities_listing_order
        CHECK (delisted_date IS NULL OR listed_date IS NULL OR listed_date <= delisted_date)
);
COMMENT ON TABLE securities IS 'The security master; the universe is the rows with delisted_date IS NULL.';

CREATE TABLE etl_run (
    run_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name      text NOT NULL CONSTRAINT etl_run_job_name_present CHECK (job_name <> ''),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    -- Refreshed by weston_etl_progress(); weston_etl_reap() abandons runs whose heartbeat is stale.
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    window_start  date,
    window_end    date,
    status        text NOT NULL DEFAULT 'running'
                  CONSTRAINT etl_run_status_known
                  CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned', 'skipped')),
    rows_loaded   bigint NOT NULL DEFAULT 0 CONSTRAINT etl_run_rows_nonnegative CHECK (rows_loaded >= 0),
    error         text,
    -- Per-provider row and HTTP-call counts, written by the loader when the run ends.
    stats         jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT etl_run_window_order CHECK (window_start <= window_end),
    CONSTRAINT etl_run_finished_iff_ended CHECK ((status = 'running') = (finished_at IS NULL)),
    CONSTRAINT etl_run_failure_has_error CHECK (status NOT IN ('failed', 'abandoned') OR error IS NOT NULL)
);
CREATE INDEX etl_run_running_idx ON etl_run (heartbeat_at) WHERE status = 'running';
COMMENT ON TABLE etl_run IS 'One row per loader run: provenance for every stored row (their run_id).';

CREATE TABLE prices_daily (
    symbol     text NOT NULL CONSTRAINT prices_daily_symbol_fkey REFERENCES securities (symbol),
    date       date NOT NULL,
    open       numeric NOT NULL,
    high       numeric NOT NULL,
    low        numeric NOT NULL,
    close      numeric NOT NULL,
    volume     numeric NOT NULL,
    vwap       numeric,
    provider   text NOT NULL,
    adjusted   boolean NOT NULL DEFAULT false,
    run_id     bigint NOT NULL CONSTRAINT prices_daily_run_id_fkey REFERENCES etl_run (run_id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, date),
    CONSTRAINT prices_daily_prices_positive CHECK (open > 0 AND high > 0 AND low > 0 AND close > 0),
    CONSTRAINT prices_daily_high_low_range
        CHECK (low <= high AND open BETWEEN low AND high AND close BETWEEN low AND high),
    CONSTRAINT prices_daily_volume_nonnegative CHECK (volume >= 0),
    CONSTRAINT prices_daily_vwap_positive CHECK (vwap IS NULL OR vwap > 0),
    CONSTRAINT prices_daily_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock')),
    -- Bars are stored as traded; adjusted series are computed on read by weston_adjusted_prices().
    CONSTRAINT prices_daily_stored_raw CHECK (NOT adjusted)
) PARTITION BY RANGE (date);
COMMENT ON TABLE prices_daily IS
    'Raw daily bars, one partition per month (prices_daily_pYYYY_MM) plus prices_daily_default.';

CREATE TABLE prices_daily_default PARTITION OF prices_daily DEFAULT;

CREATE TABLE splits (
    symbol      text NOT NULL CONSTRAINT splits_symbol_fkey REFERENCES securities (symbol),
    date        date NOT NULL,
    numerator   numeric NOT NULL,
    denominator numeric NOT NULL,
    provider    text NOT NULL CONSTRAINT splits_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock')),
    run_id      bigint NOT NULL CONSTRAINT splits_run_id_fkey REFERENCES etl_run (run_id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, date),
    CONSTRAINT splits_ratio_positive CHECK (numerator > 0 AND denominator > 0)
);
COMMENT ON TABLE splits IS
    'Splits by ex-date: numerator-for-denominator (4-for-1 is (4,1), 1-for-8 reverse is (1,8)).';

CREATE TABLE dividends (
    symbol     text NOT NULL CONSTRAINT dividends_symbol_fkey REFERENCES securities (symbol),
    ex_date    date NOT NULL,
    amount     numeric NOT NULL CONSTRAINT dividends_amount_positive CHECK (amount > 0),
    currency   text NOT NULL DEFAULT 'USD' CONSTRAINT dividends_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
    provider   text NOT NULL CONSTRAINT dividends_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock')),
    run_id     bigint NOT NULL CONSTRAINT dividends_run_id_fkey REFERENCES etl_run (run_id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, ex_date)
);
COMMENT ON TABLE dividends IS 'Cash dividends per share as paid on the ex-date (not split-adjusted).';

INSERT INTO weston_partition_config (parent) VALUES ('prices_daily'::regclass);

-- Months from 180 days back to three months ahead, counted in New York trading dates
-- so the session TimeZone does not matter.
SELECT weston_ensure_partitions(
    (now() AT TIME ZONE 'America/New_York')::date - 180,
    ((now() AT TIME ZONE 'America/New_York')::date + interval '3 months')::date,
    'prices_daily'::regclass);
