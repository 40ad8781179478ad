-- identity_suspects.sql for a database whose price_last_dates migration is still held back:
-- each symbol's last bar probed in prices_daily.
WITH last AS (
    SELECT s.symbol, (SELECT max(p.date) FROM prices_daily p WHERE p.symbol = s.symbol) AS last_bar
      FROM unnest($1::text[]) AS s(symbol))
SELECT l.symbol
  FROM last l
  LEFT JOIN securities c ON c.symbol = l.symbol
 WHERE c.delisted_date IS NOT NULL
    OR l.last_bar < (SELECT max(n.last_bar) FROM last n)
 ORDER BY l.symbol
