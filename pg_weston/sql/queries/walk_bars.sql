SELECT p.date, p.open, p.high, p.low, p.close, p.volume FROM prices_daily p
 WHERE p.symbol = $1 AND p.date >= $2 AND p.date <= $3
 ORDER BY p.date
