-- Described symbols ($1: the run). A field the answering provider lacks (Polygon has no
-- sector, FMP no delisting date) keeps what is stored: a refresh never blanks what another
-- provider said. An unchanged row gets no new tuple; a mock row never replaces a real one.
-- A profile describes a ticker's latest holder: listed after the stored delisting, it is a
-- later holder, so its own delisting (none yet) replaces the stored one: the row never says
-- listed after delisted (securities_listing_order).
INSERT INTO securities AS t (symbol, name, exchange, sector, industry, listed_date, delisted_date, provider, run_id, updated_at)
SELECT s.symbol, coalesce(s.name, cur.name), coalesce(s.exchange, cur.exchange),
       coalesce(s.sector, cur.sector), coalesce(s.industry, cur.industry),
       coalesce(s.listed_date, cur.listed_date),
       CASE WHEN s.listed_date > cur.delisted_date THEN s.delisted_date
            ELSE coalesce(s.delisted_date, cur.delisted_date) END,
       s.provider, $1, now()
  FROM pg_temp.weston_stage_securities s
  LEFT JOIN securities cur ON cur.symbol = s.symbol
 WHERE s.known
ON CONFLICT (symbol) DO UPDATE
   SET name = EXCLUDED.name, exchange = EXCLUDED.exchange, sector = EXCLUDED.sector,
       industry = EXCLUDED.industry, listed_date = EXCLUDED.listed_date,
       delisted_date = EXCLUDED.delisted_date, provider = EXCLUDED.provider,
       run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
 WHERE (t.name, t.exchange, t.sector, t.industry, t.listed_date, t.delisted_date, t.provider)
       IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.exchange, EXCLUDED.sector, EXCLUDED.industry,
                         EXCLUDED.listed_date, EXCLUDED.delisted_date, EXCLUDED.provider)
   AND (EXCLUDED.provider <> 'mock' OR t.provider IS NOT DISTINCT FROM 'mock')
