#!/usr/bin/env bash
# The image's base, localhost/weston-bookworm: `debootstrap --variant=minbase bookworm`
# imported into podman, made once per machine (WESTON_IMAGE_REBUILD=1 in image.sh redoes it).
# test.sh starts it in the background while the workspace compiles (it is downloads and
# unpacking, not compiling); image.sh runs it again, which waits for that run (a lock) and
# then finds the image there.
set -euo pipefail
source "$(dirname "$0")/env.sh"
work=${WESTON_IMAGE_WORK:-/var/tmp/weston-image}
base=localhost/weston-bookworm:latest
mkdir -p "$work"
exec 9>"$work/base.lock"
flock 9
if podman image exists "$base"; then exit 0; fi
rm -rf "$work/rootfs"
debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
cat > "$work/rootfs/etc/apt/sources.list" <<'SOURCES'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb
tar -C "$work/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
rm -rf "$work/rootfs"
