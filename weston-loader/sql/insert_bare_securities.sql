-- Symbols without metadata still need their row (the bars' foreign key); a stored one is kept.
INSERT INTO securities (symbol, provider, run_id, updated_at)
SELECT symbol, provider, $1, now() FROM pg_temp.weston_stage_securities WHERE NOT known
ON CONFLICT (symbol) DO NOTHING
