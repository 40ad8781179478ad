-- Starts the dated history of ticker $1 (not yet in ticker_history) with its current holder,
-- before recording an event of it: from the first day known ($2: a provider's; else the
-- stored listing date or first bar), at most $3 (when the event needs it held), and never
-- after the run's window start $4 (bars of the window must belong to it). A stored listing
-- date after the first bar or after $3 describes a later holder (a profile describes the
-- ticker's latest one): it is not this holder's first day.
SELECT weston_ticker_listed(
         $1,
         least(coalesce($2,
                        CASE WHEN s.listed_date <= least(coalesce(b.first_bar, $4), $4, coalesce($3, $4))
                             THEN s.listed_date END,
                        b.first_bar, $4), $3, $4),
         $5, $6, s.composite_figi, s.share_class_figi, s.cik)
  FROM (SELECT $1::text AS symbol) q
  LEFT JOIN securities s ON s.symbol = q.symbol
  CROSS JOIN LATERAL (SELECT min(p.date) AS first_bar FROM prices_daily p WHERE p.symbol = $1) b
 WHERE NOT EXISTS (SELECT 1 FROM ticker_history h WHERE h.symbol = $1)
