-- What run $4 changed of a batch of symbols ($1) from $2 to $3: per symbol, the first and
-- last date of a bar, split or dividend it wrote (an unchanged row keeps its earlier run).
-- A run's audit covers these spans, plus the context its rules look at, not the window.
SELECT symbol, min(date), max(date)
  FROM (SELECT symbol, date FROM prices_daily
         WHERE symbol = ANY($1) AND date BETWEEN $2 AND $3 AND run_id = $4
        UNION ALL
        SELECT symbol, date FROM splits
         WHERE symbol = ANY($1) AND date BETWEEN $2 AND $3 AND run_id = $4
        UNION ALL
        SELECT symbol, ex_date FROM dividends
         WHERE symbol = ANY($1) AND ex_date BETWEEN $2 AND $3 AND run_id = $4) AS changed
 GROUP BY symbol
