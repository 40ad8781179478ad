#!/usr/bin/env bash
# Benchmarks: each bench/src/bin/bench_<area>.rs runs side by side against a throw-away
# cluster and prints its ratios. Usage: bench.sh [--smoke] [area ...] (default: every
# benchmark; scale, which takes hours at full size, only when named). Speed targets are
# measured here, never asserted in tests.
#   --smoke                 small sizes, seconds each, numbers meaningless: scripts/test.sh
#                           runs every benchmark this way, so one that no longer runs fails CI.
#   WESTON_BENCH_ADMIN_URL  run on this already running cluster (scripts/test.sh passes its
#                           tier-2 one) instead of setting up and starting a throw-away one.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$WESTON_ROOT"

size=()
if [ "${1:-}" = --smoke ]; then size=(--smoke); shift; fi
areas=("$@")
if [ ${#areas[@]} -eq 0 ]; then
    for f in bench/src/bin/bench_*.rs; do [ -e "$f" ] && areas+=("$(basename "$f" .rs | sed 's/^bench_//')"); done
    # The whole-market benchmark takes hours at full size: only when named (its smoke size runs).
    if [ ${#size[@]} -eq 0 ]; then
        all=("${areas[@]}"); areas=()
        for a in "${all[@]}"; do [ "$a" = scale ] || areas+=("$a"); done
    fi
fi

own_cluster=0
if [ -n "${WESTON_BENCH_ADMIN_URL:-}" ]; then
    export WESTON_TEST_ADMIN_URL=$WESTON_BENCH_ADMIN_URL
else
    bash scripts/setup.sh
    export WESTON_PGPORT=${WESTON_BENCH_PGPORT:-25499}
    export WESTON_PGDATA=${WESTON_BENCH_PGDATA:-/tmp/weston-bench-cluster/data}
    export WESTON_DB=weston_cron
    bash scripts/cluster.sh stop || true
    rm -rf "$WESTON_PGDATA"
    bash scripts/cluster.sh start
    own_cluster=1
    trap 'bash scripts/cluster.sh stop || true' EXIT
    export WESTON_TEST_ADMIN_URL="postgres://postgres@127.0.0.1:$WESTON_PGPORT/postgres"
fi

# Every benchmark runs even when one fails; the run fails if any did.
failed=()
for area in "${areas[@]}"; do
    log "benchmark: $area ${size[*]}"
    if ! cargo run --release -q -p weston-bench --bin "bench_$area" -- "${size[@]}"; then
        failed+=("$area")
        log "FAILED: benchmark $area"
    fi
done
if [ "$own_cluster" -eq 1 ]; then bash scripts/cluster.sh stop || true; trap - EXIT; fi
if [ ${#failed[@]} -gt 0 ]; then log "benchmarks failed: ${failed[*]}"; exit 1; fi
