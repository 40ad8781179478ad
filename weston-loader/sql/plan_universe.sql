-- The stored tickers, each with its delisting, its last bar (its row of price_last_dates,
-- not a probe of every monthly partition) and the session a run asked for through.
SELECT s.symbol, s.delisted_date, l.last_date AS last_bar, s.bars_asked_through AS asked_through
  FROM securities s
  LEFT JOIN price_last_dates l ON l.symbol = s.symbol
 ORDER BY s.symbol
