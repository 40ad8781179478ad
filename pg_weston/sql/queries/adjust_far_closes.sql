SELECT DISTINCT ON (w.i) w.i, b.date, b.close::text
  FROM unnest($1::text[], $2::date[]) WITH ORDINALITY w(symbol, ex_date, i)
 CROSS JOIN LATERAL weston_ticker_pieces(ARRAY[w.symbol], $3::date) q
 CROSS JOIN LATERAL (
       SELECT p.date, p.close FROM prices_daily p
        WHERE p.symbol = q.traded AND p.date < w.ex_date
          AND p.date >= q.valid_from AND p.date <= q.valid_to
        ORDER BY p.date DESC LIMIT 1) b
 ORDER BY w.i, b.date DESC
