-- The data-quality audit's thresholds are data. One row per rule (or group of rules
-- sharing a threshold) with its parameters; the loader reads the table once per audit, merges
-- the rows' objects into its `Thresholds` (weston-loader/src/quality/mod.rs, where each default
-- is justified) and refuses an unknown key or a key set by two rows. A rule without a row
-- here, or a key missing from a row, takes the loader's default. The dba tunes them with a
-- plain UPDATE; the `note` says why a value is what it is.
CREATE TABLE quality_thresholds (
    rule       text PRIMARY KEY,
    params     jsonb NOT NULL CONSTRAINT quality_thresholds_params_object CHECK (jsonb_typeof(params) = 'object'),
    note       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The loader's defaults, written out so a dba sees what is in force.
INSERT INTO quality_thresholds (rule, params, note) VALUES
    ('unrecorded_split',
     '{"split_ratios": [2, 3, 4, 5, 8, 10, 15, 20, 25, 30, 50, 1.5], "split_tolerance": 0.10,
       "split_volume_share": 0.5, "split_window_days": 5}',
     'Ratios US issuers use (and inverses); 10 % around the ratio as yfinance, so a 30 % daily move is no 2:1 split; '
     'the volume must move the other way by half the split''s move; a recorded split within 5 days explains a jump '
     '(a provider''s ex-date may be a session off). split_without_jump uses the same ratios tolerance.'),
    ('unit_error',
     '{"unit_factor_low": 70, "unit_factor_high": 130, "unit_window": 5}',
     'yfinance''s 100x repair: a close 70..130 times (or 1/130..1/70 of) the median of 5 sessions either side.'),
    ('stale_bars',
     '{"stale_sessions": 3}',
     'One repeated zero-volume bar happens on thin names; three in a row is a feed that stopped.'),
    ('dividend_too_large',
     '{"dividend_max_share": 0.5}',
     'Regular US dividends are a few percent a quarter; above half the price is rare enough to review.'),
    ('dividend_duplicate',
     '{"dividend_duplicate_days": 7}',
     'Monthly and quarterly payers are at least about four weeks apart.'),
    ('provider_disagreement',
     '{"close_max_bps": 25, "close_rounding": 0.01, "volume_max_ratio": 1.2, "volume_rounding": 100}',
     'Reconciliation: FMP rounds highs to the cent where Polygon gives 131.2636 and volumes to the hundred, so one '
     'cent and 100 shares of difference are rounding; beyond that, 25 bp of close or 20 % of volume (providers'' '
     'consolidated volumes differ by a few percent from late trade reports) is a real disagreement.');

-- dba owns the market-data tables (0006); 0018 left quality_findings to the migrating user.
ALTER TABLE quality_thresholds OWNER TO dba;
ALTER TABLE quality_findings OWNER TO dba;
GRANT SELECT ON TABLE quality_thresholds TO etl_writer, app_rw, app_ro;
