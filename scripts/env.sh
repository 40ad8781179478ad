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

# Builds the extension in release mode and installs it into $WESTON_PG_CONFIG's PostgreSQL:
# the one way to install it (setup.sh; test.sh after cargo pgrx test installed its own build).
# A failed build fails here, even though an older install may still be in place.
install_extension() {
    local out status=0
    log "building and installing the pg_weston extension (release)"
    out=$(cd "$WESTON_ROOT" && cargo pgrx install --release -p pg_weston --pg-config "$WESTON_PG_CONFIG" 2>&1) || status=$?
    printf '%s\n' "$out" | grep -vE '^\s*(Compiling|Copying|Discovered|Writing|Building|Finished|Installing)' || true
    if [ "$status" -ne 0 ]; then log "cargo pgrx install failed (exit $status)"; return 1; fi
    test -f "$("$WESTON_PG_CONFIG" --sharedir)/extension/pg_weston.control"
}
