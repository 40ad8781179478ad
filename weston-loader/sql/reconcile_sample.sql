-- Reconciliation's sample ($1 securities of the universe, a different draw each night $2):
-- each one's latest stored bar and the provider that supplied it.
WITH sample AS (
    SELECT symbol FROM securities WHERE delisted_date IS NULL
     ORDER BY md5(symbol || $2), symbol
     LIMIT $1
)
SELECT p.symbol, p.date, p.close, p.volume, p.provider
  FROM sample s
 CROSS JOIN LATERAL (SELECT symbol, date, close, volume, provider FROM prices_daily
                      WHERE symbol = s.symbol ORDER BY date DESC LIMIT 1) p
 ORDER BY p.symbol
