-- The stored holdings of tickers $1 (security, ticker, dates), read before and after an
-- event in its transaction: an event stored before changes none of them, and is not learned
-- again (the writers are idempotent and say the same either way).
SELECT coalesce(string_agg(concat_ws(' ', h.security_id, h.symbol, h.valid_from, h.valid_to),
                           ', ' ORDER BY h.security_id, h.valid_from, h.symbol), '')
  FROM ticker_history h
 WHERE h.symbol = ANY($1)
