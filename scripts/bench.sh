#!/usr/bin/env bash
# Benchmarks: each tests/src/bin/bench_<area>.rs runs side by side against a throw-away
# cluster and prints its ratios. Usage: bench.sh [area ...] (default: every benchmark).
# Not part of scripts/test.sh: speed targets are measured here, never asserted in tests.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$WESTON_ROOT"
bash scripts/setup.sh
export WESTON_PGPORT=${WESTON_BENCH_PGPORT:-55499}
export WESTON_PGDATA=${WESTON_BENCH_PGDATA:-/tmp/weston-bench-cluster/data}
export WESTON_DB=weston_cron
bash scripts/cluster.sh stop || true
rm -rf "$WESTON_PGDATA"
bash scripts/cluster.sh start
export WESTON_TEST_ADMIN_URL="postgres://postgres@127.0.0.1:$WESTON_PGPORT/postgres"
areas=("$@")
if [ ${#areas[@]} -eq 0 ]; then
    for f in tests/src/bin/bench_*.rs; do [ -e "$f" ] && areas+=("$(basename "$f" .rs | sed 's/^bench_//')"); done
fi
for area in "${areas[@]}"; do
    log "benchmark: $area"
    cargo run --release -q -p weston-tests --bin "bench_$area"
done
bash scripts/cluster.sh stop || true
