-- Each symbol's ticker pieces, computed once for the three parts.
WITH pieces AS MATERIALIZED (SELECT p.symbol, p.traded, p.valid_from, p.valid_to FROM weston_ticker_pieces($1::text[], $3::date) p)
SELECT q.symbol, s.date, true, s.numerator::text, s.denominator::text, NULL::date, NULL::date, NULL, NULL::boolean
  FROM pieces q
  JOIN splits s ON s.symbol = q.traded AND s.date >= q.valid_from AND s.date <= q.valid_to
 WHERE $3::date IS NULL OR s.date <= $3
UNION ALL
SELECT q.symbol, d.ex_date, false, d.amount::text, NULL, NULL, c.close_date, c.close::text, c.answered
  FROM pieces q
  JOIN dividends d ON d.symbol = q.traded AND d.ex_date >= q.valid_from AND d.ex_date <= q.valid_to
  CROSS JOIN LATERAL (SELECT NULL::date AS close_date, NULL::numeric AS close, false AS answered) c
 WHERE $4 AND d.ex_date > coalesce($2::date, '-infinity') AND d.ex_date <= coalesce($3::date, 'infinity')
UNION ALL
SELECT q.symbol, nullif(q.valid_from, '-infinity'), NULL, q.traded, NULL, nullif(q.valid_to, 'infinity'), NULL, NULL, NULL
  FROM pieces q
