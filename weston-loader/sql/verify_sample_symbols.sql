-- verify: a deterministic sample of symbols (the same on both sides when the securities
-- match), resolved through the database's default search_path as the contract promises.
SELECT s.symbol FROM securities s ORDER BY pg_catalog.md5(s.symbol), s.symbol LIMIT $1
