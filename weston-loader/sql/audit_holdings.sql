-- The first day of every holder of a batch of tickers ($1), from ticker_history: the audit
-- reads each security's stretch under a ticker apart from another's.
SELECT symbol, valid_from
  FROM ticker_history
 WHERE symbol = ANY($1)
 ORDER BY symbol, valid_from
