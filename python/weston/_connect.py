"""Where the database is, as weston-loader finds it: DATABASE_URL from the environment, else
from `.env.local` in the working directory (the environment wins, as dotenv does for the
loader); a missing `.env.local` is normal, a malformed one is an error. The connect timeout
is the loader's too: WESTON_DB_CONNECT_TIMEOUT_SECS, 10 seconds by default."""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from ._errors import ArgumentError, ConfigError, DatabaseError

ENV_FILE = ".env.local"
TIMEOUT_ENV = "WESTON_DB_CONNECT_TIMEOUT_SECS"
APPLICATION_NAME = "weston (python)"

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "$": "$"}


def _value(raw, path, number):
    """One value of a dotenv line: single quotes literal, double quotes with backslash
    escapes, unquoted up to a comment (` #`)."""
    if raw[:1] == "'":
        if len(raw) < 2 or not raw.endswith("'"):
            raise ConfigError(f"{path}: line {number}: unterminated single quote")
        return raw[1:-1]
    if raw[:1] == '"':
        if len(raw) < 2 or not raw.endswith('"'):
            raise ConfigError(f"{path}: line {number}: unterminated double quote")
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw[1:-1])
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def read_env_file(path):
    """The variables of a dotenv file, or {} when it does not exist."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read: {e}") from None
    found = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ConfigError(f"{path}: line {number}: not NAME=value")
        found[match.group(1)] = _value(match.group(2), path, number)
    return found


def setting(name):
    """A setting from the environment, else from `.env.local` in the working directory."""
    if name in os.environ:
        return os.environ[name]
    return read_env_file(ENV_FILE).get(name)


def database_url():
    """DATABASE_URL, checked as the loader checks it (never echoing it: it may hold a password)."""
    url = setting("DATABASE_URL")
    if url is None or url == "":
        raise ConfigError(
            "DATABASE_URL is not set (the environment, or .env.local in the working directory)"
        )
    return checked(url)


def checked(url):
    """`url` if it is a postgres:// URL, else a ConfigError saying what it is."""
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme not in ("postgres", "postgresql"):
        raise ConfigError(
            "the database URL must start with postgres:// or postgresql://"
            + (f", not {scheme}://" if scheme else "")
        )
    return url


def connect_timeout():
    raw = setting(TIMEOUT_ENV)
    if raw is None:
        return 10
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if not 1 <= seconds <= 300:
        raise ConfigError(f"{TIMEOUT_ENV} must be a whole number of seconds from 1 to 300, not {raw!r}")
    return seconds


def describe(url):
    """The URL without user information and query: what a message may show."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def connect(url=None):
    """A new connection to `url` (default: DATABASE_URL), or a clear error saying why not."""
    if url is None:
        url = database_url()
    elif isinstance(url, str):
        url = checked(url)
    else:
        raise ArgumentError(
            f"conn must be a psycopg connection or a postgres:// URL, not {type(url).__name__}"
        )
    try:
        return psycopg.connect(
            url, connect_timeout=connect_timeout(), application_name=APPLICATION_NAME
        )
    except psycopg.Error as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DatabaseError(f"cannot connect to the database ({describe(url)}): {message}") from None
