-- pg_weston 0.5.0 -> 0.6.0 (each change under a header naming its issue).
\echo Use "ALTER EXTENSION pg_weston UPDATE" to load this file. \quit
