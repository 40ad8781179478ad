#!/bin/bash
# pg_weston container entrypoint (runs as postgres). On the first start (empty $PGDATA):
# initdb with scram-sha-256 and the superuser password from POSTGRES_PASSWORD (or
# POSTGRES_PASSWORD_FILE); create $WESTON_DB; `weston-loader migrate` (extension, tables,
# group roles, partitions, the nightly rotation job under pg_cron); login users for the
# loader and the exporter when their passwords are given; then *.sql / *.sh of
# /docker-entrypoint-initdb.d. On every start: pg_hba.conf is rewritten from
# WESTON_ALLOWED_CIDRS, so only those networks (e.g. the tailnet) can connect. Started as root
# (a fresh volume is root's), it gives $PGDATA to postgres and runs again as postgres.
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
# A fresh volume is root's (Railway mounts them so, and runs the image as root only when
# told to: RAILWAY_RUN_UID=0). As root, the data directory is handed to postgres and this
# script runs again as postgres; PostgreSQL itself never runs as root.
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups \
        env HOME="$(getent passwd postgres | cut -d: -f6)" bash "${BASH_SOURCE[0]}" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -e "$PGDATA" ] && [ ! -O "$PGDATA" ]; then
        echo "weston-entrypoint: $PGDATA belongs to $(stat -c %U "$PGDATA"), not $(id -un): a volume mounted there is often root's; start the container as root (Railway: RAILWAY_RUN_UID=0): it hands the directory to postgres and runs as postgres; or chown it" >&2
        exit 2
    fi
    if [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
        echo "weston-entrypoint: $PGDATA is not empty ($(ls -A "$PGDATA" | head -n 3 | tr '\n' ' ')) and holds no database: a volume's root has lost+found; set PGDATA to a directory inside the volume, e.g. $PGDATA/pgdata" >&2
        exit 2
    fi
fi
db=${WESTON_DB:-weston}
allowed=${WESTON_ALLOWED_CIDRS:?set WESTON_ALLOWED_CIDRS to the private networks allowed to connect, e.g. 100.64.0.0/10}
secret() { # NAME: the value of $NAME, or the contents of the file named by $NAME_FILE
    local file_var="${1}_FILE"
    if [ -n "${!file_var:-}" ]; then cat "${!file_var}"; else printf '%s' "${!1:-}"; fi
}

write_hba() {
    {
        echo "# Written by weston-entrypoint on every start from WESTON_ALLOWED_CIDRS; edits are lost."
        echo "local   all  postgres                peer"
        echo "local   all  all                     scram-sha-256"
        echo "host    all  all  127.0.0.1/32       scram-sha-256"
        echo "host    all  all  ::1/128            scram-sha-256"
        for cidr in $allowed; do
            printf 'host    all  all  %-18s scram-sha-256\n' "$cidr"
        done
        echo "# Anything else is rejected (no matching line)."
    } > "$PGDATA/pg_hba.conf"
}

first_start() {
    local password
    password=$(secret POSTGRES_PASSWORD)
    [ -n "$password" ] || { echo "weston-entrypoint: set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) for the first start" >&2; exit 2; }
    initdb -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
        --pwfile=<(printf '%s\n' "$password") --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    mkdir -p "$PGDATA/conf.d"
    echo "include_dir = 'conf.d'" >> "$PGDATA/postgresql.conf"
    cat > "$PGDATA/conf.d/00-weston.conf" <<CONF
listen_addresses = '${WESTON_LISTEN_ADDRESSES-*}'
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'pg_cron'
cron.database_name = '$db'
cron.use_background_workers = on
max_worker_processes = 16
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = on
log_disconnections = on
CONF
    if [ "${WESTON_ARCHIVING:-off}" = on ]; then
        cp /usr/share/weston/pgbackrest/postgresql-archiving.conf "$PGDATA/conf.d/10-archiving.conf"
    fi
    write_hba
    # The initialising server listens on a private socket only, so that neither clients nor
    # the health check see the database before it is complete.
    local init_socket
    init_socket=$(mktemp -d)
    export PGHOST=$init_socket
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories='$init_socket'" -w -t 120 start >/dev/null
    createdb "$db"
    DATABASE_URL="postgres://postgres@localhost/$db?host=$init_socket" weston-loader migrate
    local loader_password exporter_password
    loader_password=$(secret WESTON_LOADER_PASSWORD)
    exporter_password=$(secret WESTON_EXPORTER_PASSWORD)
    # psql interpolates :'pw' (quoted) only in scripts read from stdin or a file, not in -c.
    if [ -n "$loader_password" ]; then
        echo "CREATE ROLE weston_loader LOGIN IN ROLE etl_writer PASSWORD :'pw';" \
            | psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v pw="$loader_password"
    fi
    if [ -n "$exporter_password" ]; then
        echo "CREATE ROLE weston_exporter LOGIN IN ROLE app_ro, pg_monitor PASSWORD :'pw';" \
            | psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v pw="$exporter_password"
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sql) psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$f" ;;
            *.sh) bash "$f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    unset PGHOST
    rmdir "$init_socket"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    first_start
fi
write_hba
exec postgres -D "$PGDATA" "$@"
