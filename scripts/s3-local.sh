#!/usr/bin/env bash
# A local S3-compatible object store over TLS, for the restore drill (and to try the backup
# settings by hand): s3s-fs (crates.io; the s3s project's S3 server keeping objects in a
# directory, requests authenticated with AWS Signature V4) on a loopback port, behind stunnel
# (Debian) for TLS with a server certificate signed by a throw-away CA made here. stunnel
# relays each TLS connection to one server connection, so HTTP keep-alive works end to end.
#   bash scripts/s3-local.sh start DIR      writes DIR/s3.env (endpoint, port, CA file, keys,
#                                           bucket: created empty) and starts both
#   bash scripts/s3-local.sh tls-stop DIR   the storage becomes unreachable (connection refused)
#   bash scripts/s3-local.sh tls-start DIR  reachable again, on the same port
#   bash scripts/s3-local.sh stop DIR
# s3s-fs is installed by scripts/setup.sh into $WESTON_TOOLS_DIR. Run as root.
set -euo pipefail
source "$(dirname "$0")/env.sh"
command=${1:?usage: s3-local.sh start|stop|tls-stop|tls-start DIR}
dir=${2:?usage: s3-local.sh $command DIR}
tools=${WESTON_TOOLS_DIR:-/var/cache/pg_weston/tools}
s3s_fs=$tools/bin/s3s-fs

stop_pid() { # pid file
    [ -f "$1" ] || return 0
    local pid
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$1"
}
wait_port() { # port
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

tls_start() {
    source "$dir/s3.env"
    cat > "$dir/stunnel.conf" <<CONF
foreground = no
pid = $dir/stunnel.pid
output = $dir/stunnel.log
[s3]
accept = 127.0.0.1:$WESTON_S3_PORT
connect = 127.0.0.1:$(cat "$dir/http.port")
cert = $dir/server.crt
key = $dir/server.key
CONF
    stunnel "$dir/stunnel.conf"
    wait_port "$WESTON_S3_PORT" || { cat "$dir/stunnel.log" >&2; log "s3-local: stunnel did not start"; exit 1; }
}

case "$command" in
start)
    [ -x "$s3s_fs" ] || { log "s3-local: $s3s_fs is missing (bash scripts/setup.sh installs it)"; exit 1; }
    mkdir -p "$dir/objects"
    chmod 755 "$dir"   # the CA certificate is read by the postgres user (pgBackRest)
    # The CA and the server certificate (localhost and 127.0.0.1), valid for two days.
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2 \
        -subj '/CN=pg_weston drill CA' -addext 'basicConstraints=critical,CA:TRUE' \
        -addext 'keyUsage=critical,keyCertSign,cRLSign' -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj '/CN=localhost' \
        -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
        -extfile <(printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=CA:FALSE' \
                                  'extendedKeyUsage=serverAuth') -out "$dir/server.crt" 2>/dev/null
    chmod 600 "$dir/ca.key" "$dir/server.key"
    chmod 644 "$dir/ca.crt"
    key="drill$(openssl rand -hex 6)"
    secret=$(openssl rand -hex 20)
    free_port > "$dir/http.port"
    cat > "$dir/s3.env" <<ENV
WESTON_S3_ENDPOINT=localhost
WESTON_S3_PORT=$(free_port)
WESTON_S3_CA_FILE=$dir/ca.crt
WESTON_S3_REGION=us-east-1
WESTON_S3_BUCKET=weston-drill
WESTON_S3_KEY=$key
WESTON_S3_KEY_SECRET=$secret
ENV
    chmod 600 "$dir/s3.env"
    # (The keys are on the server's command line: a throw-away store on loopback.)
    nohup "$s3s_fs" --host 127.0.0.1 --port "$(cat "$dir/http.port")" --access-key "$key" --secret-key "$secret" \
        "$dir/objects" > "$dir/s3s-fs.log" 2>&1 &
    echo $! > "$dir/s3s-fs.pid"
    wait_port "$(cat "$dir/http.port")" || { cat "$dir/s3s-fs.log" >&2; log "s3-local: s3s-fs did not start"; exit 1; }
    tls_start
    # The bucket, through the S3 API.
    source "$dir/s3.env"
    RCLONE_CONFIG_LOCAL_TYPE=s3 RCLONE_CONFIG_LOCAL_PROVIDER=Other RCLONE_CONFIG_LOCAL_ENV_AUTH=false \
    RCLONE_CONFIG_LOCAL_ACCESS_KEY_ID=$WESTON_S3_KEY RCLONE_CONFIG_LOCAL_SECRET_ACCESS_KEY=$WESTON_S3_KEY_SECRET \
    RCLONE_CONFIG_LOCAL_REGION=$WESTON_S3_REGION RCLONE_CONFIG_LOCAL_FORCE_PATH_STYLE=true \
    RCLONE_CONFIG_LOCAL_ENDPOINT="https://$WESTON_S3_ENDPOINT:$WESTON_S3_PORT" \
        SSL_CERT_FILE="$WESTON_S3_CA_FILE" env -u AWS_CA_BUNDLE rclone -q mkdir "local:$WESTON_S3_BUCKET"
    [ -d "$dir/objects/$WESTON_S3_BUCKET" ] || { log "s3-local: the bucket was not created"; exit 1; }
    ;;
tls-stop) stop_pid "$dir/stunnel.pid" ;;
tls-start) tls_start ;;
stop)
    stop_pid "$dir/stunnel.pid"
    stop_pid "$dir/s3s-fs.pid"
    ;;
*) log "s3-local: unknown command $command"; exit 2 ;;
esac
