-- The securities an on-demand audit looks at: every one, delisted included (its history
-- is audited over the range like any other).
SELECT symbol FROM securities ORDER BY symbol
