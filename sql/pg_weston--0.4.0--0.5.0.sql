-- pg_weston 0.4.0 -> 0.5.0 (each change under a header naming its issue).
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit
