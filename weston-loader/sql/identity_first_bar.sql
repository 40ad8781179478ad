-- The first stored bar of ticker $1 traded by its holder before $2 (the latest holding
-- starting before it; with none recorded, the ticker's first bar): a change of $1 effective
-- $2 on or before it would leave every such bar under no ticker.
SELECT min(p.date)
  FROM prices_daily p
 WHERE p.symbol = $1
   AND p.date >= coalesce((SELECT max(h.valid_from) FROM ticker_history h
                            WHERE h.symbol = $1 AND h.valid_from < $2), '-infinity')
