-- Rows a DBA wrote through pg_weston's correction functions (weston_record_split,
-- weston_record_dividend, weston_correct_bar) carry provider 'manual' and no run: they were
-- not loaded, and their provenance is their weston_corrections row (who, when, why, the row
-- before). A loaded row still always names its run. The checks are re-created under their
-- names (on every partition of prices_daily with its parent); adding them reads each table once.
ALTER TABLE prices_daily
    DROP CONSTRAINT prices_daily_provider_known,
    ADD CONSTRAINT prices_daily_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock', 'manual')),
    ALTER COLUMN run_id DROP NOT NULL,
    ADD CONSTRAINT prices_daily_run_iff_loaded CHECK ((provider = 'manual') = (run_id IS NULL));
ALTER TABLE splits
    DROP CONSTRAINT splits_provider_known,
    ADD CONSTRAINT splits_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock', 'manual')),
    ALTER COLUMN run_id DROP NOT NULL,
    ADD CONSTRAINT splits_run_iff_loaded CHECK ((provider = 'manual') = (run_id IS NULL));
ALTER TABLE dividends
    DROP CONSTRAINT dividends_provider_known,
    ADD CONSTRAINT dividends_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock', 'manual')),
    ALTER COLUMN run_id DROP NOT NULL,
    ADD CONSTRAINT dividends_run_iff_loaded CHECK ((provider = 'manual') = (run_id IS NULL));
