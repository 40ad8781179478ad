-- pg_weston 0.8.0 -> 0.9.0.
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit
