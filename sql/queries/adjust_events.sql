SELECT s.symbol, s.date, true, s.numerator::text, s.denominator::text
  FROM unnest($1::text[]) q(symbol)
  JOIN splits s ON s.symbol = q.symbol
 WHERE $3::date IS NULL OR s.date <= $3
UNION ALL
SELECT d.symbol, d.ex_date, false, d.amount::text, NULL
  FROM unnest($1::text[]) q(symbol)
  JOIN dividends d ON d.symbol = q.symbol
 WHERE $4 AND ($2::date IS NULL OR d.ex_date > $2) AND ($3::date IS NULL OR d.ex_date <= $3)
