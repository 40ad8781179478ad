SELECT w.i, b.date, b.close::text
  FROM unnest($1::text[], $2::date[], $3::date[]) WITH ORDINALITY w(traded, after, before, i)
 CROSS JOIN LATERAL (
       SELECT p.date, p.close
         FROM (SELECT c.symbol, c.date, c.close FROM prices_daily c WHERE c.updated_at <= $6
               UNION ALL
               SELECT h.symbol, h.date, h.close FROM prices_daily_history h
                WHERE h.updated_at <= $6 AND $6 < h.known_to) p
        WHERE p.symbol = w.traded AND p.date >= w.after AND p.date < w.before
          AND p.date >= $4 AND p.date < $5
        ORDER BY p.date DESC LIMIT 1) b
