-- Splits ($1: the run): an unchanged split gets no new tuple; mock never replaces real. A DBA's
-- correction (provider manual) is never overwritten.
INSERT INTO splits AS t (symbol, date, numerator, denominator, provider, run_id, updated_at)
SELECT symbol, date, numerator, denominator, provider, $1, now() FROM pg_temp.weston_stage_splits
ON CONFLICT (symbol, date) DO UPDATE
   SET numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,
       provider = EXCLUDED.provider, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
 WHERE (t.numerator, t.denominator, t.provider)
       IS DISTINCT FROM (EXCLUDED.numerator, EXCLUDED.denominator, EXCLUDED.provider)
   AND (EXCLUDED.provider <> 'mock' OR t.provider IS NOT DISTINCT FROM 'mock')
   AND t.provider <> 'manual'
