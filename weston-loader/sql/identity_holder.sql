-- What is stored of the security that holds (or last held) ticker $1: from ticker_history
-- when it is tracked, else its securities row. `continued_from`: the first day of its next
-- ticker when it was renamed away; `last_bar`: its last stored bar under $1. An untracked
-- row's listing date after its first bar describes a later holder (a profile describes the
-- latest): not the first day of the holder whose bars are stored.
SELECT h.valid_from AS listed, h.valid_to AS last_day, i.composite_figi, i.cik,
       (SELECT n.valid_from FROM ticker_history n
         WHERE n.security_id = h.security_id AND n.valid_from > h.valid_from
         ORDER BY n.valid_from LIMIT 1) AS continued_from,
       (SELECT max(p.date) FROM prices_daily p WHERE p.symbol = h.symbol AND p.date >= h.valid_from) AS last_bar,
       true AS tracked
  FROM ticker_history h JOIN security_identity i ON i.security_id = h.security_id
 WHERE h.symbol = $1
UNION ALL
SELECT CASE WHEN s.listed_date <= coalesce((SELECT min(p.date) FROM prices_daily p WHERE p.symbol = s.symbol),
                                          s.listed_date) THEN s.listed_date END,
       s.delisted_date, s.composite_figi, s.cik, NULL::date,
       (SELECT max(p.date) FROM prices_daily p WHERE p.symbol = s.symbol), false
  FROM securities s
 WHERE s.symbol = $1 AND NOT EXISTS (SELECT 1 FROM ticker_history n WHERE n.symbol = s.symbol)
 ORDER BY 1 DESC NULLS LAST
 LIMIT 1
