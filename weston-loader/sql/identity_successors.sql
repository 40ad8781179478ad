-- The later tickers of the securities the run's symbols ($1) name, not among them: a
-- security named by an earlier ticker is loaded under its later ones too.
SELECT DISTINCT n.symbol
  FROM ticker_history o
  JOIN ticker_history n ON n.security_id = o.security_id AND n.valid_from > o.valid_from
 WHERE o.symbol = ANY($1) AND n.symbol <> ALL($1)
 ORDER BY n.symbol
