-- verify: whether pg_weston's market-data schema $1 (quoted) holds securities, an ordinary
-- table whose symbol is text (so reading it needs no cast a user could have made), and its
-- own schema $2 (quoted) weston_adjusted_prices.
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid
                WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1 OPERATOR(pg_catalog.||) '.securities')
                  AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.char[])
                  AND a.attname OPERATOR(pg_catalog.=) 'symbol'
                  AND a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.text'::pg_catalog.regtype)
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                WHERE p.pronamespace OPERATOR(pg_catalog.=) pg_catalog.to_regnamespace($2)
                  AND p.proname OPERATOR(pg_catalog.=) 'weston_adjusted_prices')
