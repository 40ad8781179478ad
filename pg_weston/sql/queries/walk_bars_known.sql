SELECT k.date, k.open, k.high, k.low, k.close, k.volume
  FROM weston_prices_daily_known($1, $2, $3, $4) k
 ORDER BY k.date
