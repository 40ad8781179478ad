-- What this database's extension and migrations provide, asked once (provides.rs): a
-- database whose extension is older than the loader holds later migrations back until the
-- DBA updates it, and the loader keeps working there without what they add.
SELECT pg_catalog.to_regclass('ticker_history') IS NOT NULL AS ticker_history,
       pg_catalog.to_regclass('quality_findings') IS NOT NULL AS quality_findings,
       pg_catalog.to_regclass('quality_thresholds') IS NOT NULL AS quality_thresholds,
       pg_catalog.to_regclass('price_last_dates') IS NOT NULL AS price_last_dates,
       EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                WHERE attrelid = pg_catalog.to_regclass('securities')
                  AND attname = 'bars_asked_through' AND NOT attisdropped) AS bars_asked_through,
       pg_catalog.to_regprocedure('weston_etl_set_stats(bigint,jsonb)') IS NOT NULL AS etl_set_stats,
       pg_catalog.to_regprocedure('weston_etl_finish_partial(bigint,text)') IS NOT NULL
           AS etl_finish_partial,
       pg_catalog.to_regprocedure('weston_partition_health(regclass)') IS NOT NULL
           AS partition_health
