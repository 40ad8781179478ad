-- pg_weston 0.1.0 -> 0.2.0: PUBLIC no longer has EXECUTE on the functions that make tables
-- or write data (privileges.sql says why); weston_adjusted_prices(text[], ...) returns bars
-- whose factor is 1 as stored, without multiplying them.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit

-- Revoked only where PUBLIC still has it. A GRANT or REVOKE in an extension script records
-- the function's whole ACL in pg_init_privs as the extension's own, and pg_dump writes only
-- the grants beyond those: in a database whose roles migration already revoked PUBLIC and
-- granted dba and etl_writer, an unconditional REVOKE here would make the next dump
-- silently leave out those grants (tests/tests/upgrade.rs checks it).
DO $revoke$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        '@extschema@.weston_create_partition(date, regclass)',
        '@extschema@.weston_ensure_partitions(date, date, regclass)',
        '@extschema@.weston_rotate_partitions()',
        '@extschema@.weston_etl_begin(text, date, date)',
        '@extschema@.weston_etl_progress(bigint, bigint)',
        '@extschema@.weston_etl_finish(bigint)',
        '@extschema@.weston_etl_fail(bigint, text)',
        '@extschema@.weston_etl_reap(interval)'
    ]::pg_catalog.regprocedure[] LOOP
        IF pg_catalog.has_function_privilege('public', fn, 'EXECUTE') THEN
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
        END IF;
    END LOOP;
END
$revoke$;

-- CREATE OR REPLACE keeps the function's privileges, comment and membership.
CREATE OR REPLACE FUNCTION @extschema@.weston_adjusted_prices(
    symbols text[], from_date date, to_date date,
    as_of date DEFAULT NULL, total_return boolean DEFAULT false)
RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
              volume numeric, price_factor numeric, volume_factor numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    -- Most bars take a factor of 1 (no event after them): they are returned as stored,
    -- without five numeric multiplications that would change nothing.
    SELECT b.symbol, b.date,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.open ELSE b.open OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.high ELSE b.high OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.low ELSE b.low OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.pf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.close ELSE b.close OPERATOR(pg_catalog.*) b.pf END,
           CASE WHEN b.vf OPERATOR(pg_catalog.=) 1::pg_catalog.numeric THEN b.volume ELSE b.volume OPERATOR(pg_catalog.*) b.vf END,
           b.pf, b.vf
      FROM (SELECT p.symbol, p.date, p.open, p.high, p.low, p.close, p.volume,
                   coalesce(s.price_factors[pg_catalog.width_bucket(p.date, s.bounds) OPERATOR(pg_catalog.+) 1],
                            1::pg_catalog.numeric) AS pf,
                   coalesce(s.volume_factors[pg_catalog.width_bucket(p.date, s.bounds) OPERATOR(pg_catalog.+) 1],
                            1::pg_catalog.numeric) AS vf
              FROM @extschema@.prices_daily p
              LEFT JOIN @extschema@.weston_adjustment_segments(symbols, from_date, as_of, total_return) s
                ON s.symbol OPERATOR(pg_catalog.=) p.symbol
             WHERE @extschema@.weston_check_adjusted_arguments(symbols, from_date, to_date, total_return)
               AND p.symbol OPERATOR(pg_catalog.=) ANY (symbols)
               AND p.date OPERATOR(pg_catalog.>=) from_date AND p.date OPERATOR(pg_catalog.<=) to_date
             ORDER BY p.symbol, p.date
            OFFSET 0) b -- not flattened: each factor is looked up once per bar, not per column
     ORDER BY b.symbol, b.date
$fn$;
