-- The audit's splits of a batch of symbols ($1) with ex-date from $2 to $3.
SELECT symbol, date, numerator, denominator
  FROM splits
 WHERE symbol = ANY($1) AND date BETWEEN $2 AND $3
 ORDER BY symbol, date
