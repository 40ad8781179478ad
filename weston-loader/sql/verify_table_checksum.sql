-- verify: the rows of one table (a quoted name from verify_tables.sql, locked and checked
-- to be a table) and a checksum of them that needs neither a sort nor the table in memory:
-- the sum, as exact numerics, of each row's md5 read as two 64-bit integers. A sum does not
-- depend on the order rows are read in and (unlike XOR) does not cancel equal rows out;
-- changing, adding or removing a row changes it. A row's text is its type's output
-- (record_out, which calls only the columns' output functions), never a cast from the row
-- type that the table's owner could have made; ONLY: inheritance children are tables of
-- their own. Rows become text under the session's fixed TimeZone, DateStyle and float
-- settings (verify/collect.rs).
SELECT pg_catalog.count(*)::pg_catalog.int8 AS rows,
       (coalesce(pg_catalog.sum(('x' OPERATOR(pg_catalog.||) pg_catalog.substr(h, 1, 16))::pg_catalog.bit(64)::pg_catalog.int8::pg_catalog.numeric), 0)::pg_catalog.text
        OPERATOR(pg_catalog.||) '/'
        OPERATOR(pg_catalog.||) coalesce(pg_catalog.sum(('x' OPERATOR(pg_catalog.||) pg_catalog.substr(h, 17, 16))::pg_catalog.bit(64)::pg_catalog.int8::pg_catalog.numeric), 0)::pg_catalog.text) AS checksum
  FROM (SELECT pg_catalog.md5(pg_catalog.textin(pg_catalog.record_out(t))) AS h FROM ONLY {table} t) AS hashed
