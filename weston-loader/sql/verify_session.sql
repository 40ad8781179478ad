-- verify: one snapshot of the database, and no write (defence in depth: its reads run no
-- code a database user can define). Views and foreign tables are refused outright where
-- the server knows restrict_nonsystem_relation_kind (15.8 and later), as pg_dump does.
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT pg_catalog.set_config('restrict_nonsystem_relation_kind', 'view, foreign-table', true)
  FROM pg_catalog.pg_settings s
 WHERE s.name OPERATOR(pg_catalog.=) 'restrict_nonsystem_relation_kind';
