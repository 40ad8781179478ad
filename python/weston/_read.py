"""One read of daily bars into a DataFrame.

Floats (the default) travel as one binary COPY of fixed-width rows: the database turns each
numeric into its nearest float8 (weston_float8, as Python's float(Decimal) does), sends dates
as their day numbers and each symbol as its UTF-8 bytes padded to the longest asked for, so
numpy reads the whole stream as one structured array, with no Python object per value. Exact
reads (Decimal) go through a binary cursor, whose numeric loader is psycopg's C one."""

import datetime
import re
import struct

import numpy as np
import psycopg
from psycopg import sql

from ._connect import connect
from ._errors import ArgumentError, DatabaseError

ADJUSTMENTS = ("split", "total", None)
FRAMES = ("pandas", "polars")
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
FACTOR_COLUMNS = ("price_factor", "volume_factor")

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# PostgreSQL counts dates from 2000-01-01, numpy from 1970-01-01.
_PG_EPOCH_DAYS = 10957


class Read:
    """A checked request: what to read and how to shape it."""

    def __init__(self, symbols, start, end, adjust, as_of, exact, frame, factors, known_on=None):
        if adjust not in ADJUSTMENTS:
            raise ArgumentError(f'adjust must be "split", "total" or None, not {adjust!r}')
        if frame not in FRAMES:
            raise ArgumentError(f'frame must be "pandas" or "polars", not {frame!r}')
        if frame == "polars":
            _polars_module()
        if factors and adjust is None:
            raise ArgumentError("factors=True needs an adjusted read (adjust='split' or 'total')")
        self.symbols = _symbols(symbols)
        self.start = _date(start, "start")
        self.end = _date(end, "end")
        if self.start > self.end:
            raise ArgumentError(f"start ({self.start}) is after end ({self.end})")
        self.as_of = None if as_of is None else _date(as_of, "as_of")
        self.known_on = None if known_on is None else _moment(known_on)
        self.adjust = adjust
        self.exact = bool(exact)
        self.frame = frame
        self.columns = PRICE_COLUMNS + (FACTOR_COLUMNS if factors else ())
        # The longest symbol in bytes: every row's symbol is one of those asked for (the
        # name asked for, whatever the security traded as before).
        self.width = max((len(s.encode()) for s in self.symbols), default=1)

    def parameters(self):
        return {
            "symbols": self.symbols,
            "start": self.start,
            "end": self.end,
            "as_of": self.as_of,
            "known_on": self.known_on,
            "total": self.adjust == "total",
            "pad": b"\x00" * self.width,
        }


def _symbols(symbols):
    if isinstance(symbols, str):
        symbols = [symbols]
    try:
        listed = list(symbols)
    except TypeError:
        raise ArgumentError(
            f"symbols must be a symbol or a list of symbols, not {type(symbols).__name__}"
        ) from None
    for s in listed:
        if not isinstance(s, str) or not s:
            raise ArgumentError(f"every symbol must be a non-empty str, not {s!r}")
        if "\x00" in s:
            raise ArgumentError(f"a symbol cannot contain NUL: {s!r}")
    return sorted(set(listed))


def _date(value, name):
    if isinstance(value, datetime.datetime):
        if value.time() != datetime.time(0):
            raise ArgumentError(f"{name} must be a date, not a time of day: {value!r}")
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise ArgumentError(f"{name} is not a date (YYYY-MM-DD): {value!r}") from None
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        return _date(value.to_pydatetime(), name)
    raise ArgumentError(f"{name} must be a date or 'YYYY-MM-DD', not {type(value).__name__}")


# A moment names its offset: the same text must mean the same moment in any session.
_OFFSET = re.compile(r"\d(Z|[+-]\d{2}(:?\d{2}){0,2})$", re.IGNORECASE)


def _moment(value):
    """known_on as PostgreSQL takes it: a datetime that knows its time zone, or a timestamp's
    text with its offset ('2026-03-31 16:05:12.48+00', as PostgreSQL prints now())."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()  # a pandas Timestamp (PostgreSQL keeps microseconds)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ArgumentError(
                f"known_on must know its time zone (a moment, not a wall-clock time): {value!r}"
            )
        return value
    if isinstance(value, str):
        if not _OFFSET.search(value.strip()):
            raise ArgumentError(
                f"known_on must end with its offset (Z, +00, -05:00), as PostgreSQL prints now(): {value!r}"
            )
        return value.strip()
    raise ArgumentError(
        f"known_on must be a datetime with a time zone or a timestamp's text, not {type(value).__name__}"
    )


def _source(schema, read):
    """FROM ... for the read: (relation, its symbol, its date, its columns by name).

    Adjusted reads call weston_adjusted_prices. Raw reads join the bars to the same
    identity the adjusted read resolves (weston_ticker_pieces: the security each symbol
    names as of as_of, under the name asked for, its bars under earlier tickers included),
    so raw and adjusted give the same rows and differ only by the factors. With known_on,
    both read everything as the database knew it then (raw bars through
    weston_prices_daily_known)."""
    s = sql.Identifier(schema)
    if read.adjust is None:
        # Piece by piece in symbol order, each piece's bars by date from its index: the
        # ORDER BY below is then an incremental sort within each symbol, not a sort of
        # every row (3x faster at 750 symbols x 10 years).
        # The bars as stored, or (known_on) as known then: each read names only its own.
        if read.known_on is None:
            bars = (
                "SELECT * FROM {s}.prices_daily b WHERE b.symbol = q.traded"
                "  AND b.date >= greatest(q.valid_from, %(start)s::date)"
                "  AND b.date <= least(q.valid_to, %(end)s::date) ORDER BY b.date"
            )
        else:
            bars = (
                "SELECT * FROM {s}.weston_prices_daily_known(q.traded,"
                "  greatest(q.valid_from, %(start)s::date), least(q.valid_to, %(end)s::date),"
                "  %(known_on)s::timestamptz) b ORDER BY b.date"
            )
        relation = sql.SQL(
            "(SELECT * FROM {s}.weston_ticker_pieces(%(symbols)s::text[], %(as_of)s::date,"
            "  %(known_on)s::timestamptz) q0"
            "  ORDER BY q0.symbol, q0.valid_from OFFSET 0) q"
            " CROSS JOIN LATERAL (" + bars + ") p"
        ).format(s=s)
        return relation, sql.SQL("q.symbol"), sql.SQL("p.date"), lambda c: sql.SQL("p.") + sql.Identifier(c)
    relation = sql.SQL(
        "{s}.weston_adjusted_prices(%(symbols)s::text[], %(start)s::date, %(end)s::date,"
        " %(as_of)s::date, %(total)s, %(known_on)s::timestamptz) a"
    ).format(s=s)
    return relation, sql.SQL("a.symbol"), sql.SQL("a.date"), lambda c: sql.SQL("a.") + sql.Identifier(c)


def query(schema, read, fast_float=True):
    """The SELECT of `read`, ordered by symbol, date. fast_float: the floats come from
    pg_weston's weston_float8 (since 0.13.0; the same doubles as ::float8, without printing
    each numeric and parsing it back), else from ::float8."""
    relation, symbol, date, column = _source(schema, read)
    days = sql.SQL("({} - DATE '1970-01-01')").format(date)
    if read.exact:
        head = [symbol, days]
        values = [column(c) for c in read.columns]
    else:
        head = [
            sql.SQL("substring(convert_to({}, 'UTF8') || %(pad)s::bytea FROM 1 FOR {})").format(
                symbol, sql.Literal(read.width)
            ),
            days,
        ]
        if fast_float:
            weston_float8 = sql.SQL("{}.weston_float8").format(sql.Identifier(schema))
            values = [sql.SQL("{}({})").format(weston_float8, column(c)) for c in read.columns]
        else:
            values = [sql.SQL("{}::float8").format(column(c)) for c in read.columns]
    return sql.SQL("SELECT {} FROM {} ORDER BY {}, {}").format(
        sql.SQL(", ").join(head + values), relation, symbol, date
    )


def extension(conn):
    """The schema pg_weston lives in on this database (names are qualified with it, so the
    session's search_path decides nothing), and whether it has weston_float8 (an
    installation not yet updated to 0.13.0 does not) for this login to call."""
    row = conn.execute(
        "SELECT n.nspname, EXISTS (SELECT FROM pg_catalog.pg_proc p"
        "  WHERE p.pronamespace = n.oid AND p.proname = 'weston_float8'"
        "    AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE'))"
        " FROM pg_catalog.pg_extension e"
        " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_weston'"
    ).fetchone()
    if row is None:
        raise DatabaseError("pg_weston is not installed in this database")
    return row


def fetch(conn, read):
    """The columns of `read` as numpy arrays: symbol (object), date (datetime64[D]), then
    float64 columns, or object columns of Decimal when exact."""
    schema, fast_float = extension(conn)
    statement = query(schema, read, fast_float)
    params = read.parameters()
    if read.exact:
        with conn.cursor(binary=True) as cur:
            cur.execute(statement, params)
            rows = cur.fetchall()
        return _exact_columns(rows, read)
    copy = sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(statement)
    buffer = bytearray()
    with conn.cursor() as cur:
        with cur.copy(copy, params) as stream:
            for chunk in stream:
                buffer += chunk
    return _float_columns(buffer, read)


def _exact_columns(rows, read):
    width = 2 + len(read.columns)
    columns = list(zip(*rows)) if rows else [()] * width
    out = {
        "symbol": np.array(columns[0], dtype=object),
        "date": np.array(columns[1], dtype=np.int64).astype("datetime64[D]"),
    }
    for name, values in zip(read.columns, columns[2:]):
        array = np.empty(len(values), dtype=object)
        array[:] = values
        out[name] = array
    return out


def _float_columns(buffer, read):
    if not buffer.startswith(_COPY_SIGNATURE):
        raise DatabaseError("the database's COPY stream is not binary COPY")
    (extension,) = struct.unpack_from(">i", buffer, len(_COPY_SIGNATURE) + 4)
    body = memoryview(buffer)[len(_COPY_SIGNATURE) + 8 + extension :]
    if bytes(body[-2:]) != b"\xff\xff":
        raise DatabaseError("the database's COPY stream ends early")
    body = body[:-2]
    fields = [("n", ">i2"), ("l_symbol", ">i4"), ("symbol", f"S{read.width}"), ("l_date", ">i4"), ("date", ">i4")]
    for c in read.columns:
        fields += [(f"l_{c}", ">i4"), (c, ">f8")]
    layout = np.dtype(fields)
    if len(body) % layout.itemsize:
        raise DatabaseError("the database's rows are not the expected fixed width")
    rows = np.frombuffer(body, dtype=layout)
    expected = [("n", 2 + len(read.columns)), ("l_symbol", read.width), ("l_date", 4)]
    expected += [(f"l_{c}", 8) for c in read.columns]
    for field, value in expected:
        if rows.size and not (rows[field] == value).all():
            raise DatabaseError(f"the database's rows are not the expected fixed width ({field})")
    out = {
        "symbol": _symbol_column(rows["symbol"]),
        "date": rows["date"].astype(np.int64).astype("datetime64[D]"),
    }
    for c in read.columns:
        out[c] = rows[c].astype(np.float64)
    return out


def _symbol_column(padded):
    """The symbol of each row as str; rows come grouped by symbol, so each distinct one is
    decoded once. (numpy's bytes dtype drops the NUL padding.)"""
    if padded.size == 0:
        return np.empty(0, dtype=object)
    starts = np.concatenate(([0], np.flatnonzero(padded[1:] != padded[:-1]) + 1))
    names = np.array([padded[i].decode() for i in starts], dtype=object)
    lengths = np.diff(np.append(starts, padded.size))
    return np.repeat(names, lengths)


def frame(columns, read):
    if read.frame == "polars":
        return _polars(columns, read)
    import pandas as pd

    columns = dict(columns)
    columns["date"] = columns["date"].astype("datetime64[ns]")
    return pd.DataFrame(columns, copy=False)


def _polars_module():
    try:
        import polars
    except ImportError:
        raise ArgumentError(
            'frame="polars" needs polars: pip install "./python[polars]" (or polars itself)'
        ) from None
    return polars


def _polars(columns, read):
    pl = _polars_module()
    series = [
        pl.Series("symbol", columns["symbol"], dtype=pl.Utf8),
        pl.Series("date", columns["date"]).cast(pl.Date),
    ]
    for c in read.columns:
        if read.exact:
            series.append(_polars_decimal(pl, c, columns[c]))
        else:
            series.append(pl.Series(c, columns[c], dtype=pl.Float64))
    return pl.DataFrame(series)


def _polars_decimal(pl, name, values):
    """An exact column as polars' Decimal (38 digits at most, one scale per column)."""
    scale = max((-v.as_tuple().exponent for v in values), default=0)
    scale = max(scale, 0)
    digits = max((v.adjusted() + 1 for v in values if v != 0), default=1) + scale
    if digits > 38:
        raise ArgumentError(
            f"{name} needs {digits} digits exactly; polars' Decimal holds 38:"
            ' read it with frame="pandas" (Decimal objects) or exact=False'
        )
    return pl.Series(name, list(values), dtype=pl.Decimal(38, scale))


def read(read, conn=None):
    """Runs `read` on `conn` (a psycopg connection, left open), a URL, or DATABASE_URL."""
    own = not isinstance(conn, psycopg.Connection)
    connection = connect(conn) if own else conn
    # A caller's connection is left as it was found: a transaction this read opened is
    # ended (it only read), one the caller had open is theirs.
    opened = not own and connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    try:
        try:
            columns = fetch(connection, read)
        except psycopg.Error as e:
            diag = getattr(e, "diag", None)
            message = (diag.message_primary if diag and diag.message_primary else str(e)).strip()
            raise DatabaseError(f"the read failed: {message}") from None
    finally:
        if own:
            connection.close()
        elif opened and not connection.autocommit and not connection.closed:
            connection.rollback()
    return frame(columns, read)

