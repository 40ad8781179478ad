-- verify: whether $1 (a quoted name from verify_tables.sql, locked by this transaction)
-- is still an ordinary table, so reading it runs no view's query.
SELECT coalesce((SELECT c.relkind OPERATOR(pg_catalog.=) 'r'
                   FROM pg_catalog.pg_class c
                  WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)), false)
