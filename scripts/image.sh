#!/usr/bin/env bash
# Builds the image (Dockerfile.pg15) with podman and smoke-tests it, with no image registry:
#   1. localhost/weston-bookworm (scripts/image-base.sh): a debootstrapped bookworm;
#   2. localhost/pg_weston:pg15, target `prebuilt`: the extension and the loader of the host's
#      build (the one the test command has just compiled, staged by scripts/image-artifacts.sh,
#      the script the from-source stage runs too), so CI compiles the workspace once;
#   3. the smoke test, inside the image with `buildah run`: first-start initialisation,
#      start, the roles, CREATE EXTENSION, rotation, a query, pg_hba, the health check, and
#      the nightly job (weston-nightly-loader, mock provider) then status and audit, as the
#      deployment's loader login weston_loader;
#   4. the image holds exactly the staged files (list and sha256).
# WESTON_IMAGE_FROM_SOURCE=1 also builds target `from-source` (compiling inside, as on a host
# with a registry; cold: many minutes) on localhost/weston-builder:1.95 (this machine's Rust
# 1.95 without its docs and its cargo-pgrx 0.18.1) and proves both images install the same
# files: same list; same bytes for the control file and SQL; for the library and the loader
# (whose bytes hold the build's source paths) the same exported symbols and the same --help.
# The base and builder images are made once (WESTON_IMAGE_REBUILD=1 redoes them).
# Tier 4 of scripts/test.sh. Run as root: bash scripts/image.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$WESTON_ROOT"
work=${WESTON_IMAGE_WORK:-/var/tmp/weston-image}
base=localhost/weston-bookworm:latest
builder=localhost/weston-builder:1.95
image=${WESTON_IMAGE:-localhost/pg_weston:pg15}
toolchain=${WESTON_RUST_TOOLCHAIN:-$(rustc --print sysroot)}
started=$(date +%s)
step() { log "image: $* ($(( $(date +%s) - started ))s)"; }
mkdir -p "$work"

if [ "${WESTON_IMAGE_REBUILD:-0}" = 1 ]; then podman rmi -f "$builder" "$base" >/dev/null 2>&1 || true; fi

if ! podman image exists "$base"; then step "debootstrap bookworm (minbase), or waiting for test.sh's"; fi
bash scripts/image-base.sh

from_source=${WESTON_IMAGE_FROM_SOURCE:-0}
if [ "$from_source" = 1 ] && ! podman image exists "$builder"; then
    step "builder image (Rust $("$toolchain/bin/rustc" --version | cut -d' ' -f2), cargo-pgrx 0.18.1)"
    rustc_version=$("$toolchain/bin/rustc" --version)
    case "$rustc_version" in "rustc 1.95."*) ;; *) log "need Rust 1.95, $toolchain has $rustc_version"; exit 2 ;; esac
    context="$work/builder"
    rm -rf "$context" && mkdir -p "$context/rust"
    # The toolchain without its 800 MB of documentation.
    cp -a "$toolchain"/{bin,lib,libexec,etc} "$context/rust/"
    cp "$(command -v cargo-pgrx)" "$context/cargo-pgrx"
    cat > "$context/Containerfile" <<'CONTAINERFILE'
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential clang libclang-dev pkg-config \
       postgresql-server-dev-15 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY rust /usr/local/rust
COPY cargo-pgrx /usr/local/cargo/bin/cargo-pgrx
ENV CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CONTAINERFILE
    podman build --isolation=chroot --network=host --pull=never --build-arg BASE_IMAGE="$base" \
        -t "$builder" "$context" >/dev/null
    rm -rf "$context"
fi

# Both targets share every layer but the compiled files: the runtime stage reads only these
# paths of the context (a change there fails here, on the prebuilt build, too).
step "staging the host's build (scripts/image-artifacts.sh)"
context="$work/context"
rm -rf "$context" && mkdir -p "$context"
cp Dockerfile.pg15 "$context/"
cp -a deploy "$context/deploy"
bash scripts/image-artifacts.sh "$context/image-artifacts"
step "podman build Dockerfile.pg15 --target prebuilt"
podman build --isolation=chroot --network=host --pull=never --build-arg BASE_IMAGE="$base" \
    --target prebuilt -f "$context/Dockerfile.pg15" -t "$image" "$context" > "$work/build.log" 2>&1 \
    || { tail -n 40 "$work/build.log" >&2; log "image build failed (log: $work/build.log)"; exit 1; }
built=$(date +%s)
# Every build leaves the previous image and its build stage untagged (2.5 GB each); the
# cargo caches live in the cache mounts, not in them.
podman image prune -f >/dev/null

step "smoke test with buildah run"
container=$(buildah from --pull-never "$image")
trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
# The server listens on loopback only (the host's network namespace is shared), on a port
# that is free now, to check password authentication over TCP.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
smoke_port=${WESTON_SMOKE_PGPORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
buildah run --isolation chroot --network host --user postgres \
    --env PGDATA=/var/lib/postgresql/data --env POSTGRES_PASSWORD=smoke-only \
    --env WESTON_ALLOWED_CIDRS="100.64.0.0/10 10.20.0.0/16" --env WESTON_LISTEN_ADDRESSES=127.0.0.1 \
    --env WESTON_LOADER_PASSWORD=loader-smoke --env WESTON_EXPORTER_PASSWORD=exporter-smoke \
    --env SMOKE_PORT="$smoke_port" --env WESTON_VERSION="$version" \
    "$container" -- bash -euo pipefail -c '
        weston-entrypoint -c port="$SMOKE_PORT" -c unix_socket_directories=/var/run/postgresql > /tmp/postgres.log 2>&1 &
        for _ in $(seq 1 120); do pg_isready -q -h /var/run/postgresql -p "$SMOKE_PORT" -d weston && break; sleep 0.5; done
        pg_isready -h /var/run/postgresql -p "$SMOKE_PORT" -d weston || { cat /tmp/postgres.log; exit 1; }
        q() { psql -X -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$SMOKE_PORT" -d "${DB:-weston}" -At -c "$1"; }
        check() { local got; got=$(q "$1"); [ "$got" = "$2" ] || { echo "smoke: $1 gave [$got], expected [$2]"; exit 1; }; }
        check "SELECT extversion FROM pg_extension WHERE extname = '"'"'pg_weston'"'"'" "$WESTON_VERSION"
        # The upgrade scripts ship: an installation of the first release can be updated.
        check "SELECT path IS NOT NULL FROM pg_extension_update_paths('"'"'pg_weston'"'"') WHERE source = '"'"'0.1.0'"'"' AND target = '"'"'$WESTON_VERSION'"'"'" t
        check "SELECT count(*) FROM pg_roles WHERE rolname IN ('"'"'dba'"'"', '"'"'etl_writer'"'"', '"'"'app_rw'"'"', '"'"'app_ro'"'"') AND NOT rolcanlogin" 4
        check "SELECT string_agg(r.rolname, '"'"','"'"' ORDER BY r.rolname) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname IN ('"'"'weston_loader'"'"', '"'"'weston_exporter'"'"')" "app_ro,etl_writer,pg_monitor"
        check "SELECT string_agg(jobname || '"'"' '"'"' || schedule, '"'"', '"'"' ORDER BY jobname) FROM cron.job" "weston_etl_reap 10 6 * * *, weston_rotate_partitions 15 6 * * *"
        check "SHOW shared_preload_libraries" pg_cron
        check "SHOW password_encryption" scram-sha-256
        # pg_hba: loopback and the configured networks only, all scram-sha-256.
        check "SELECT string_agg(coalesce(address, '"'"'local'"'"') || '"'"':'"'"' || auth_method, '"'"' '"'"' ORDER BY line_number) FROM pg_hba_file_rules" \
              "local:peer local:scram-sha-256 127.0.0.1:scram-sha-256 ::1:scram-sha-256 100.64.0.0:scram-sha-256 10.20.0.0:scram-sha-256"
        # CREATE EXTENSION in a second database, rotation, a query.
        q "CREATE DATABASE smoke" >/dev/null
        DB=smoke q "CREATE EXTENSION pg_weston; CREATE TABLE bars (d date NOT NULL, v int) PARTITION BY RANGE (d);
                    CREATE TABLE bars_default PARTITION OF bars DEFAULT;
                    INSERT INTO weston.weston_partition_config (parent) VALUES ('"'"'bars'"'"')" >/dev/null
        DB=smoke check "SELECT weston.weston_rotate_partitions()->>'"'"'status'"'"'" succeeded
        DB=smoke check "SELECT count(*) >= 4 FROM pg_inherits WHERE inhparent = '"'"'bars'"'"'::regclass" t
        check "SELECT count(*) FROM prices_daily" 0
        check "SELECT count(*) > 8 FROM pg_inherits WHERE inhparent = '"'"'weston_data.prices_daily'"'"'::regclass" t
        # Over TCP: scram-sha-256 with the right password only; the loader user is no owner.
        tcp() { PGPASSWORD=$1 psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SMOKE_PORT" -U "$2" -d weston -At -c "$3"; }
        [ "$(tcp loader-smoke weston_loader "SELECT current_user")" = weston_loader ] || { echo "smoke: the loader user cannot log in"; exit 1; }
        ! tcp wrong-password weston_loader "SELECT 1" 2>/dev/null || { echo "smoke: a wrong password was accepted"; exit 1; }
        ! tcp loader-smoke weston_loader "CREATE TABLE t (x int)" 2>/dev/null || { echo "smoke: the loader user could create a table"; exit 1; }
        [ "$(tcp exporter-smoke weston_exporter "SELECT count(*) FROM prices_daily")" = 0 ] || { echo "smoke: the exporter user cannot read"; exit 1; }
        test -x /usr/local/bin/weston-loader && weston-loader --help >/dev/null
        # The nightly job as deploy/compose.yaml runs it (service loader): weston-nightly-loader
        # as weston_loader over TCP with its password, here with the mock provider, a small
        # universe and window, its first night three seconds away; to the end: a succeeded
        # run, rows stored. Then status and audit as weston_loader.
        loader_url="postgres://weston_loader:loader-smoke@127.0.0.1:$SMOKE_PORT/weston"
        # In a process group of its own, so that stopping it stops its sleep too.
        DATABASE_URL=$loader_url WESTON_LOADER_AT=$(date -u -d "+3 seconds" +%H:%M:%S) WESTON_MOCK_SYMBOLS=5 \
            setsid weston-nightly-loader --provider mock --from 2024-01-02 --to 2024-02-29 > /tmp/nightly.log 2>&1 &
        nightly=$!
        for _ in $(seq 1 240); do
            [ "$(q "SELECT count(*) FROM etl_run WHERE status <> '"'"'running'"'"'")" -ge 1 ] && break
            grep -q "weston-nightly-loader:" /tmp/nightly.log && break   # the run failed
            sleep 0.5
        done
        sleep 1   # the script reports a failed run after weston-loader exits
        kill -- "-$nightly"
        grep -q "^run 1 succeeded" /tmp/nightly.log && ! grep -q "weston-nightly-loader:" /tmp/nightly.log \
            || { echo "smoke: the nightly job as weston_loader did not succeed:"; cat /tmp/nightly.log; exit 1; }
        check "SELECT string_agg(job_name || '"'"' '"'"' || status, '"'"', '"'"') FROM etl_run" "weston-loader run succeeded"
        check "SELECT count(DISTINCT symbol) || '"'"' '"'"' || (count(*) > 100) FROM prices_daily" "5 true"
        DATABASE_URL=$loader_url weston-loader status > /tmp/status.log 2>&1 \
            || { echo "smoke: status as weston_loader failed:"; cat /tmp/status.log; exit 1; }
        grep -q "succeeded" /tmp/status.log || { echo "smoke: status shows no run:"; cat /tmp/status.log; exit 1; }
        DATABASE_URL=$loader_url weston-loader audit > /tmp/audit.log 2>&1 \
            || { echo "smoke: audit as weston_loader failed:"; cat /tmp/audit.log; exit 1; }
        command -v pgbackrest rclone gpg >/dev/null   # the backup tools (deploy/backup/)
        test ! -e /usr/local/cargo && test ! -e /src   # nothing of the build stage
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
        echo "smoke test passed"
    '

# The compiled files an image installs, extracted into DIR, and their manifest: one line per
# file, its sha256, or for an ELF file in "source" mode (another build of the same source:
# the bytes hold that build's paths) the sha256 of its exported symbols and of its --help.
extract_installed() { # image dir
    local ctr
    ctr=$(podman create --pull=never "$1")
    rm -rf "$2" && mkdir -p "$2"
    podman export "$ctr" | tar -x -C "$2" --wildcards 'usr/lib/postgresql/15/lib/pg_weston*' \
        'usr/share/postgresql/15/extension/pg_weston*' usr/local/bin/weston-loader
    podman rm "$ctr" >/dev/null
}
manifest() { # dir bytes|source
    (cd "$1" && find . -type f | sort | while read -r f; do
        if [ "$2" = source ] && [ "$(head -c 4 "$f" | tail -c 3)" = ELF ]; then
            # The library is executable too (mode 755) but runs nothing: its symbols.
            case "$f" in *.so) nm -D --defined-only "$f" | awk '{print $3}' | sort ;; *) "$f" --help ;; esac \
                | sha256sum | sed "s|-\$|$f (symbols or --help)|"
        else
            sha256sum "$f"
        fi
    done)
}
compare_manifests() { # what, left file, right file
    diff -u "$2" "$3" > "$work/manifest.diff" \
        || { cat "$work/manifest.diff" >&2; log "image: $1 differ (see $work/manifest.diff)"; exit 1; }
}

step "the image holds exactly the staged files"
staged="$work/installed-staged"
rm -rf "$staged" && mkdir -p "$staged/usr/local/bin"
cp -a "$context/image-artifacts/extension/." "$staged/"
cp "$context/image-artifacts/weston-loader" "$staged/usr/local/bin/"
extract_installed "$image" "$work/installed-prebuilt"
manifest "$staged" bytes > "$work/manifest.staged"
manifest "$work/installed-prebuilt" bytes > "$work/manifest.prebuilt"
compare_manifests "the staged files and the image's" "$work/manifest.staged" "$work/manifest.prebuilt"
files=$(grep -c '' "$work/manifest.prebuilt")
[ "$files" -ge 4 ] || { log "image: only $files compiled files in the image"; exit 1; }
finished=$(date +%s)
log "image $image: built in $((built - started))s, smoke test and file check $((finished - built))s, $files compiled files, $(podman image inspect "$image" --format '{{.Size}}' | numfmt --to=iec)"

if [ "$from_source" = 1 ]; then
    step "cargo vendor (the build stage cannot reach crates.io through this machine's proxy)"
    cargo vendor --locked --versioned-dirs -q "$work/vendor" >/dev/null
    step "podman build Dockerfile.pg15 --target from-source (compiles the workspace inside)"
    podman build --isolation=chroot --network=host --pull=never --volume "$work/vendor:/opt/cargo-vendor:ro" \
        --build-arg BASE_IMAGE="$base" --build-arg BUILDER_IMAGE="$builder" \
        --target from-source -f Dockerfile.pg15 -t "$image-from-source" . > "$work/build-from-source.log" 2>&1 \
        || { tail -n 40 "$work/build-from-source.log" >&2; log "from-source build failed (log: $work/build-from-source.log)"; exit 1; }
    podman image prune -f >/dev/null
    extract_installed "$image-from-source" "$work/installed-from-source"
    manifest "$work/installed-prebuilt" source > "$work/manifest.prebuilt.source"
    manifest "$work/installed-from-source" source > "$work/manifest.from-source"
    compare_manifests "the prebuilt and the from-source images' files" "$work/manifest.prebuilt.source" "$work/manifest.from-source"
    log "image: from-source and prebuilt install the same $files files (from-source built in $(( $(date +%s) - finished ))s)"
fi
