#!/usr/bin/env bash
# Proves that the pg_weston installed in $WESTON_PG_CONFIG's PostgreSQL is the release build,
# not the one `cargo pgrx test` leaves behind: in a scratch database, CREATE EXTENSION works
# (every C function's symbol is found in the library), a function calls into the library,
# and the extension has none of the pgrx test build's objects (its `tests` schema).
# Usage: check-release-install.sh ADMIN_URL (a superuser's URL of any database of a running
# cluster of that PostgreSQL). scripts/test.sh runs it last.
set -euo pipefail
source "$(dirname "$0")/env.sh"
admin=${1:?usage: check-release-install.sh ADMIN_URL}
psql=("$("$WESTON_PG_CONFIG" --bindir)/psql" -X -q -v ON_ERROR_STOP=1 -At)
db=weston_release_check
scratch="${admin%/*}/$db"

"${psql[@]}" "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
test_objects=$("${psql[@]}" "$scratch" <<'SQL'
CREATE EXTENSION pg_weston;
SELECT weston.weston_version() IS NOT NULL AS calls_into_the_library \gset
SELECT string_agg(pg_describe_object(classid, objid, objsubid), ', ')
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_weston')
   AND (   (classid = 'pg_namespace'::regclass AND objid = (SELECT oid FROM pg_namespace WHERE nspname = 'tests'))
        OR (classid = 'pg_proc'::regclass
            AND objid IN (SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                           WHERE n.nspname = 'tests')));
SQL
) || { log "CREATE EXTENSION pg_weston failed in a scratch database: the installed build is broken"; exit 1; }
"${psql[@]}" "$admin" -c "DROP DATABASE $db"
if [ -n "$test_objects" ]; then
    log "the installed pg_weston is a test build (run scripts/setup.sh): $test_objects"
    exit 1
fi
log "the installed pg_weston is the release build ($("$WESTON_PG_CONFIG" --pkglibdir)/pg_weston.so)"
