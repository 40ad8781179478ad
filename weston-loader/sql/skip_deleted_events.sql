-- Staged splits and dividends a DBA deleted (the delete_split / delete_dividend rows of
-- pg_weston's weston_corrections, its tombstones) are not loaded again: a provider that
-- still sends them is the reason they were deleted. Before pg_weston 0.5.0 there is no
-- trail and nothing to skip (the statements in the IF are planned only when they run).
--
-- First the lock the correction functions take exclusively (pg_weston's sql/corrections.sql;
-- since 0.8.0), held by this batch until it commits: a correction whose transaction is open
-- makes this wait, and the statements below, each with a snapshot taken after the wait, see
-- its tombstone; a correction begun later waits for this batch and applies to what it wrote.
-- Reading the tombstones first and waiting later (on the deleted row, in the upsert) let a
-- deletion committing meanwhile be undone by the INSERT.
DO $skip$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(8603409607084081155);
    IF pg_catalog.to_regclass('weston_corrections') IS NOT NULL THEN
        DELETE FROM pg_temp.weston_stage_splits s
         WHERE EXISTS (SELECT 1 FROM weston_corrections c
                        WHERE c.action = 'delete_split' AND c.symbol = s.symbol AND c.date = s.date);
        DELETE FROM pg_temp.weston_stage_dividends d
         WHERE EXISTS (SELECT 1 FROM weston_corrections c
                        WHERE c.action = 'delete_dividend' AND c.symbol = d.symbol AND c.date = d.ex_date);
    END IF;
END
$skip$
