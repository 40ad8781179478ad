-- verify: one symbol's adjusted series over all time, as rows and an md5 of their text;
-- $2: total return (splits and dividends) or splits only; {schema}: pg_weston's (quoted).
-- A row's text is its type's output (record_out), never a cast a user could have made.
SELECT pg_catalog.count(*)::pg_catalog.int8 AS rows,
       coalesce(pg_catalog.md5(pg_catalog.string_agg(r.line, E'\n' ORDER BY r.line)), '') AS checksum
  FROM (SELECT pg_catalog.textin(pg_catalog.record_out(t)) AS line
          FROM {schema}.weston_adjusted_prices($1::pg_catalog.text, '1900-01-01'::pg_catalog.date,
                                               '2100-12-31'::pg_catalog.date, NULL::pg_catalog.date,
                                               $2::pg_catalog.bool) t) r
