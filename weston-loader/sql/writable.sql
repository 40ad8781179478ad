-- Whether this database takes writes: a standby, a database set read-only (the fallback
-- week after a move: ALTER DATABASE ... SET default_transaction_read_only = on), or a role
-- whose write grants on the market data were revoked. prices_daily is resolved through
-- the database's default search_path (NULL before the first migration).
SELECT pg_catalog.pg_is_in_recovery() AS in_recovery,
       pg_catalog.current_setting('default_transaction_read_only')::boolean AS read_only_default,
       pg_catalog.current_setting('transaction_read_only')::boolean AS read_only_now,
       CASE WHEN pg_catalog.to_regclass('prices_daily') IS NULL THEN NULL
            ELSE pg_catalog.has_table_privilege(pg_catalog.to_regclass('prices_daily'), 'INSERT')
                 AND pg_catalog.has_table_privilege(pg_catalog.to_regclass('etl_run'), 'INSERT')
       END AS may_write_market_data
