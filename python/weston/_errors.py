"""What a read can fail with. Every error is a WestonError whose message says what is wrong;
none needs its traceback read."""


class WestonError(Exception):
    """Any error of the weston package."""


class ArgumentError(WestonError, ValueError):
    """A bad argument: an unknown adjust, a start after the end, a symbol that is not text."""


class ConfigError(WestonError):
    """Where the database is cannot be known: no DATABASE_URL, a malformed .env.local."""


class DatabaseError(WestonError):
    """The database could not be reached, or refused the read (a permission, pg_weston missing)."""
