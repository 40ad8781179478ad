-- The audit's dividends of a batch of symbols ($1) with ex-date from $2 to $3.
SELECT symbol, ex_date, amount, currency
  FROM dividends
 WHERE symbol = ANY($1) AND ex_date BETWEEN $2 AND $3
 ORDER BY symbol, ex_date
