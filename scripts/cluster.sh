#!/usr/bin/env bash
# A local PostgreSQL 15 cluster for pg_weston, owned by the postgres user, with pg_cron
# preloaded and pointed at $WESTON_DB. Usage: cluster.sh start|stop|status|url
# Loopback connections are trusted: this is a development cluster on one machine
# (Dockerfile.pg15 is the deployable one, with scram-sha-256).
set -euo pipefail
source "$(dirname "$0")/env.sh"
bindir=$("$WESTON_PG_CONFIG" --bindir)
as_postgres() { runuser -u postgres -- "$@"; }
logfile="$(dirname "$WESTON_PGDATA")/server.log"

running() { [ -f "$WESTON_PGDATA/PG_VERSION" ] && as_postgres "$bindir/pg_ctl" -D "$WESTON_PGDATA" status >/dev/null 2>&1; }

init() {
    [ -f "$WESTON_PGDATA/PG_VERSION" ] && return 0
    log "initdb $WESTON_PGDATA (port $WESTON_PGPORT)"
    mkdir -p "$WESTON_PGDATA"
    chown -R postgres:postgres "$(dirname "$WESTON_PGDATA")"
    chmod 700 "$WESTON_PGDATA"
    as_postgres "$bindir/initdb" -D "$WESTON_PGDATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$WESTON_PGDATA/postgresql.conf" <<CONF

# pg_weston development cluster
port = $WESTON_PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
shared_preload_libraries = 'pg_cron'
cron.database_name = '$WESTON_DB'
cron.use_background_workers = on
max_worker_processes = 32
max_connections = 200
CONF
    if [ -n "${WESTON_CLUSTER_EXTRA_CONF:-}" ]; then printf '%s\n' "$WESTON_CLUSTER_EXTRA_CONF" >> "$WESTON_PGDATA/postgresql.conf"; fi
}

case "${1:-}" in
    start)
        init
        if ! running; then
            as_postgres "$bindir/pg_ctl" -D "$WESTON_PGDATA" -l "$logfile" -w -t 60 start >/dev/null
        fi
        if ! as_postgres "$bindir/psql" -h 127.0.0.1 -p "$WESTON_PGPORT" -d postgres -tAc \
                "SELECT 1 FROM pg_database WHERE datname = '$WESTON_DB'" | grep -q 1; then
            as_postgres "$bindir/createdb" -h 127.0.0.1 -p "$WESTON_PGPORT" "$WESTON_DB"
        fi
        log "cluster up: postgres://postgres@127.0.0.1:$WESTON_PGPORT/$WESTON_DB"
        ;;
    stop) if running; then as_postgres "$bindir/pg_ctl" -D "$WESTON_PGDATA" -m fast -w stop >/dev/null; fi ;;
    status) if running; then echo "running on port $WESTON_PGPORT ($WESTON_PGDATA)"; else echo "stopped"; exit 3; fi ;;
    url) echo "postgres://postgres@127.0.0.1:$WESTON_PGPORT/$WESTON_DB" ;;
    *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
