-- A run can end `partial`: it finished, but some symbols' data could not be had
-- from any provider; its error text says which (weston_etl_finish_partial), its stats list
-- them all. The status list is the contract's.
ALTER TABLE etl_run DROP CONSTRAINT etl_run_status_known;
ALTER TABLE etl_run ADD CONSTRAINT etl_run_status_known
    CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'abandoned', 'skipped'));
ALTER TABLE etl_run ADD CONSTRAINT etl_run_partial_says_what
    CHECK (status <> 'partial' OR error IS NOT NULL);
