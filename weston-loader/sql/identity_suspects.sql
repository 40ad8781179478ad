-- The symbols of a run ($1) worth asking about one by one: those whose row says delisted
-- (or renamed away), and those that stopped receiving bars (their last bar older than the
-- newest bar of the run's symbols). Proportional to the changes, not to the universe; each
-- symbol's last bar is its row of price_last_dates, not a probe of every monthly partition.
WITH last AS (
    SELECT s.symbol, l.last_date AS last_bar
      FROM unnest($1::text[]) AS s(symbol)
      LEFT JOIN price_last_dates l ON l.symbol = s.symbol)
SELECT l.symbol
  FROM last l
  LEFT JOIN securities c ON c.symbol = l.symbol
 WHERE c.delisted_date IS NOT NULL
    OR l.last_bar < (SELECT max(n.last_bar) FROM last n)
 ORDER BY l.symbol
