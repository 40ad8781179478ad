#!/usr/bin/env bash
# The restore drill (docs/RUNBOOK.md, "Monthly restore drill"), end to end on throw-away
# clusters: load data into a migrated database; back it up both ways (pgBackRest full
# backup + WAL archive, and the nightly pg_dump); restore each into a fresh cluster
# (pg_restore; pgBackRest point-in-time recovery to a named restore point); prove with
# scripts/backup/fingerprint.sql that every row (checksum per table and per partition),
# the partitions, privileges, roles, the extension, its config, the pg_cron job and the
# adjusted prices came back, and that the point-in-time restore stopped at its target.
# The clusters listen on Unix sockets only (no TCP port). Run as root; scripts/test.sh runs it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
bindir=$("$WESTON_PG_CONFIG" --bindir)
drill=${WESTON_DRILL_DIR:-$(dirname "$(dirname "$WESTON_PGDATA")")/restore-drill}
started=$(date +%s)
as_pg() { runuser -u postgres -- env PATH="$bindir:$PATH" "$@"; }
psql_at() { local sock=$1; shift; as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$drill/sock-$sock" "$@"; }
sql() { local sock=$1; shift; psql_at "$sock" -d weston -At -c "$1"; }
fail() { log "RESTORE DRILL FAILED: $*"; exit 1; }

clusters=(source logical pitr)
stop_all() {
    for c in "${clusters[@]}"; do
        if [ -f "$drill/$c/data/postmaster.pid" ]; then as_pg pg_ctl -D "$drill/$c/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    done
}
trap stop_all EXIT

start_cluster() { # name [extra postgres options]
    local name=$1
    mkdir -p "$drill/sock-$name" && chown postgres:postgres "$drill/sock-$name"
    as_pg pg_ctl -D "$drill/$name/data" -l "$drill/$name/server.log" -w -t 120 \
        -o "-c unix_socket_directories=$drill/sock-$name -c listen_addresses=''" start >/dev/null \
        || { cat "$drill/$name/server.log" >&2; fail "cluster $name did not start"; }
}

init_cluster() { # name [extra postgresql.conf lines]
    local name=$1
    mkdir -p "$drill/$name"
    chown -R postgres:postgres "$drill/$name"
    as_pg initdb -D "$drill/$name/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$drill/$name/data/postgresql.conf" <<CONF
shared_preload_libraries = 'pg_cron'
cron.database_name = 'weston'
cron.use_background_workers = on
max_worker_processes = 16
fsync = off
${2:-}
CONF
    start_cluster "$name"
}

stop_all
rm -rf "$drill"
mkdir -p "$drill"/{dumps,metrics,pgbackrest/{lock,log,spool},repo}
chown -R postgres:postgres "$drill"

# pgBackRest: the deployable configuration with the repository on local disk instead of S3
# (and no client-side encryption, which needs the secret).
sed -e 's/^repo1-type=s3/repo1-type=posix/' -e '/^repo1-s3-/d' -e '/^repo1-cipher-/d' \
    -e "s|^repo1-path=.*|repo1-path=$drill/repo|" -e "s|^spool-path=.*|spool-path=$drill/pgbackrest/spool|" \
    -e "s|^pg1-path=.*|pg1-path=$drill/source/data|" -e "s|^pg1-socket-path=.*|pg1-socket-path=$drill/sock-source|" \
    -e '/^log-level-file=/d' \
    "$WESTON_ROOT/deploy/pgbackrest/pgbackrest.conf" > "$drill/pgbackrest.conf"
printf 'lock-path=%s\nlog-path=%s\n' "$drill/pgbackrest/lock" "$drill/pgbackrest/log" \
    | sed -i '/^\[global\]/r /dev/stdin' "$drill/pgbackrest.conf"
chown postgres:postgres "$drill/pgbackrest.conf"
pgbackrest=(pgbackrest --config="$drill/pgbackrest.conf" --stanza=weston)

log "restore drill: source cluster with WAL archiving to pgBackRest ($drill)"
init_cluster source "$(sed "s|archive_command = 'pgbackrest |archive_command = 'pgbackrest --config=$drill/pgbackrest.conf |" \
    "$WESTON_ROOT/deploy/pgbackrest/postgresql-archiving.conf")"
as_pg createdb -h "$drill/sock-source" weston
DATABASE_URL="postgres://postgres@localhost/weston?host=$drill/sock-source" "$WESTON_LOADER_BIN" migrate >/dev/null

# Two batches: the first goes into the full backup, the second only into the WAL (and the
# dump), so the point-in-time restore must replay archived WAL to get it back.
load_batch() { # first day (days ago), last day (days ago), run label
    sql source "
        INSERT INTO etl_run (job_name, status, finished_at, rows_loaded) VALUES ('drill-$3', 'succeeded', now(), 0);
        INSERT INTO securities (symbol, name, exchange)
        SELECT 'S' || lpad(i::text, 3, '0'), 'Security ' || i, 'XNAS' FROM generate_series(1, 20) i
        ON CONFLICT (symbol) DO NOTHING;
        SELECT weston_ensure_partitions((now() AT TIME ZONE 'America/New_York')::date - $1,
                                        (now() AT TIME ZONE 'America/New_York')::date - $2);
        INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, vwap, provider, run_id)
        SELECT s.symbol, d::date, 100 + i, 101.5 + i, 99 + i, 100 + i + round(extract(doy FROM d) / 400, 4), 1000 * i, NULL, 'mock',
               (SELECT max(run_id) FROM etl_run)
          FROM generate_series(1, 20) i
          CROSS JOIN LATERAL (SELECT 'S' || lpad(i::text, 3, '0') AS symbol) s
          CROSS JOIN generate_series((now() AT TIME ZONE 'America/New_York')::date - $1,
                                     (now() AT TIME ZONE 'America/New_York')::date - $2, interval '1 day') d
         WHERE extract(isodow FROM d) < 6;" >/dev/null
}
load_batch 400 60 1
sql source "
    INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id)
    VALUES ('S001', (now() AT TIME ZONE 'America/New_York')::date - 200, 4, 1, 'mock', 1),
           ('S002', (now() AT TIME ZONE 'America/New_York')::date - 100, 1, 8, 'mock', 1);
    INSERT INTO dividends (symbol, ex_date, amount, provider, run_id)
    VALUES ('S001', (now() AT TIME ZONE 'America/New_York')::date - 150, 0.24, 'mock', 1);
    -- A bar of a month without partition waits in DEFAULT: it must come back there.
    INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
    VALUES ('S003', '2099-06-15', 1, 1, 1, 1, 1, 'mock', 1);
    UPDATE weston_partition_config SET retain_months = 120;
    CREATE ROLE drill_analyst LOGIN PASSWORD 'drill-only' IN ROLE app_ro;
    SET ROLE app_rw;
    CREATE TABLE app.watchlist (symbol text PRIMARY KEY, note text);
    INSERT INTO app.watchlist VALUES ('S001', 'split 4-for-1'), ('S002', 'reverse split');" >/dev/null

log "restore drill: pgBackRest stanza and full backup"
as_pg "${pgbackrest[@]}" stanza-create >/dev/null
WESTON_PGBACKREST_CONFIG="$drill/pgbackrest.conf" WESTON_BACKUP_TYPE=full \
    WESTON_METRICS_TEXTFILE_DIR="$drill/metrics" as_pg bash "$WESTON_ROOT/scripts/backup/pgbackrest-backup.sh" >/dev/null
grep -q '^weston_backup_last_run_failed{kind="pgbackrest"} 0$' "$drill/metrics/weston_backup.pgbackrest.prom" \
    || fail "pgbackrest-backup.sh did not report success"

load_batch 59 0 2
if [ "$(sql source "SELECT count(*) FROM pg_proc WHERE proname = 'weston_rotate_partitions'")" = 1 ]; then
    sql source "SELECT weston_rotate_partitions()" >/dev/null
fi

log "restore drill: nightly pg_dump (with retention)"
touch -d '20 days ago' "$drill/dumps/weston-20000101T000000Z.dump" "$drill/dumps/weston-20000101T000000Z.roles.sql"
touch -d '2 days ago' "$drill/dumps/weston-20000102T000000Z.dump"
chown -R postgres:postgres "$drill/dumps"
dump=$(as_pg env PGHOST="$drill/sock-source" PGUSER=postgres WESTON_DB=weston WESTON_DUMP_DIR="$drill/dumps" \
        WESTON_PG_BINDIR="$bindir" WESTON_METRICS_TEXTFILE_DIR="$drill/metrics" \
        bash "$WESTON_ROOT/scripts/backup/nightly-dump.sh" | tail -n 1)
[ ! -e "$drill/dumps/weston-20000101T000000Z.dump" ] && [ ! -e "$drill/dumps/weston-20000101T000000Z.roles.sql" ] \
    || fail "retention kept a dump older than 14 days"
[ -e "$drill/dumps/weston-20000102T000000Z.dump" ] || fail "retention removed a 2-day-old dump"
grep -q '^weston_backup_last_run_failed{kind="pg_dump"} 0$' "$drill/metrics/weston_backup.pg_dump.prom" \
    || fail "nightly-dump.sh did not report success"
roles_file=${dump%.dump}.roles.sql

psql_at source -d weston -At -f "$WESTON_ROOT/scripts/backup/fingerprint.sql" > "$drill/fingerprint.source"
sql source "SELECT pg_create_restore_point('weston-drill')" >/dev/null
# After the restore point: the point-in-time restore must not have these.
sql source "INSERT INTO securities (symbol, name) VALUES ('AFTER', 'after the restore point');
            SELECT pg_switch_wal();" >/dev/null
as_pg "${pgbackrest[@]}" check >/dev/null   # every WAL segment up to now is in the repository

compare() { # cluster
    psql_at "$1" -d weston -At -f "$WESTON_ROOT/scripts/backup/fingerprint.sql" > "$drill/fingerprint.$1"
    if ! diff -u "$drill/fingerprint.source" "$drill/fingerprint.$1" > "$drill/fingerprint.$1.diff"; then
        head -n 40 "$drill/fingerprint.$1.diff" >&2
        fail "the $1 restore differs from the source (see $drill/fingerprint.$1.diff)"
    fi
}

log "restore drill: pg_restore into a fresh cluster"
init_cluster logical
# The roles first (the cluster's own superuser exists already), then the database with --create.
grep -v '^CREATE ROLE postgres;$' "$roles_file" | psql_at logical -d postgres -f - >/dev/null
as_pg pg_restore -h "$drill/sock-logical" -d postgres --create --exit-on-error "$dump"
compare logical

log "restore drill: pgBackRest point-in-time recovery to the restore point"
mkdir -p "$drill/pitr/data" && chown -R postgres:postgres "$drill/pitr" && chmod 700 "$drill/pitr/data"
as_pg "${pgbackrest[@]}" --pg1-path="$drill/pitr/data" --type=name --target=weston-drill \
    --target-action=promote --archive-mode=off restore >/dev/null
start_cluster pitr
for _ in $(seq 1 120); do
    [ "$(sql pitr "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
    sleep 0.5
done
[ "$(sql pitr "SELECT pg_is_in_recovery()")" = f ] || fail "the point-in-time restore did not finish recovery"
compare pitr
[ "$(sql pitr "SELECT count(*) FROM securities WHERE symbol = 'AFTER'")" = 0 ] \
    || fail "the point-in-time restore went past its target"
[ "$(sql source "SELECT count(*) FROM securities WHERE symbol = 'AFTER'")" = 1 ] || fail "the source lost its last row"

summary=$(sql source "SELECT format('%s bars in %s partitions, %s tables checked, extension %s, %s cron job(s)',
    (SELECT count(*) FROM prices_daily), (SELECT count(*) FROM pg_inherits WHERE inhparent = 'prices_daily'::regclass),
    (SELECT count(*) FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'app'::regnamespace) AND relkind IN ('r','p')),
    (SELECT extversion FROM pg_extension WHERE extname = 'pg_weston'), (SELECT count(*) FROM cron.job))")
log "restore drill passed in $(( $(date +%s) - started ))s: both restores match the source ($summary; $(grep -c '' "$drill/fingerprint.source") fingerprint lines)"
stop_all
rm -rf "$drill"
