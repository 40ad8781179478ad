#!/usr/bin/env bash
# The restore drill (docs/RUNBOOK.md, "Monthly restore drill"), end to end on throw-away
# clusters and a local S3 server over TLS (scripts/s3-local.sh: s3s-fs behind stunnel, a CA
# made here): load data into a migrated database; back it up both ways into the bucket
# (pgBackRest full and differential backups + WAL archive, encrypted; the nightly pg_dump,
# encrypted and uploaded, with retention on disk and in the bucket); make the storage
# unreachable, then refuse the credentials: each backup run must fail loudly and raise the
# backup alert's metric, and nothing already archived may be lost; restore each backup from
# the bucket into a fresh cluster (pg_restore of the downloaded dump; pgBackRest
# point-in-time recovery to a named restore point); prove with `weston-loader verify`
# (the source's fingerprint saved with --save, each restore compared with --against-saved)
# that every row (checksum per table and per partition), the partitions, privileges, roles,
# the extensions, the config, the pg_cron jobs and the adjusted prices came back, and that
# the point-in-time restore stopped at its target.
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
# weston-loader verify on a cluster's weston database (every symbol's adjusted prices).
verify() { local sock=$1; shift
    DATABASE_URL="postgres://postgres@localhost/weston?host=$drill/sock-$sock" RUST_LOG=warn \
        "$WESTON_LOADER_BIN" verify --sample-symbols 1000000 "$@"; }

clusters=(source logical pitr)
stop_all() {
    for c in "${clusters[@]}"; do
        if [ -f "$drill/$c/data/postmaster.pid" ]; then as_pg pg_ctl -D "$drill/$c/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    done
    if [ -d "$drill/s3" ]; then bash "$WESTON_ROOT/scripts/s3-local.sh" stop "$drill/s3" || true; fi
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
mkdir -p "$drill"/{dumps,fetched,metrics,pgbackrest/{lock,log,spool}}
chown -R postgres:postgres "$drill"

log "restore drill [$(( $(date +%s) - started ))s]: S3 server over TLS (s3s-fs behind stunnel)"
bash "$WESTON_ROOT/scripts/s3-local.sh" start "$drill/s3"
source "$drill/s3/s3.env"

# pgBackRest: the deployable configuration file as it is; the drill's store, paths and
# secrets come from pgBackRest's environment variables (which take precedence over the
# file), the way the container passes the secrets. The server inherits them for archiving.
install -o postgres -m 600 "$WESTON_ROOT/deploy/pgbackrest/pgbackrest.conf" "$drill/pgbackrest.conf"
export PGBACKREST_CONFIG=$drill/pgbackrest.conf \
    PGBACKREST_REPO1_S3_ENDPOINT=$WESTON_S3_ENDPOINT PGBACKREST_REPO1_STORAGE_PORT=$WESTON_S3_PORT \
    PGBACKREST_REPO1_STORAGE_CA_FILE=$WESTON_S3_CA_FILE PGBACKREST_REPO1_S3_REGION=$WESTON_S3_REGION \
    PGBACKREST_REPO1_S3_BUCKET=$WESTON_S3_BUCKET PGBACKREST_REPO1_S3_URI_STYLE=path \
    PGBACKREST_REPO1_S3_KEY=$WESTON_S3_KEY PGBACKREST_REPO1_S3_KEY_SECRET=$WESTON_S3_KEY_SECRET \
    PGBACKREST_REPO1_CIPHER_PASS=$(openssl rand -hex 24) \
    PGBACKREST_PG1_PATH=$drill/source/data PGBACKREST_PG1_SOCKET_PATH=$drill/sock-source \
    PGBACKREST_SPOOL_PATH=$drill/pgbackrest/spool PGBACKREST_LOCK_PATH=$drill/pgbackrest/lock \
    PGBACKREST_LOG_PATH=$drill/pgbackrest/log
# The nightly dump's upload: the same bucket and keys (dump-s3.sh defaults to pgBackRest's).
export WESTON_DUMP_S3_BUCKET=$WESTON_S3_BUCKET WESTON_DUMP_S3_ENDPOINT=$WESTON_S3_ENDPOINT:$WESTON_S3_PORT \
    WESTON_DUMP_S3_CA_FILE=$WESTON_S3_CA_FILE WESTON_DUMP_S3_REGION=$WESTON_S3_REGION WESTON_DUMP_S3_PREFIX=dumps/weston
pgbackrest=(pgbackrest --stanza=weston)
objects() { find "$drill/s3/objects/$WESTON_S3_BUCKET/$1" -type f 2>/dev/null | wc -l; }
metric() { # kind: the value of weston_backup_last_run_failed the last run wrote
    sed -n "s/^weston_backup_last_run_failed{kind=\"$1\"} //p" "$drill/metrics/weston_backup.$1.prom"
}
backup() { # type [VAR=value ...]: deploy/backup/pgbackrest-backup.sh as postgres
    local type=$1; shift
    as_pg env WESTON_BACKUP_TYPE="$type" WESTON_METRICS_TEXTFILE_DIR="$drill/metrics" "$@" \
        bash "$WESTON_ROOT/deploy/backup/pgbackrest-backup.sh"
}
nightly_dump() { # [VAR=value ...]: deploy/backup/nightly-dump.sh as postgres, prints the dump's path
    as_pg env PGHOST="$drill/sock-source" PGUSER=postgres WESTON_DB=weston WESTON_DUMP_DIR="$drill/dumps" \
        WESTON_PG_BINDIR="$bindir" WESTON_METRICS_TEXTFILE_DIR="$drill/metrics" "$@" \
        bash "$WESTON_ROOT/deploy/backup/nightly-dump.sh"
}
expect_failure() { # what, log file, command...: must exit non-zero, say FAILED, raise the alert's input
    local what=$1 out=$2 kind; shift 2
    kind=$([ "$1" = backup ] && echo pgbackrest || echo pg_dump)
    if "$@" > "$out" 2>&1; then cat "$out" >&2; fail "$what: the run succeeded"; fi
    grep -q 'FAILED' "$out" || { cat "$out" >&2; fail "$what: no clear failure message"; }
    [ "$(metric "$kind")" = 1 ] || fail "$what: weston_backup_last_run_failed{kind=\"$kind\"} is $(metric "$kind"), not 1"
    grep -q "^weston_backup_last_success_timestamp_seconds{kind=\"$kind\"} [0-9]" "$drill/metrics/weston_backup.$kind.prom" \
        || fail "$what: the last success time was lost"
    log "restore drill [$(( $(date +%s) - started ))s]: $what failed as it must: $(grep -m1 -E 'ERROR|ERROR:|Failed|failed' "$out" | cut -c1-160)"
}

log "restore drill [$(( $(date +%s) - started ))s]: source cluster with WAL archiving to pgBackRest ($drill)"
init_cluster source "$(cat "$WESTON_ROOT/deploy/pgbackrest/postgresql-archiving.conf")"
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
    -- A restatement: the replaced bar is kept in prices_daily_history (migration 0040), which
    -- the dump and both restores must bring back (verify compares every table).
    UPDATE prices_daily SET close = close + 0.01, high = high + 0.01
     WHERE symbol = 'S004' AND date = (SELECT max(date) FROM prices_daily WHERE symbol = 'S004');
    CREATE ROLE drill_analyst LOGIN PASSWORD 'drill-only' IN ROLE app_ro;
    SET ROLE app_rw;
    CREATE TABLE app.watchlist (symbol text PRIMARY KEY, note text);
    INSERT INTO app.watchlist VALUES ('S001', 'split 4-for-1'), ('S002', 'reverse split');" >/dev/null

log "restore drill [$(( $(date +%s) - started ))s]: pgBackRest stanza and full backup into s3://$WESTON_S3_BUCKET"
as_pg "${pgbackrest[@]}" stanza-create >/dev/null
backup full >/dev/null
[ "$(metric pgbackrest)" = 0 ] || fail "pgbackrest-backup.sh did not report success"
[ "$(objects pgbackrest/weston/backup)" -gt 0 ] && [ "$(objects pgbackrest/weston/archive)" -gt 0 ] \
    || fail "the backup or the WAL archive is not in the bucket"
# Client-side encryption: not even pgBackRest's own index is readable in the bucket.
! grep -q '^\[backrest\]' "$drill/s3/objects/$WESTON_S3_BUCKET/pgbackrest/weston/backup/weston/backup.info" \
    || fail "the bucket holds pgBackRest's files unencrypted"

load_batch 59 0 2
if [ "$(sql source "SELECT count(*) FROM pg_proc WHERE proname = 'weston_rotate_partitions'")" = 1 ]; then
    sql source "SELECT weston_rotate_partitions()" >/dev/null
fi

log "restore drill [$(( $(date +%s) - started ))s]: nightly pg_dump, uploaded encrypted (with retention on disk and in the bucket)"
touch -d '20 days ago' "$drill/dumps/weston-20000101T000000Z.dump" "$drill/dumps/weston-20000101T000000Z.roles.sql"
touch -d '2 days ago' "$drill/dumps/weston-20000102T000000Z.dump"
# Earlier nights in the bucket, named as the script names them: 2 and 20 days old.
stamp_days_ago() { date -u -d "$1 days ago" +%Y%m%dT%H%M%SZ; }
recent=weston-$(stamp_days_ago 2) old=weston-$(stamp_days_ago 20)
for name in "$recent" "$old"; do   # each upload applies the retention, sparing its own name
    echo "an earlier night" > "$drill/dumps/$name.dump" && echo "--" > "$drill/dumps/$name.roles.sql"
    chown postgres:postgres "$drill/dumps/$name".*
    as_pg bash "$WESTON_ROOT/deploy/backup/dump-s3.sh" upload "$drill/dumps" "$name" >/dev/null
    rm "$drill/dumps/$name".*
done
chown -R postgres:postgres "$drill/dumps"
dump=$(nightly_dump | tail -n 1)
[ ! -e "$drill/dumps/weston-20000101T000000Z.dump" ] && [ ! -e "$drill/dumps/weston-20000101T000000Z.roles.sql" ] \
    || fail "retention kept a dump older than 14 days"
[ -e "$drill/dumps/weston-20000102T000000Z.dump" ] || fail "retention removed a 2-day-old dump"
[ "$(metric pg_dump)" = 0 ] || fail "nightly-dump.sh did not report success"
dump_name=$(basename "$dump" .dump)
in_bucket=$(as_pg bash "$WESTON_ROOT/deploy/backup/dump-s3.sh" list | tr '\n' ' ')
[ "$in_bucket" = "$recent.dump.gpg $recent.roles.sql.gpg $dump_name.dump.gpg $dump_name.roles.sql.gpg " ] \
    || fail "the bucket's dumps after retention are [$in_bucket]"
verify source --save "$drill/fingerprint.at-dump.json" >/dev/null

log "restore drill [$(( $(date +%s) - started ))s]: the storage unreachable, then the credentials refused"
# Written while the storage is away: archived once it is back, it must reach the restore.
sql source "INSERT INTO etl_run (job_name, status, finished_at, rows_loaded) VALUES ('drill-outage', 'succeeded', now(), 0);
            SELECT pg_switch_wal();" >/dev/null
bash "$WESTON_ROOT/scripts/s3-local.sh" tls-stop "$drill/s3"
# (pgBackRest retries a refused connection until io-timeout, 60 s by default, for each file
# it reads: 1 s keeps this run to seconds.)
expect_failure "a backup with the storage unreachable" "$drill/unreachable-backup.log" backup diff PGBACKREST_IO_TIMEOUT=1
expect_failure "a dump upload with the storage unreachable" "$drill/unreachable-dump.log" nightly_dump
bash "$WESTON_ROOT/scripts/s3-local.sh" tls-start "$drill/s3"
expect_failure "a backup with a wrong secret key" "$drill/credentials-backup.log" \
    backup diff PGBACKREST_REPO1_S3_KEY_SECRET=not-the-secret
expect_failure "a dump upload with a wrong secret key" "$drill/credentials-dump.log" \
    nightly_dump WESTON_DUMP_S3_KEY_SECRET=not-the-secret
log "restore drill [$(( $(date +%s) - started ))s]: the storage back: a differential backup, and the alert's input clears"
backup diff >/dev/null
[ "$(metric pgbackrest)" = 0 ] || fail "the backup after the outage did not report success"

verify source --save "$drill/fingerprint.source.json" >/dev/null
sql source "SELECT pg_create_restore_point('weston-drill')" >/dev/null
# After the restore point: the point-in-time restore must not have these.
sql source "INSERT INTO securities (symbol, name) VALUES ('AFTER', 'after the restore point');
            SELECT pg_switch_wal();" >/dev/null
as_pg "${pgbackrest[@]}" check >/dev/null   # every WAL segment up to now is in the repository

compare() { # cluster, the source's fingerprint to match (when the backup was taken)
    if ! verify "$1" --against-saved "$drill/fingerprint.$2.json" > "$drill/verify.$1" 2>&1; then
        head -n 40 "$drill/verify.$1" >&2
        fail "the $1 restore differs from the source (see $drill/verify.$1)"
    fi
}

log "restore drill [$(( $(date +%s) - started ))s]: the dump downloaded from the bucket, pg_restore into a fresh cluster"
as_pg bash "$WESTON_ROOT/deploy/backup/dump-s3.sh" fetch "$dump_name" "$drill/fetched"
init_cluster logical
# The roles first (the cluster's own superuser exists already), then the database with --create.
grep -v '^CREATE ROLE postgres;$' "$drill/fetched/$dump_name.roles.sql" | psql_at logical -d postgres -f - >/dev/null
as_pg pg_restore -h "$drill/sock-logical" -d postgres --create --exit-on-error "$drill/fetched/$dump_name.dump"
compare logical at-dump

log "restore drill [$(( $(date +%s) - started ))s]: pgBackRest point-in-time recovery from the bucket to the restore point"
mkdir -p "$drill/pitr/data" && chown -R postgres:postgres "$drill/pitr" && chmod 700 "$drill/pitr/data"
as_pg "${pgbackrest[@]}" --pg1-path="$drill/pitr/data" --type=name --target=weston-drill \
    --target-action=promote --archive-mode=off restore >/dev/null
start_cluster pitr
for _ in $(seq 1 120); do
    [ "$(sql pitr "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
    sleep 0.5
done
[ "$(sql pitr "SELECT pg_is_in_recovery()")" = f ] || fail "the point-in-time restore did not finish recovery"
compare pitr source
[ "$(sql pitr "SELECT count(*) FROM securities WHERE symbol = 'AFTER'")" = 0 ] \
    || fail "the point-in-time restore went past its target"
[ "$(sql source "SELECT count(*) FROM securities WHERE symbol = 'AFTER'")" = 1 ] || fail "the source lost its last row"
[ "$(sql pitr "SELECT count(*) FROM etl_run WHERE job_name = 'drill-outage'")" = 1 ] \
    || fail "the point-in-time restore lost what was written while the storage was unreachable"

log "restore drill [$(( $(date +%s) - started ))s]: retention in the bucket (pgBackRest expire)"
# A second full backup, then the expiry a count of one full backup asks for: the first full
# and its differential leave the bucket.
backup full >/dev/null
as_pg "${pgbackrest[@]}" --repo1-retention-full-type=count --repo1-retention-full=1 expire >/dev/null
backups=$(as_pg "${pgbackrest[@]}" info --output=json | python3 -c 'import json,sys; print(" ".join(b["type"] for b in json.load(sys.stdin)[0]["backup"]))')
[ "$backups" = full ] || fail "after expire the repository holds [$backups], not one full backup"

summary=$(sed -n 's/^verify: this database matches [^:]*: //p' "$drill/verify.pitr")
log "restore drill passed in $(( $(date +%s) - started ))s: both restores match the source ($summary)"
stop_all
rm -rf "$drill"
