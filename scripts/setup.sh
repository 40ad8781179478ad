#!/usr/bin/env bash
# Installs everything pg_weston needs on Debian 12 (as root), then builds and installs the
# extension into the system PostgreSQL 15 and builds weston-loader. Safe to run again:
# it skips what is already there and cargo rebuilds only what changed.
set -euo pipefail
source "$(dirname "$0")/env.sh"

packages=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-partman
          postgresql-15-pgtap libclang-dev clang sudo pkg-config
          prometheus prometheus-postgres-exporter prometheus-alertmanager
          prometheus-node-exporter pgbackrest podman buildah debootstrap
          rclone gnupg stunnel4 binutils)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package creates and starts a cluster on 5432 that pg_weston does not use.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q '^15 *main .*online'; then
    pg_ctlcluster 15 main stop || true
fi

if ! cargo pgrx --version 2>/dev/null | grep -q ' 0\.18\.1$'; then
    log "installing cargo-pgrx 0.18.1 (pgrx 0.19 needs a newer Rust than this machine has)"
    # Unoptimised (--debug, without debug info): it only drives cargo and PostgreSQL, and
    # compiles in half the time (4 instead of 8 minutes on 2 cores).
    CARGO_PROFILE_DEV_DEBUG=0 cargo install cargo-pgrx --version 0.18.1 --locked --quiet --debug
fi
if ! grep -qs "^pg15 = \"$WESTON_PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    log "cargo pgrx init --pg15 $WESTON_PG_CONFIG"
    cargo pgrx init --pg15 "$WESTON_PG_CONFIG" >/dev/null
fi

# The restore drill's S3 server (scripts/s3-local.sh): s3s-fs, from crates.io, once per machine.
tools=${WESTON_TOOLS_DIR:-/var/cache/pg_weston/tools}
if [ ! -x "$tools/bin/s3s-fs" ]; then
    log "installing s3s-fs 0.14.1 into $tools (the drill's S3 server; 0.17 needs Rust 1.96)"
    # Unoptimised, like cargo-pgrx: the drill's objects are megabytes.
    CARGO_PROFILE_DEV_DEBUG=0 cargo install s3s-fs --version 0.14.1 --features binary --locked --quiet --debug --root "$tools"
fi

cd "$WESTON_ROOT"
install_extension
log "building weston-loader"
cargo build --release -q -p weston-loader
