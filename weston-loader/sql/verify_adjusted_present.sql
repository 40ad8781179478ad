-- verify: whether pg_weston's schema $1 (quoted) holds securities and weston_adjusted_prices.
SELECT pg_catalog.to_regclass($1 OPERATOR(pg_catalog.||) '.securities') IS NOT NULL
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                WHERE p.pronamespace OPERATOR(pg_catalog.=) pg_catalog.to_regnamespace($1)
                  AND p.proname OPERATOR(pg_catalog.=) 'weston_adjusted_prices')
