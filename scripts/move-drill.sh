#!/usr/bin/env bash
# The move drill (docs/RUNBOOK.md, "Moving to a managed host"): the procedure's commands
# (deploy/move/weston-move) end to end on three throw-away clusters, each started by the
# image's own entrypoint (deploy/docker/entrypoint.sh: initdb with scram-sha-256, its own
# postgres password, weston created and migrated, the loader's login), on loopback TCP with
# passwords. The old one gets the main job's data (the mock market, loaded as the loader's
# etl_writer login), a correction by a dba login, the backend's table in `app` (an app_rw
# login), an analyst, a pg_cron job and settings of its own. Then: every step in order, each
# step refused when out of order; each finding of the first rehearsal checked where it
# broke (F1..F8 in the log); a fallback within the week; the move again; the last dump of
# the frozen old host restored with the procedure's own restore onto a third host.
# Run as root; scripts/test.sh runs it (tier 2m).
set -euo pipefail
source "$(dirname "$0")/env.sh"
bindir=$("$WESTON_PG_CONFIG" --bindir)
drill=${WESTON_MOVE_DRILL_DIR:-/tmp/weston-move-drill}
port=${WESTON_MOVE_DRILL_PORT:-26700}   # old: port, new: port+1, the last dump's host: port+2
started=$(date +%s)
move=$WESTON_ROOT/deploy/move/weston-move
say() { log "move drill [$(( $(date +%s) - started ))s]: $*"; }
fail() { log "MOVE DRILL FAILED: $*"; exit 1; }
as_pg() { runuser -u postgres -- env PATH="$bindir:$PATH" "$@"; }
declare -A pgport=([old]=$port [new]=$((port + 1)) [archive]=$((port + 2)))
secret() { openssl rand -hex 16; }
declare -A pgpw=([old]=$(secret) [new]=$(secret) [archive]=$(secret)) loaderpw=([old]=$(secret) [new]=$(secret) [archive]=$(secret))

stop_all() {
    for data in "$drill"/old/data "$drill"/new/data "$drill"/archive/volume/pgdata; do
        if [ -f "$data/postmaster.pid" ]; then as_pg pg_ctl -D "$data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    done
}
trap stop_all EXIT
stop_all
rm -rf "$drill"
mkdir -p "$drill/dba" "$drill/bin"
chmod 700 "$drill/dba"
# What the image holds, where the postgres user can read it (a clone may be in root's home).
install -m 755 "$WESTON_LOADER_BIN" "$drill/bin/weston-loader"
install -m 755 "$WESTON_ROOT/deploy/docker/entrypoint.sh" "$drill/bin/weston-entrypoint"

# A host as the image's first start makes it: the entrypoint itself, as postgres, its
# secrets in files, listening on loopback only.
entrypoint() { # host, user (postgres or root), PGDATA: the image's entrypoint, in the background
    local c=$1 d=$drill/$1 as=()
    [ "$2" = root ] || as=(runuser -u postgres --)
    "${as[@]}" env -i PATH="$bindir:$drill/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$d/home" \
        PGDATA="$3" WESTON_DB=weston WESTON_ALLOWED_CIDRS=127.0.0.1/32 WESTON_LISTEN_ADDRESSES=127.0.0.1 \
        POSTGRES_PASSWORD_FILE="$d/secrets/postgres" WESTON_LOADER_PASSWORD_FILE="$d/secrets/loader" \
        WESTON_EXPORTER_PASSWORD_FILE="$d/secrets/exporter" WESTON_SNAPSHOT_DIR="$d/home/snapshots" RUST_LOG=warn \
        bash "$drill/bin/weston-entrypoint" -c port="${pgport[$c]}" -c unix_socket_directories="$d/sock" \
        -c fsync=off -c synchronous_commit=off > "$d/server.log" 2>&1 &
}
image_host() { # name [volume]: with "volume", its data directory on a fresh volume (root's, with lost+found)
    local c=$1 d=$drill/$1 status
    mkdir -p "$d/secrets" "$d/home" "$d/sock"
    printf '%s' "${pgpw[$c]}" > "$d/secrets/postgres"
    printf '%s' "${loaderpw[$c]}" > "$d/secrets/loader"
    secret > "$d/secrets/exporter"
    chmod 600 "$d/secrets/"*
    chown -R postgres:postgres "$d"
    if [ "${2:-}" = volume ]; then
        mkdir -p "$d/volume/lost+found" && chmod 755 "$d/volume"   # as a mounted volume is: root's
        # As the image's user on root's volume, and at the volume's root: refused, saying what to do.
        status=0; entrypoint "$c" postgres "$d/volume"; wait $! || status=$?
        [ "$status" = 2 ] && grep -q 'RAILWAY_RUN_UID=0' "$d/server.log" || { cat "$d/server.log" >&2; fail "F8: the entrypoint on root's volume exited $status"; }
        say "F8: the entrypoint as postgres on root's fresh volume refused: $(cut -c1-160 "$d/server.log")"
        status=0; entrypoint "$c" root "$d/volume"; wait $! || status=$?
        [ "$status" = 2 ] && grep -q 'lost+found' "$d/server.log" || { cat "$d/server.log" >&2; fail "F8: the entrypoint at the volume's root exited $status"; }
        say "F8: the entrypoint as root at the volume's root refused: $(cut -c1-160 "$d/server.log")"
        # As root (RAILWAY_RUN_UID=0), PGDATA inside the volume: it hands it to postgres and drops to it.
        entrypoint "$c" root "$d/volume/pgdata"
    else
        entrypoint "$c" postgres "$d/data"
    fi
    for _ in $(seq 1 240); do
        if "$bindir/pg_isready" -q -h 127.0.0.1 -p "${pgport[$c]}"; then break; fi
        sleep 0.5
    done
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "${pgport[$c]}" || { cat "$d/server.log" >&2; fail "the $c host did not start"; }
    if [ "${2:-}" = volume ]; then
        [ "$(stat -c %U "$d/volume/pgdata")" = postgres ] && [ "$(stat -c %U "/proc/$(head -n 1 "$d/volume/pgdata/postmaster.pid")")" = postgres ] \
            || fail "F8: started as root, the data directory or the server is not postgres's"
    fi
}
url() { printf 'postgres://%s@127.0.0.1:%s/weston' "$2" "${pgport[$1]}"; }
# psql as USER with PASSWORD on a host, one command; -At output.
as_user() { # host user password sql
    PGPASSWORD=$3 PGCONNECT_TIMEOUT=10 "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(url "$1" "$2")" -c "$4"
}
su_sql() { as_user "$1" postgres "${pgpw[$1]}" "$2"; }
loader_on() { # host command...: weston-loader as the host's etl_writer login (weston_loader)
    local h=$1; shift
    DATABASE_URL="postgres://weston_loader:${loaderpw[$h]}@127.0.0.1:${pgport[$h]}/weston" RUST_LOG=error \
        WESTON_MOCK_SYMBOLS=${WESTON_MOVE_DRILL_SYMBOLS:-750} "$WESTON_LOADER_BIN" "$@"
}
refused() { # what, SQL, host, user, password: the statement must fail with permission or read-only errors
    local out
    if out=$(as_user "$3" "$4" "$5" "SET default_transaction_read_only = off; $2" 2>&1); then fail "$1 was allowed on the frozen old host"; fi
    grep -qE 'permission denied|must be owner|read-only' <<<"$out" || fail "$1 failed otherwise than refused: $out"
}

# The DBA's side: URLs without passwords, both hosts' passwords in a password file.
export WESTON_MOVE_DIR=$drill/dba/move WESTON_MOVE_PASSFILE=$drill/dba/pgpass WESTON_PG_BINDIR=$bindir
export WESTON_MOVE_FROM=$(url old postgres) WESTON_MOVE_TO=$(url new postgres)
unset PGPASSWORD
for h in old new archive; do echo "127.0.0.1:${pgport[$h]}:*:postgres:${pgpw[$h]}"; done > "$WESTON_MOVE_PASSFILE"
chmod 600 "$WESTON_MOVE_PASSFILE"
outlog=$drill/dba/output.log
step() { # expected status, step args...: runs weston-move, its output to the log and shown
    local want=$1 status=0 out; shift
    out=$("$move" "$@" 2>&1) || status=$?
    printf '$ weston-move %s\n%s\n' "$*" "$out" >> "$outlog"
    [ "$status" = "$want" ] || { printf '%s\n' "$out" >&2; fail "weston-move $* exited $status, not $want"; }
    if [ "$want" = 0 ]; then printf '%s\n' "$out" | sed 's/^/    /' >&2; else say "refused as it must ($status): $(tail -n 1 <<<"$out" | cut -c1-150)"; fi
}

say "the old and the new host, each from the image's entrypoint (scram, its own postgres password)"
image_host old
image_host new
[ "$(su_sql new "SHOW password_encryption")" = scram-sha-256 ] || fail "the new host does not use scram"
su_sql old "SELECT 1" >/dev/null
if as_user new postgres "${pgpw[old]}" "SELECT 1" 2>/dev/null; then fail "the hosts share a postgres password"; fi

say "the old host: the main job's data (loaded as etl_writer), a correction, the backend's table, logins, a job, settings"
WESTON_MOCK_PLANTED_ERRORS=true loader_on old run --provider mock >/dev/null
su_sql old "CREATE ROLE drill_dba LOGIN PASSWORD 'dba-pw' IN ROLE dba;
            CREATE ROLE drill_backend LOGIN PASSWORD 'backend-pw' IN ROLE app_rw;
            CREATE ROLE drill_analyst LOGIN PASSWORD 'analyst-pw' IN ROLE app_ro;
            ALTER ROLE drill_analyst IN DATABASE weston SET work_mem = '64MB';
            ALTER DATABASE weston SET statement_timeout = '15min';
            SELECT cron.schedule_in_database('app_nightly_digest', '30 7 * * *', 'SELECT 1', 'weston');" >/dev/null
split_day=$(su_sql old "SELECT max(date) - 30 FROM prices_daily WHERE symbol = 'MOCK0001'")
as_user old drill_dba dba-pw "SELECT weston_record_split('MOCK0001', '$split_day', 2, 1, 'drill: a 2-for-1 split the provider missed')" >/dev/null
as_user old drill_backend backend-pw "SET ROLE app_rw;
    CREATE TABLE app.watchlist (symbol text PRIMARY KEY, note text, id bigint GENERATED ALWAYS AS IDENTITY);
    INSERT INTO app.watchlist (symbol, note) VALUES ('MOCK0001', 'split'), ('MOCK0002', 'watch');" >/dev/null
say "old: $(su_sql old "SELECT format('%s bars, %s securities, %s corrections, %s findings, %s ticker history rows, %s jobs', (SELECT count(*) FROM prices_daily),
    (SELECT count(*) FROM securities), (SELECT count(*) FROM weston_corrections), (SELECT count(*) FROM quality_findings),
    (SELECT count(*) FROM ticker_history), (SELECT count(*) FROM cron.job))")"

if [ "${WESTON_MOVE_DRILL_SYMBOLS:-750}" -ge 750 ]; then   # the mock's life events and planted errors are in MOCK0100..0704
    [ "$(su_sql old "SELECT (SELECT count(*) FROM quality_findings) > 0 AND (SELECT count(*) FROM ticker_history) > 0")" = t ] \
        || fail "the old host has no findings or no ticker history to carry"
fi

# Hostile objects for the superuser's sessions: views found before pg_weston's tables on the
# database's search_path, calling a function that makes its author a superuser if a
# superuser runs it.
as_user old drill_backend backend-pw "SET ROLE app_rw;
    CREATE FUNCTION app.plant() RETURNS bigint LANGUAGE plpgsql AS \$\$BEGIN
        IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
            EXECUTE 'ALTER ROLE drill_backend SUPERUSER';
        END IF;
        RETURN 0;
    END\$\$;
    CREATE VIEW app._sqlx_migrations AS SELECT app.plant() AS version;
    CREATE VIEW app.weston_corrections AS SELECT app.plant() AS id;
    CREATE VIEW app.securities AS SELECT app.plant() AS symbol;" >/dev/null
planted_ran() { [ "$(su_sql "$1" "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'drill_backend'")" = t ]; }
# Armed: a superuser naming the table unqualified runs it (rolled back here).
[ "$(su_sql old "BEGIN; SELECT max(version) FROM _sqlx_migrations;
                 SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'drill_backend'; ROLLBACK;" | tail -n 1)" = t ] \
    || fail "the planted view does not run its function for a superuser"
! planted_ran old || fail "the plant's check left drill_backend a superuser"

say "a restore that would run a function the backend can replace: plan refuses"
as_user old drill_backend backend-pw "SET ROLE app_rw;
    CREATE TABLE app.guarded (x bigint CHECK (x = app.plant()));
    INSERT INTO app.guarded VALUES (0);" >/dev/null
step 1 plan
grep -q 'the check guarded_x_check of app.guarded calls app.plant(), owned by app_rw' "$outlog" \
    || fail "plan did not name the planted check"
! planted_ran old || fail "the refused plan ran the planted check as a superuser"
as_user old drill_backend backend-pw "SET ROLE app_rw; DROP TABLE app.guarded" >/dev/null

say "F3: credentials from the password file only; out-of-order steps refused"
WESTON_MOVE_FROM="postgres://postgres:${pgpw[old]}@127.0.0.1:${pgport[old]}/weston" step 2 plan
PGPASSWORD=${pgpw[old]} step 2 plan
step 3 freeze
step 3 copy
step 3 unfreeze
step 0 plan
step 3 copy
step 3 verify
step 3 switch

say "F4: a freeze that cannot be complete changes nothing (a write grant with GRANT OPTION planted)"
su_sql old "GRANT INSERT ON app.watchlist TO drill_dba WITH GRANT OPTION" >/dev/null
launcher_before=$(su_sql old "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'")
[ -n "$launcher_before" ] || fail "pg_cron's launcher does not run on the old host"
step 1 freeze
[ "$(as_user old drill_analyst analyst-pw "SHOW default_transaction_read_only")" = off ] || fail "the failed freeze left the database read-only"
[ "$(su_sql old "SELECT count(*) FROM pg_roles WHERE rolname = 'weston_frozen'")" = 0 ] || fail "the failed freeze left weston_frozen"
[ "$(su_sql old "SELECT datconnlimit FROM pg_database WHERE datname = 'weston'")" = -1 ] || fail "the failed freeze left the connection limit"
[ "$(su_sql old "SELECT count(*) FROM cron.job WHERE NOT active")" = 0 ] || fail "the failed freeze paused jobs"
as_user old drill_backend backend-pw "INSERT INTO app.watchlist (symbol, note) VALUES ('MOCK0003', 'after the failed freeze')" >/dev/null
su_sql old "REVOKE INSERT ON app.watchlist FROM drill_dba CASCADE" >/dev/null

say "F4, F5: freeze, then every kind of writer refused, pg_cron's launcher alive (and after a restart), reads served"
# A session opened before, in the middle of a write: the freeze ends it, its write never lands.
PGPASSWORD=backend-pw "$bindir/psql" -X -q -d "$(url old drill_backend)" \
    -c "BEGIN; INSERT INTO app.watchlist (symbol, note) VALUES ('MOCK0009', 'open before the freeze'); SELECT pg_sleep(300); COMMIT;" \
    > "$drill/open-session.log" 2>&1 &
open_session=$!
for _ in $(seq 1 20); do
    [ "$(su_sql old "SELECT count(*) FROM pg_stat_activity WHERE usename = 'drill_backend' AND state = 'active'")" = 1 ] && break
    sleep 0.5
done
step 0 freeze
grep -q 'sessions ended: 1)' "$outlog" || fail "the freeze did not end the session opened before it"
if kill -0 "$open_session" 2>/dev/null; then kill "$open_session"; fail "the session opened before the freeze is still running"; fi
[ "$(su_sql old "SELECT count(*) FROM app.watchlist WHERE symbol = 'MOCK0009'")" = 0 ] || fail "a write begun before the freeze landed"
step 3 freeze
status=0; out=$(loader_on old run --provider mock 2>&1) || status=$?
[ "$status" = 2 ] && grep -q 'read-only' <<<"$out" || fail "the loader on the frozen host exited $status: $out"
status=0; out=$(PGOPTIONS='-c default_transaction_read_only=off' loader_on old run --provider mock 2>&1) || status=$?
[ "$status" = 2 ] || fail "the loader that turns read-only off exited $status on the frozen host: $out"
lpw=${loaderpw[old]}
refused "the loader's insert" "INSERT INTO etl_run (job_name, status) VALUES ('x', 'running')" old weston_loader "$lpw"
refused "partition creation" "SELECT weston_ensure_partitions('2031-01-01', '2031-03-01')" old weston_loader "$lpw"
refused "a dba correction" "SELECT weston_record_split('MOCK0002', '$split_day', 3, 1, 'drill: during the freeze')" old drill_dba dba-pw
refused "a dba's direct write" "UPDATE splits SET numerator = 3" old drill_dba dba-pw
refused "a dba resolving a finding" "UPDATE quality_findings SET resolution = 'x'" old drill_dba dba-pw
refused "the backend's insert" "INSERT INTO app.watchlist (symbol) VALUES ('MOCK0004')" old drill_backend backend-pw
refused "the backend granting itself back" "SET ROLE app_rw; GRANT INSERT ON app.watchlist TO app_rw" old drill_backend backend-pw
refused "the backend's new table" "SET ROLE app_rw; CREATE TABLE app.t (x int)" old drill_backend backend-pw
refused "the backend's DDL" "SET ROLE app_rw; ALTER TABLE app.watchlist ADD COLUMN y int" old drill_backend backend-pw
refused "a new schema" "CREATE SCHEMA drill" old drill_dba dba-pw
[ "$(su_sql old "SELECT count(*) FROM cron.job WHERE database = 'weston' AND active")" = 0 ] || fail "pg_cron jobs still active on the frozen host"
[ "$(su_sql old "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'")" = "$launcher_before" ] \
    || fail "pg_cron's launcher was ended by the freeze"
# A restart in the fallback week: pg_cron's launcher starts again (its own bookkeeping writes).
as_pg pg_ctl -D "$drill/old/data" -l "$drill/old/restarted.log" -w -t 60 restart -m fast >/dev/null
sleep 3
[ -n "$(su_sql old "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'")" ] \
    && grep -q 'pg_cron scheduler started' "$drill/old/restarted.log" \
    && ! grep -q 'pg_cron launcher.*exited with exit code' "$drill/old/restarted.log" \
    || { cat "$drill/old/restarted.log" >&2; fail "after a restart of the frozen host pg_cron's launcher does not run"; }
[ "$(as_user old drill_analyst analyst-pw "SELECT count(*) > 0 FROM prices_daily")" = t ] || fail "analysts cannot read the frozen host"
[ "$(as_user old drill_backend backend-pw "SELECT count(*) FROM app.watchlist")" = 3 ] || fail "the backend cannot read its table on the frozen host"

say "F1, F2: copy onto the host the image made (it keeps its own passwords and its running pg_cron)"
new_launcher=$(su_sql new "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'")
step 0 copy
[ "$(su_sql new "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'")" = "$new_launcher" ] || fail "the copy stopped the new host's pg_cron"
if as_user new postgres "${pgpw[old]}" "SELECT 1" 2>/dev/null; then fail "the copy gave the new host the old host's postgres password"; fi
if as_user new weston_loader "${loaderpw[old]}" "SELECT 1" 2>/dev/null; then fail "the copy gave the new host the old host's loader password"; fi
[ "$(as_user new drill_analyst analyst-pw "SHOW work_mem")" = 64MB ] || fail "the analyst's setting in the database was not carried"
# The first rehearsal's way, which these replace: pg_restore --create onto the image's host
# fails (F1), and the old host's roles dump would set its postgres password there (F2).
if out=$(PGPASSWORD=${pgpw[new]} "$bindir/pg_restore" --create --exit-on-error -d "$(url new postgres | sed 's#/weston$#/postgres#')" \
        "$WESTON_MOVE_DIR/copy/weston.dump" 2>&1); then fail "pg_restore --create onto the image's host did not fail"; fi
grep -q 'already exists' <<<"$out" || fail "pg_restore --create failed otherwise: $out"
grep -q '^ALTER ROLE postgres WITH .* PASSWORD ' "$WESTON_MOVE_DIR/copy/roles.sql" || fail "the roles dump carries no postgres password to leave out"
[ "$(as_user new drill_analyst analyst-pw "SHOW default_transaction_read_only")" = off ] || fail "the copy is read-only by default"

say "F3: verify (both hosts' passwords from the password file)"
step 0 verify
step 3 plan
step 0 switch

say "F8 (loader): the nightly loader on the new host as its etl_writer login"
runs_before=$(su_sql new "SELECT count(*) FROM etl_run")
loader_on new run --provider mock >/dev/null || fail "the loader as weston_loader failed on the new host"
[ "$(su_sql new "SELECT count(*) FROM etl_run")" -gt "$runs_before" ] || fail "the loader's run on the new host recorded nothing"
[ "$(su_sql new "SELECT status FROM etl_run ORDER BY run_id DESC LIMIT 1")" = succeeded ] || fail "the loader's run on the new host did not succeed"
step 3 retire

say "F6: falling back within the week: unfreeze, then the old host is as it was, writable, its jobs run"
step 0 unfreeze
DATABASE_URL=$WESTON_MOVE_FROM PGPASSFILE=$WESTON_MOVE_PASSFILE RUST_LOG=warn "$WESTON_LOADER_BIN" verify --sample-symbols 1000000 \
    --against-saved "$WESTON_MOVE_DIR/fingerprint.json" > "$drill/unfrozen.verify" 2>&1 \
    || { cat "$drill/unfrozen.verify" >&2; fail "the unfrozen old host differs from itself before the freeze"; }
[ "$(as_user old drill_analyst analyst-pw "SHOW default_transaction_read_only")" = off ] || fail "unfreeze left the database read-only"
[ "$(su_sql old "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = 'weston_frozen'")" = 0 ] || fail "unfreeze left the role weston_frozen"
loader_on old run --provider mock >/dev/null || fail "the loader cannot write the unfrozen old host"
as_user old drill_dba dba-pw "SELECT weston_record_split('MOCK0002', '$split_day', 3, 1, 'drill: after the fallback')" >/dev/null
as_user old drill_backend backend-pw "INSERT INTO app.watchlist (symbol, note) VALUES ('MOCK0005', 'after the fallback')" >/dev/null
as_user old weston_loader "$lpw" "SELECT weston_ensure_partitions('2031-01-01', '2031-03-01')" >/dev/null
su_sql old "SELECT cron.schedule_in_database('drill_probe', '* * * * *', 'SELECT 1', 'weston')" >/dev/null
for _ in $(seq 1 75); do
    [ "$(su_sql old "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'drill_probe' AND d.status = 'succeeded'")" -gt 0 ] && break
    sleep 1
done
[ "$(su_sql old "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'drill_probe' AND d.status = 'succeeded'")" -gt 0 ] \
    || fail "a job scheduled after the fallback did not run within 75 s"
su_sql old "SELECT cron.unschedule('drill_probe')" >/dev/null

say "the move again (onto the same new host), to the end"
step 0 plan
step 0 freeze
step 0 copy
step 0 verify
step 0 switch
step 3 retire
say "F7: the last dump of the frozen host"
WESTON_MOVE_FALLBACK_DAYS=0 step 0 retire
# It carries the frozen database's read-only default: a plain pg_restore --create would too.
echo '; nothing but the database' > "$drill/none.list"
"$bindir/pg_restore" --create -L "$drill/none.list" -f - "$WESTON_MOVE_DIR/last/weston.dump" \
    | grep -q "^ALTER DATABASE weston SET default_transaction_read_only TO 'on';" || fail "the last dump has no read-only default to leave out"
step 3 unfreeze

say "F7, F8: the last dump restores with the procedure's own restore, onto a third host from the image, its data on a fresh volume"
image_host archive volume
WESTON_MOVE_TO=$(url archive postgres) step 0 restore "$WESTON_MOVE_DIR/last"
DATABASE_URL=$(url archive postgres) PGPASSFILE=$WESTON_MOVE_PASSFILE RUST_LOG=warn "$WESTON_LOADER_BIN" verify --sample-symbols 1000000 \
    --against-saved "$WESTON_MOVE_DIR/fingerprint.json" > "$drill/archive.verify" 2>&1 \
    || { cat "$drill/archive.verify" >&2; fail "the last dump's restore differs from the old host as it was frozen"; }
[ "$(as_user archive drill_analyst analyst-pw "SHOW default_transaction_read_only")" = off ] || fail "the last dump's restore is read-only"
[ "$(su_sql archive "SELECT count(*) FROM cron.job WHERE database = 'weston' AND NOT active")" = 0 ] || fail "the last dump's restore has paused jobs"

for h in old new archive; do
    ! planted_ran "$h" || fail "a function a database user planted ran as a superuser on the $h host"
done

say "F3: no password in anything the procedure printed"
for h in old new archive; do
    for pw in "${pgpw[$h]}" "${loaderpw[$h]}"; do
        ! grep -qF "$pw" "$outlog" || fail "a password of the $h host is in weston-move's output"
    done
done
summary=$(sed -n 's/^verify: this database matches [^:]*: //p' "$drill/archive.verify")
log "move drill passed in $(( $(date +%s) - started ))s: every step in order, each refused out of order; the last dump's restore matches ($summary)"
stop_all
rm -rf "$drill"
