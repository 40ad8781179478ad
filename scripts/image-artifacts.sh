#!/usr/bin/env bash
# The compiled files of the image, laid out in OUT as the image installs them:
#   OUT/extension/  a tree rooted at / (the library under /usr/lib/postgresql/15/lib, the
#                   control file and SQL scripts under /usr/share/postgresql/15/extension)
#   OUT/weston-loader
# Dockerfile.pg15's from-source stage runs it, and scripts/image.sh runs it on the host's
# build (which the test command has just compiled): one list of files for both ways.
# Usage: bash scripts/image-artifacts.sh OUT
set -euo pipefail
source "$(dirname "$0")/env.sh"
out=${1:?usage: image-artifacts.sh OUT}
cd "$WESTON_ROOT"
# (cargo pgrx reports every step on stderr: shown only when it fails.)
pgrx_log=$(mktemp)
cargo pgrx package -p pg_weston --pg-config "$WESTON_PG_CONFIG" > "$pgrx_log" 2>&1 \
    || { cat "$pgrx_log" >&2; rm -f "$pgrx_log"; exit 1; }
rm -f "$pgrx_log"
cargo build --release -q -p weston-loader
# The package mirrors pg_config's directories; a relocated PostgreSQL (a developer's copy)
# has other prefixes than the image's Debian paths, so map each directory explicitly.
package="$CARGO_TARGET_DIR/release/pg_weston-pg15"
libdir=$out/extension/usr/lib/postgresql/15/lib
extdir=$out/extension/usr/share/postgresql/15/extension
rm -rf "$out" && mkdir -p "$libdir" "$extdir"
cp -a "$package$("$WESTON_PG_CONFIG" --pkglibdir)/." "$libdir/"
cp -a "$package$("$WESTON_PG_CONFIG" --sharedir)/extension/." "$extdir/"
# Nothing else may hide in the package (a file there would be missing from the image).
unexpected=$(cd "$package" && find . -type f | grep -v -e "^.$("$WESTON_PG_CONFIG" --pkglibdir)/" \
    -e "^.$("$WESTON_PG_CONFIG" --sharedir)/extension/" || true)
[ -z "$unexpected" ] || { log "image-artifacts: unexpected files in the package: $unexpected"; exit 1; }
cp "$CARGO_TARGET_DIR/release/weston-loader" "$out/weston-loader"
