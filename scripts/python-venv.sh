#!/usr/bin/env bash
# The Python virtual environment of pg_weston's Python tests and examples (python/requirements.txt:
# Alembic, SQLAlchemy, psycopg from PyPI), outside the repository, created once and reused:
# $WESTON_CACHE/venv-<hash of the requirements>, WESTON_CACHE defaulting to /var/cache/pg_weston
# where that is writable (CI, as root), else ~/.cache/pg_weston (a laptop). Prints its directory.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
requirements="$root/python/requirements.txt"
hash=$(sha256sum "$requirements" | cut -c1-12)
if [ -z "${WESTON_CACHE:-}" ]; then
    if [ -w /var/cache ]; then WESTON_CACHE=/var/cache/pg_weston; else WESTON_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pg_weston"; fi
fi
venv="$WESTON_CACHE/venv-$hash"
if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    touch "$venv/.complete"
fi
echo "$venv"
