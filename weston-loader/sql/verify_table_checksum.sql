-- verify: the rows of one table (a quoted name from verify_tables.sql) and a
-- checksum of them that needs neither a sort nor the table in memory: the sum, as exact
-- numerics, of each row's md5 read as two 64-bit integers. A sum does not depend on the
-- order rows are read in and (unlike XOR) does not cancel equal rows out; changing, adding
-- or removing a row changes it. Rows become text under the session's fixed TimeZone,
-- DateStyle and float settings (verify/collect.rs).
SELECT count(*)::bigint AS rows,
       coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text || '/'
       || coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text AS checksum
  FROM (SELECT pg_catalog.md5(t::text) AS h FROM {table} t) AS hashed
