-- Staged splits and dividends a DBA deleted (the delete_split / delete_dividend rows of
-- pg_weston's weston_corrections, its tombstones) are not loaded again: a provider that
-- still sends them is the reason they were deleted. Before pg_weston 0.5.0 there is no
-- trail and nothing to skip (the statements in the IF are planned only when they run).
DO $skip$
BEGIN
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
