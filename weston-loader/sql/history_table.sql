-- Where the loader's migration history (_sqlx_migrations) is, qualified: weston_data since
-- migration 0034, weston since pg_weston 0.4.0, public before; NULL when never migrated.
SELECT CASE WHEN pg_catalog.to_regclass('weston_data._sqlx_migrations') IS NOT NULL THEN 'weston_data._sqlx_migrations'
            WHEN pg_catalog.to_regclass('weston._sqlx_migrations') IS NOT NULL THEN 'weston._sqlx_migrations'
            WHEN pg_catalog.to_regclass('public._sqlx_migrations') IS NOT NULL THEN 'public._sqlx_migrations' END
