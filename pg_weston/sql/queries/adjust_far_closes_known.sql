SELECT DISTINCT ON (w.i) w.i, b.date, b.close::text
  FROM unnest($1::text[], $2::date[]) WITH ORDINALITY w(symbol, ex_date, i)
 CROSS JOIN LATERAL weston_ticker_pieces(ARRAY[w.symbol], $3::date, $4::timestamptz) q
 CROSS JOIN LATERAL (
       SELECT p.date, p.close
         FROM (SELECT c.symbol, c.date, c.close FROM prices_daily c WHERE c.updated_at <= $4
               UNION ALL
               SELECT h.symbol, h.date, h.close FROM prices_daily_history h
                WHERE h.updated_at <= $4 AND $4 < h.known_to) p
        WHERE p.symbol = q.traded AND p.date < w.ex_date
          AND p.date >= q.valid_from AND p.date <= q.valid_to
        ORDER BY p.date DESC LIMIT 1) b
 ORDER BY w.i, b.date DESC
