#!/usr/bin/env bash
# Every test, in tiers: formatting and lints; pure Rust; integration against a real
# PostgreSQL 15 cluster with pg_cron (then every benchmark in smoke mode, the restore
# drill and the move drill); in-extension (cargo pgrx test); the container image. Sets everything up first and
# ends with the release build of the extension installed again.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$WESTON_ROOT"
bash scripts/setup.sh

failed=0
# WESTON_TEST_TIERS picks tiers for a quicker local loop (e.g. "1 2"); CI runs them all.
tiers=" ${WESTON_TEST_TIERS:-0 1 2 2c 2b 2m 3 4} "
# What the last line reports: a tier skipped is named as such, never counted as passed.
ran="" skipped="" failed_tiers=""
selected() { case "$tiers" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
step() {
    log "$1"; shift
    if ! "$@"; then failed=1; log "FAILED: $*"; return 1; fi
}
tier() {
    local id=$1; shift
    if ! selected "$id"; then
        log "skipping tier $id (WESTON_TEST_TIERS)"
        skipped="$skipped $id"
        return 0
    fi
    ran="$ran $id"
    if ! step "tier $id: $1" "${@:2}"; then failed_tiers="$failed_tiers $id"; fi
}

# Formatting and lints (warnings are errors; the lint set is [workspace.lints] in
# Cargo.toml). pg_test turns on the extension's in-database tests so they are linted too.
format_and_lints() {
    cargo fmt --all --check &&
        cargo clippy --release --workspace --all-targets --features pg_weston/pg_test -- -D warnings
}
# The image's base is downloads, not compiling: made in the background while tiers 0 to 3
# compile (image.sh waits for it).
if selected 4; then
    base_log=${WESTON_IMAGE_WORK:-/var/tmp/weston-image}/base.log
    mkdir -p "$(dirname "$base_log")"
    (bash scripts/image-base.sh >"$base_log" 2>&1 &)
fi

tier 0 "formatting and lints (cargo fmt --check, cargo clippy -D warnings)" format_and_lints

# pg_weston's tests are all #[pg_test]s, run by tier 3: built here, it would be a second
# compile of pgrx for a test binary with no tests.
tier 1 "pure Rust (no PostgreSQL)" \
    cargo test --release -p weston-core -p weston-loader -p fake-providers

# A throw-away cluster for the integration tests, rebuilt on every run. Fixed ports stay below
# Linux's ephemeral range (32768-60999), where an outgoing connection could briefly hold one.
export WESTON_PGPORT=${WESTON_TEST_PGPORT:-25433}
# The standby test streams a replica of it on its own port, clear of a running demo cluster.
export WESTON_TEST_STANDBY_PGPORT=${WESTON_TEST_STANDBY_PGPORT:-$((WESTON_PGPORT + 100))}
export WESTON_PGDATA=${WESTON_TEST_PGDATA:-/tmp/weston-test-cluster/data}
export WESTON_TEST_STANDBY_PGDATA=${WESTON_TEST_STANDBY_PGDATA:-$(dirname "$WESTON_PGDATA")/standby}
export WESTON_DB=weston_cron
export WESTON_CLUSTER_EXTRA_CONF="fsync = off
synchronous_commit = off
full_page_writes = off"
bash scripts/cluster.sh stop || true
# The last run's cluster is tens of thousands of files, minutes to delete on a disk with
# discard: moved aside and deleted in the background while tier 2 compiles.
# (Beside, not inside, the cluster's directory, which cluster.sh chowns recursively.)
stale_prefix="$(dirname "$WESTON_PGDATA").stale"
if [ -e "$WESTON_PGDATA" ]; then mv "$WESTON_PGDATA" "$stale_prefix-$$"; fi
(rm -rf "$stale_prefix"-* >/dev/null 2>&1 &)
bash scripts/cluster.sh start
export WESTON_TEST_ADMIN_URL="postgres://postgres@127.0.0.1:$WESTON_PGPORT/postgres"
export WESTON_TEST_CRON_URL="postgres://postgres@127.0.0.1:$WESTON_PGPORT/$WESTON_DB"
# tests/tests/alerting.rs runs Prometheus, Alertmanager and both exporters on free loopback
# ports, or on WESTON_TEST_MONITORING_PORT_BASE + 0..5 when set.
tier 2 "integration tests against PostgreSQL 15 on port $WESTON_PGPORT" \
    cargo test --release --no-fail-fast -p weston-tests -- --test-threads "${WESTON_TEST_THREADS:-4}"
# Benchmarks assert no speed, but one that no longer runs fails here (seconds each).
tier 2c "every benchmark in smoke mode (scripts/bench.sh --smoke) on the same cluster" \
    env WESTON_BENCH_ADMIN_URL="$WESTON_TEST_ADMIN_URL" bash scripts/bench.sh --smoke
bash scripts/cluster.sh stop || true

# Backups: pg_dump and pgBackRest (WAL archive + point-in-time recovery), each restored
# into a fresh cluster and compared table by table (Unix sockets only, no TCP port).
tier 2b "restore drill" bash scripts/restore-drill.sh
# The move to another host (deploy/move/weston-move), every step on three clusters started by
# the image's entrypoint (scram, loopback TCP on WESTON_MOVE_DRILL_PORT..+2, default 26700).
tier 2m "move drill" bash scripts/move-drill.sh

# Late: cargo pgrx test installs its own build (with the test schema) into PostgreSQL and
# leaves it there; the release build is installed again right after (below).
# cargo pgrx test runs initdb and postgres through sudo as the postgres user.
pgrx_data=${WESTON_PGRX_TEST_DIR:-/tmp/weston-pgrx-test}
mkdir -p "$pgrx_data" && chown postgres:postgres "$pgrx_data"
tier 3 "in-extension tests (cargo pgrx test)" \
    cargo pgrx test pg15 --release -p pg_weston --runas postgres --pgdata "$pgrx_data/data"
# So that the local cluster keeps working after the tests (a test build left installed
# fails with "could not find function ..._wrapper"), and proven on the tier-2 cluster.
release_build_installed() {
    install_extension || return 1
    bash scripts/cluster.sh start || return 1
    local status=0
    bash scripts/check-release-install.sh "$WESTON_TEST_ADMIN_URL" || status=$?
    bash scripts/cluster.sh stop || true
    return "$status"
}
if selected 3; then
    step "after tier 3: the release build of the extension installed again" release_build_installed \
        || failed_tiers="$failed_tiers 3(reinstall)"
fi

# The deployable image: Dockerfile.pg15 built with podman from a locally debootstrapped
# base, then smoke-tested inside with buildah (first start, roles, rotation, scram).
tier 4 "container image (podman build + buildah smoke test)" \
    bash scripts/image.sh

summary="tiers run:${ran:- none}; skipped:${skipped:- none}"
if [ "$failed" -ne 0 ]; then log "FAILED:$failed_tiers; $summary"; exit 1; fi
if [ -z "$skipped" ]; then log "all tiers passed:$ran"; else log "tiers passed:$ran; skipped:$skipped"; fi
