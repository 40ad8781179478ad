SELECT w.i, b.date, b.close::text
  FROM unnest($1::text[], $2::date[]) WITH ORDINALITY w(symbol, ex_date, i)
 CROSS JOIN LATERAL (
       SELECT p.date, p.close FROM prices_daily p
        WHERE p.symbol = w.symbol AND p.date < w.ex_date AND p.date >= w.ex_date - 10
          AND p.date >= $3 AND p.date < $4
        ORDER BY p.date DESC LIMIT 1) b
