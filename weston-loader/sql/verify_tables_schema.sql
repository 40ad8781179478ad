-- verify: the schema (quoted) of pg_weston's market-data tables: that of prices_daily as the
-- extension's rotation knows it, else {schema} (quoted): the schema of the extension's
-- tables (weston_data since 0.8.0, the extension's own before). Never a name
-- looked up through a search_path, where a look-alike could stand first.
SELECT coalesce(
         (SELECT pg_catalog.quote_ident(n.nspname)
            FROM {schema}.weston_partition_config c
            JOIN pg_catalog.pg_class cl ON cl.oid OPERATOR(pg_catalog.=) c.parent
            JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) cl.relnamespace
           WHERE cl.relname OPERATOR(pg_catalog.=) 'prices_daily'
           ORDER BY n.nspname LIMIT 1),
         '{schema}')
