#!/usr/bin/env bash
# The main job on the embedded default: set up, start the local cluster, migrate, and
# report status. No API keys needed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$WESTON_ROOT"
bash scripts/setup.sh
bash scripts/cluster.sh start
DATABASE_URL=$(bash scripts/cluster.sh url)
export DATABASE_URL
psql_weston() { psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 "$@"; }

log "weston-loader migrate"
"$WESTON_LOADER_BIN" migrate
log "partitions of prices_daily"
psql_weston -c '\d+ prices_daily' | sed -n '/^Partition key/,$p'
psql_weston -c 'SELECT weston_version()'
log "weston-loader status"
"$WESTON_LOADER_BIN" status
log "connect with: psql $DATABASE_URL"
