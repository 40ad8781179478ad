-- verify: a deterministic sample of symbols (the same on both sides when the securities
-- match), from pg_weston's own securities (in {tables}, quoted), never a look-alike earlier on
-- a search_path.
SELECT s.symbol FROM {tables}.securities s
 ORDER BY pg_catalog.md5(s.symbol), s.symbol LIMIT $1
