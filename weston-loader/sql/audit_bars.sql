-- The audit's bars of a batch of symbols ($1) from $2 to $3, one security after another.
SELECT symbol, date, open, high, low, close, volume, vwap
  FROM prices_daily
 WHERE symbol = ANY($1) AND date BETWEEN $2 AND $3
 ORDER BY symbol, date
