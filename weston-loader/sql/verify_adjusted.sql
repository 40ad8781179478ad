-- verify: one symbol's adjusted series over all time, as rows and an md5 of their text;
-- $2: total return (splits and dividends) or splits only.
SELECT count(*)::bigint AS rows,
       coalesce(pg_catalog.md5(pg_catalog.string_agg(t::text, E'\n' ORDER BY t::text)), '') AS checksum
  FROM weston_adjusted_prices($1::text, '1900-01-01'::date, '2100-12-31'::date, NULL::date, $2::boolean) t
