-- The audit's bars of a batch of symbols ($1) from $2 to $3. Unordered: the loader sorts
-- each security's bars itself (a sort here spills to disk for a batch of years and takes
-- most of the query's time).
SELECT symbol, date, open, high, low, close, volume, vwap
  FROM prices_daily
 WHERE symbol = ANY($1) AND date BETWEEN $2 AND $3
