#!/usr/bin/env bash
# The Python virtual environment of pg_weston's Python tests, examples and benchmark:
# python/requirements.txt (Alembic, SQLAlchemy, psycopg from PyPI) and the `weston` package
# (python/, with its pinned dependencies and polars), outside the repository, created once
# and reused: $WESTON_CACHE/venv-<hash of the requirements and python/pyproject.toml>,
# WESTON_CACHE defaulting to /var/cache/pg_weston where that is writable (CI, as root), else
# ~/.cache/pg_weston (a laptop). The package is installed again whenever its sources change.
# Tests run at the same time share it: one caller at a time builds. Prints its directory.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
requirements="$root/python/requirements.txt"
hash=$(cat "$requirements" "$root/python/pyproject.toml" | sha256sum | cut -c1-12)
if [ -z "${WESTON_CACHE:-}" ]; then
    if [ -w /var/cache ]; then WESTON_CACHE=/var/cache/pg_weston; else WESTON_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pg_weston"; fi
fi
venv="$WESTON_CACHE/venv-$hash"
mkdir -p "$WESTON_CACHE"
exec 9>"$venv.lock"
flock 9
pip=("$venv/bin/pip" install --quiet --disable-pip-version-check)
# The package is built from a copy so that the work tree gets no build files.
sources=$(cd "$root/python" && find pyproject.toml weston -name '*.py' -o -name '*.toml' | sort | xargs sha256sum | sha256sum | cut -c1-12)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -r "$root/python/pyproject.toml" "$root/python/weston" "$copy/"
if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "${pip[@]}" -r "$requirements" "$copy[polars]" >&2
    echo "$sources" > "$venv/.weston"
    touch "$venv/.complete"
elif [ "$(cat "$venv/.weston" 2>/dev/null)" != "$sources" ]; then
    "${pip[@]}" --no-deps --force-reinstall "$copy" >&2
    echo "$sources" > "$venv/.weston"
fi
echo "$venv"
