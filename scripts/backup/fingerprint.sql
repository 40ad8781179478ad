-- What a restore must bring back, as deterministic text: run it on the original and on
-- the restored database (psql -X -At -f) and diff. Used by scripts/restore-drill.sh.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SET extra_float_digits = 3;

-- Every table and partition (leaf and parent) of our schemas: rows and a checksum of its rows.
SELECT 'rows', format('%I.%I', n.nspname, c.relname), c.relkind,
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text,
       coalesce((xpath('/row/m/text()', query_to_xml(format(
           'SELECT md5(string_agg(t::text, E''\n'' ORDER BY t::text)) AS m FROM %I.%I t', n.nspname, c.relname), false, true, '')))[1]::text, 'empty')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('weston', 'public', 'app', 'cron') AND c.relkind IN ('r', 'p')
   AND c.relname NOT IN ('job_run_details')  -- pg_cron's run history is not backed-up state
 ORDER BY 2;

-- The partitions and their bounds.
SELECT 'partition', i.inhparent::regclass::text, c.relname, pg_get_expr(c.relpartbound, c.oid)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 ORDER BY 2, 3;

-- Owners and privileges of tables, schemas, the database and the extension's functions.
SELECT 'acl', format('%I.%I', n.nspname, c.relname), pg_get_userbyid(c.relowner), c.relacl::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('weston', 'public', 'app') AND c.relkind IN ('r', 'p', 'S')
 ORDER BY 2;
SELECT 'schema', nspname, pg_get_userbyid(nspowner), nspacl::text FROM pg_namespace
 WHERE nspname IN ('weston', 'public', 'app') ORDER BY 2;
SELECT 'database', pg_get_userbyid(datdba), datacl::text FROM pg_database WHERE datname = current_database();
-- The database's own settings: its default search_path (migration 0009) finds pg_weston's schema.
SELECT 'setting', s.setconfig::text FROM pg_db_role_setting s
 WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.setrole = 0;
SELECT 'function', p.oid::regprocedure::text, p.prosecdef, p.proconfig::text, p.proacl::text
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_weston')
 ORDER BY 2;
SELECT 'role', rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,
       array(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
              WHERE m.member = r.oid ORDER BY 1)::text
  FROM pg_roles r WHERE rolname IN ('dba', 'etl_writer', 'app_rw', 'app_ro') OR rolname LIKE 'drill\_%'
 ORDER BY 2;

-- The extensions, the rotation config and the nightly job.
SELECT 'extension', extname, extversion, extnamespace::regnamespace::text FROM pg_extension ORDER BY 2;
SELECT 'config', parent::text, premake_months, retain_months, retention, archive_schema
  FROM weston_partition_config ORDER BY 2;
SELECT 'cron', jobname, schedule, command, database, username, active FROM cron.job ORDER BY 2;

-- Adjusted prices of every symbol, where the function exists in this build.
SELECT 'adjusted', 'absent' WHERE NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'weston_adjusted_prices');
SELECT format($q$SELECT 'adjusted', count(*), md5(string_agg(t::text, E'\n' ORDER BY t::text))
                  FROM weston_adjusted_prices((SELECT array_agg(symbol ORDER BY symbol) FROM securities),
                                              '1900-01-01', '2100-12-31') t$q$)
 WHERE EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'weston_adjusted_prices')
\gexec
