-- Dividends ($1: the run): an unchanged dividend gets no new tuple; mock never replaces real. A DBA's
-- correction (provider manual) is never overwritten.
INSERT INTO dividends AS t (symbol, ex_date, amount, currency, provider, run_id, updated_at)
SELECT symbol, ex_date, amount, currency, provider, $1, now() FROM pg_temp.weston_stage_dividends
ON CONFLICT (symbol, ex_date) DO UPDATE
   SET amount = EXCLUDED.amount, currency = EXCLUDED.currency,
       provider = EXCLUDED.provider, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
 WHERE (t.amount, t.currency, t.provider)
       IS DISTINCT FROM (EXCLUDED.amount, EXCLUDED.currency, EXCLUDED.provider)
   AND (EXCLUDED.provider <> 'mock' OR t.provider IS NOT DISTINCT FROM 'mock')
   AND t.provider <> 'manual'
