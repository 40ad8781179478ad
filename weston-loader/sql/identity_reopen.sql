-- Reopens ticker $1's last holding when it was closed on or after the day before $2 (a
-- delisting that was in fact a ticker change effective $2) and the security has no later
-- ticker, so that weston_ticker_changed can record the change.
WITH reopened AS (
    UPDATE ticker_history h
       SET valid_to = NULL, ended_provider = NULL, ended_run_id = NULL
     WHERE h.symbol = $1 AND h.valid_to >= $2::date - 1
       AND NOT EXISTS (SELECT 1 FROM ticker_history l
                        WHERE l.security_id = h.security_id AND l.valid_from > h.valid_from)
       AND NOT EXISTS (SELECT 1 FROM ticker_history n
                        WHERE n.symbol = $1 AND n.valid_from > h.valid_from)
    RETURNING h.symbol)
UPDATE securities s SET delisted_date = NULL, updated_at = now()
  FROM reopened r WHERE s.symbol = r.symbol
