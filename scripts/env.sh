# Shared settings for the scripts; every value can be overridden from the environment.
# shellcheck shell=bash
WESTON_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WESTON_ROOT
export WESTON_PG_CONFIG=${WESTON_PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export WESTON_PGPORT=${WESTON_PGPORT:-5433}
export WESTON_PGDATA=${WESTON_PGDATA:-/var/lib/postgresql/weston-15/data}
export WESTON_DB=${WESTON_DB:-weston}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WESTON_ROOT/target}
export WESTON_LOADER_BIN=${WESTON_LOADER_BIN:-$CARGO_TARGET_DIR/release/weston-loader}
PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
