#!/usr/bin/env bash
# The main job on the embedded default: set up, start the local cluster, migrate, load
# the mock market (750 symbols, 180 days) and report status. No API keys needed.
# The first run seeds the empty universe from the mock market (MOCK0001..MOCK0750); later
# runs load incrementally from each symbol's last stored date and write nothing new
# until another session completes.
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
psql_weston -c '\d+ weston_data.prices_daily' | sed -n '/^Partition key/,$p'
psql_weston -c 'SELECT weston_version()'
log "weston-loader run --provider mock (750 symbols, 180 days on first run)"
WESTON_MOCK_SYMBOLS=${WESTON_MOCK_SYMBOLS:-750} "$WESTON_LOADER_BIN" run --provider mock
log "a few rows"
psql_weston -c "SELECT count(*) AS bars, count(DISTINCT symbol) AS symbols, min(date), max(date) FROM prices_daily"
psql_weston -c "SELECT symbol, date, open, high, low, close, volume, provider, run_id FROM prices_daily
                 WHERE symbol = 'MOCK0001' ORDER BY date DESC LIMIT 5"
psql_weston -c "SELECT symbol, date, numerator, denominator, provider, run_id FROM splits ORDER BY symbol, date"
psql_weston -c "SELECT symbol, ex_date, amount, currency FROM dividends ORDER BY ex_date DESC, symbol LIMIT 5"
log "weston-loader status"
"$WESTON_LOADER_BIN" status
log "connect with: psql $DATABASE_URL"
