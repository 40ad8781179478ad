-- What the staged splits and dividends do to the stored ones, read in the batch's
-- transaction after its lock and tombstones and before its upserts: `stored` NULL for an
-- event added (no stored event that date), else a stored provider's event that the provider
-- now states with another ratio, amount or currency, which the upsert replaces (a manual row
-- is never replaced; a mock row is no provider's statement, and never replaces a real one).
SELECT 'split' AS kind, s.symbol, s.date,
       t.numerator::text || ':' || t.denominator::text AS stored, t.provider AS stored_by,
       s.numerator::text || ':' || s.denominator::text AS now, s.provider AS now_by
  FROM pg_temp.weston_stage_splits s
  LEFT JOIN splits t ON t.symbol = s.symbol AND t.date = s.date
 WHERE t.symbol IS NULL
    OR ((t.numerator, t.denominator) IS DISTINCT FROM (s.numerator, s.denominator)
        AND t.provider NOT IN ('manual', 'mock') AND s.provider <> 'mock')
UNION ALL
SELECT 'dividend', d.symbol, d.ex_date,
       t.amount::text || ' ' || t.currency, t.provider,
       d.amount::text || ' ' || d.currency, d.provider
  FROM pg_temp.weston_stage_dividends d
  LEFT JOIN dividends t ON t.symbol = d.symbol AND t.ex_date = d.ex_date
 WHERE t.symbol IS NULL
    OR ((t.amount, t.currency) IS DISTINCT FROM (d.amount, d.currency)
        AND t.provider NOT IN ('manual', 'mock') AND d.provider <> 'mock')
ORDER BY 2, 1, 3
