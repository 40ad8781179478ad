#!/usr/bin/env bash
# Every test, in four tiers: pure Rust; integration against a real PostgreSQL 15 cluster
# with pg_cron (and the restore drill); in-extension (cargo pgrx test); the container image.
# Sets everything up first.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$WESTON_ROOT"
bash scripts/setup.sh

failed=0
# WESTON_TEST_TIERS picks tiers for a quicker local loop (e.g. "1 2"); CI runs them all.
tiers=" ${WESTON_TEST_TIERS:-1 2 2b 3 4} "
tier() {
    local id=$1; shift
    case "$tiers" in *" $id "*) ;; *) log "skipping tier $id (WESTON_TEST_TIERS)"; return 0 ;; esac
    log "tier $id: $1"; shift
    if ! "$@"; then failed=1; log "FAILED: $*"; fi
}

tier 1 "pure Rust (no PostgreSQL)" \
    cargo test --release --workspace --exclude weston-tests

# A throw-away cluster for the integration tests, rebuilt on every run.
export WESTON_PGPORT=${WESTON_TEST_PGPORT:-55433}
# The standby test streams a replica of it on its own port, clear of a running demo cluster.
export WESTON_TEST_STANDBY_PGPORT=${WESTON_TEST_STANDBY_PGPORT:-$((WESTON_PGPORT + 100))}
export WESTON_PGDATA=${WESTON_TEST_PGDATA:-/tmp/weston-test-cluster/data}
export WESTON_TEST_STANDBY_PGDATA=${WESTON_TEST_STANDBY_PGDATA:-$(dirname "$WESTON_PGDATA")/standby}
export WESTON_DB=weston_cron
export WESTON_CLUSTER_EXTRA_CONF="fsync = off
synchronous_commit = off
full_page_writes = off"
bash scripts/cluster.sh stop || true
rm -rf "$WESTON_PGDATA"
bash scripts/cluster.sh start
export WESTON_TEST_ADMIN_URL="postgres://postgres@127.0.0.1:$WESTON_PGPORT/postgres"
export WESTON_TEST_CRON_URL="postgres://postgres@127.0.0.1:$WESTON_PGPORT/$WESTON_DB"
# tests/tests/alerting.rs runs Prometheus, Alertmanager and both exporters on free loopback
# ports, or on WESTON_TEST_MONITORING_PORT_BASE + 0..5 when set.
tier 2 "integration tests against PostgreSQL 15 on port $WESTON_PGPORT" \
    cargo test --release -p weston-tests -- --test-threads "${WESTON_TEST_THREADS:-4}"
bash scripts/cluster.sh stop || true

# Backups: pg_dump and pgBackRest (WAL archive + point-in-time recovery), each restored
# into a fresh cluster and compared table by table (Unix sockets only, no TCP port).
tier 2b "restore drill" bash scripts/restore-drill.sh

# Last: cargo pgrx test installs its own build (with the test schema) into PostgreSQL;
# setup.sh puts the release build back on the next run.
# cargo pgrx test runs initdb and postgres through sudo as the postgres user.
pgrx_data=${WESTON_PGRX_TEST_DIR:-/tmp/weston-pgrx-test}
mkdir -p "$pgrx_data" && chown postgres:postgres "$pgrx_data"
tier 3 "in-extension tests (cargo pgrx test)" \
    cargo pgrx test pg15 --release -p pg_weston --runas postgres --pgdata "$pgrx_data/data"

# The deployable image: Dockerfile.pg15 built with podman from a locally debootstrapped
# base, then smoke-tested inside with buildah (first start, roles, rotation, scram).
tier 4 "container image (podman build + buildah smoke test)" \
    bash scripts/image.sh

if [ "$failed" -ne 0 ]; then log "some tier failed"; exit 1; fi
log "all tiers passed"
