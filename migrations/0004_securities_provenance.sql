-- Security metadata carries its provenance like every other row the loader writes.
-- Nullable: rows added by hand (an operator adding a symbol to the universe) have none.
ALTER TABLE securities
    ADD COLUMN provider text CONSTRAINT securities_provider_known CHECK (provider IN ('fmp', 'polygon', 'mock')),
    ADD COLUMN run_id bigint CONSTRAINT securities_run_id_fkey REFERENCES etl_run (run_id);
