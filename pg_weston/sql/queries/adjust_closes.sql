SELECT w.i, b.date, b.close::text
  FROM unnest($1::text[], $2::date[], $3::date[]) WITH ORDINALITY w(traded, after, before, i)
 CROSS JOIN LATERAL (
       SELECT p.date, p.close FROM prices_daily p
        WHERE p.symbol = w.traded AND p.date >= w.after AND p.date < w.before
          AND p.date >= $4 AND p.date < $5
        ORDER BY p.date DESC LIMIT 1) b
