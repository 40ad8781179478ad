-- Bars ($1: the run): an unchanged bar gets no new tuple; a mock bar never replaces a real one. A DBA's
-- correction (provider manual) is never overwritten.
INSERT INTO prices_daily AS t (symbol, date, open, high, low, close, volume, vwap, provider, run_id, updated_at)
SELECT symbol, date, open, high, low, close, volume, vwap, provider, $1, now() FROM pg_temp.weston_stage_bars
ON CONFLICT (symbol, date) DO UPDATE
   SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
       volume = EXCLUDED.volume, vwap = EXCLUDED.vwap, provider = EXCLUDED.provider,
       run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
 WHERE (t.open, t.high, t.low, t.close, t.volume, t.vwap, t.provider)
       IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close,
                         EXCLUDED.volume, EXCLUDED.vwap, EXCLUDED.provider)
   AND (EXCLUDED.provider <> 'mock' OR t.provider IS NOT DISTINCT FROM 'mock')
   AND t.provider <> 'manual'
