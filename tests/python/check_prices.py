"""weston.prices against the SQL it stands for, as an analyst (an app_ro login) runs it.
Run by tests/tests/python_clients.rs on the mock market with MOCK0004 renamed NEWFOUR on
RENAMED (its bars from then on under NEWFOUR), and MOCK0006 recycled on RECYCLED (its first
holder renamed SIXOLD, a new security listed under it), from a working directory of its own:

    python check_prices.py URL FROM TO RENAMED RECYCLED KNOWN

KNOWN is a moment (text with its offset) taken before the renames were recorded.

Every frame is compared with what SQL gives for the same read: exact reads value for value
and digit for digit, float reads equal to float(Decimal) of the same value. Prints the
number of checks and exits 1 naming the first that failed."""

import datetime
import os
import sys
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

import weston

URL, FROM, TO, RENAMED, RECYCLED, KNOWN = sys.argv[1:7]
SYMBOLS = ["MOCK0001", "MOCK0002", "MOCK0003", "MOCK0004", "MOCK0005", "MOCK0006", "NEWFOUR", "SIXOLD", "NOSUCH"]
PRICES = ["open", "high", "low", "close", "volume"]
FACTORS = ["price_factor", "volume_factor"]
BEFORE_RENAME = str(datetime.date.fromisoformat(RENAMED) - datetime.timedelta(days=10))
checks = 0


def check(ok, what):
    global checks
    if not ok:
        sys.exit(f"FAILED: {what}")
    checks += 1


def sql_rows(conn, query, params):
    """Rows as SQL gives them in text (Decimal from the numeric's own digits)."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def adjusted_sql(conn, adjust, as_of):
    return sql_rows(
        conn,
        "SELECT symbol, date, open, high, low, close, volume, price_factor, volume_factor"
        "  FROM weston.weston_adjusted_prices(%s::text[], %s::date, %s::date, %s::date, %s)",
        (SYMBOLS, FROM, TO, as_of, adjust == "total"),
    )


def frame_rows(df, columns):
    out = []
    for values in zip(*(df[c].tolist() for c in ["symbol", "date"] + columns)):
        day = values[1]
        day = day.date() if isinstance(day, (pd.Timestamp, datetime.datetime)) else day
        out.append((values[0], day) + tuple(values[2:]))
    return out


def check_frame_shape(df, columns, exact, what):
    check(list(df.columns) == ["symbol", "date"] + columns, f"{what}: columns {list(df.columns)}")
    check(str(df["date"].dtype) == "datetime64[ns]", f"{what}: date dtype {df['date'].dtype}")
    for c in columns:
        want = "object" if exact else "float64"
        check(str(df[c].dtype) == want, f"{what}: {c} dtype {df[c].dtype}")
        if exact:
            check(all(isinstance(v, Decimal) for v in df[c]), f"{what}: {c} holds Decimal")


def check_equal(got, want, exact, what):
    check(len(got) == len(want), f"{what}: {len(got)} rows, SQL gives {len(want)}")
    for g, w in zip(got, want):
        check(g[:2] == w[:2], f"{what}: row {g[:2]}, SQL gives {w[:2]} (order or identity)")
        for name, gv, wv in zip(["open", "high", "low", "close", "volume"] + FACTORS, g[2:], w[2:]):
            if exact:
                check(gv == wv and str(gv) == str(wv), f"{what}: {w[:2]} {name} {gv!r}, SQL gives {wv!r}")
            else:
                check(gv == float(wv), f"{what}: {w[:2]} {name} {gv!r}, float(SQL) is {float(wv)!r}")


def main():
    os.environ["DATABASE_URL"] = URL
    with psycopg.connect(URL) as conn:
        raws, adjusteds = {}, {}
        for as_of in (None, BEFORE_RENAME):
            for adjust in ("split", "total"):
                want = adjusted_sql(conn, adjust, as_of)
                check(len(want) > 500, f"the mock market has bars ({len(want)})")
                for exact in (True, False):
                    what = f"adjust={adjust} as_of={as_of} exact={exact}"
                    df = weston.prices(SYMBOLS, FROM, TO, adjust=adjust, as_of=as_of, exact=exact, factors=True)
                    check_frame_shape(df, PRICES + FACTORS, exact, what)
                    check_equal(frame_rows(df, PRICES + FACTORS), want, exact, what)
                    plain = weston.prices(SYMBOLS, FROM, TO, adjust=adjust, as_of=as_of, exact=exact)
                    check(list(plain.columns) == ["symbol", "date"] + PRICES, f"{what}: no factors unless asked")
                    check(plain.equals(df[plain.columns]), f"{what}: the same without factors")
                adjusteds[(adjust, as_of)] = want
            # Raw: the same rows as the adjusted read (same identity), prices as traded, so that
            # raw times the factor is the adjusted value exactly.
            raw = weston.prices(SYMBOLS, FROM, TO, adjust=None, as_of=as_of, exact=True)
            check_frame_shape(raw, PRICES, True, f"raw as_of={as_of}")
            raw_rows = frame_rows(raw, PRICES)
            raws[as_of] = raw_rows
            with localcontext() as ctx:
                ctx.prec = 200
                for adjust in ("split", "total"):
                    want = adjusteds[(adjust, as_of)]
                    check(len(raw_rows) == len(want), f"raw as_of={as_of}: the rows of adjust={adjust}")
                    for r, a in zip(raw_rows, want):
                        check(r[:2] == a[:2], f"raw as_of={as_of}: row {r[:2]} is {a[:2]} adjusted")
                        pf, vf = a[7], a[8]
                        for name, rv, av, f in zip(PRICES, r[2:], a[2:7], [pf] * 4 + [vf]):
                            check(rv * f == av, f"raw as_of={as_of} {r[:2]} {name}: {rv} x {f} is not {av}")
            floats = weston.prices(SYMBOLS, FROM, TO, adjust=None, as_of=as_of)
            check_frame_shape(floats, PRICES, False, f"raw floats as_of={as_of}")
            check_equal(frame_rows(floats, PRICES), raw_rows, False, f"raw floats as_of={as_of}")

        # Raw bars are the table's, as traded.
        table = sql_rows(
            conn,
            "SELECT symbol, date, open, high, low, close, volume FROM weston.prices_daily"
            " WHERE symbol = ANY (%s) AND date BETWEEN %s AND %s ORDER BY symbol, date",
            (["MOCK0001", "MOCK0002", "MOCK0003", "MOCK0005"], FROM, TO),
        )
        plain = [r for r in raws[None] if r[0] not in ("MOCK0004", "NEWFOUR", "MOCK0006", "SIXOLD")]
        check_equal(plain, table, True, "raw = weston.prices_daily")
        # A recycled ticker names its new holder: its bars from the day it took the ticker;
        # the first holder's, under its later name.
        six = sql_rows(
            conn,
            "SELECT symbol, date, open, high, low, close, volume FROM weston.prices_daily"
            " WHERE symbol = 'MOCK0006' AND date BETWEEN %s AND %s ORDER BY date",
            (FROM, TO),
        )
        recycled = datetime.date.fromisoformat(RECYCLED)
        check_equal([r for r in raws[None] if r[0] == "MOCK0006"], [r for r in six if r[1] >= recycled], True,
                    "MOCK0006 today: its new holder's bars")
        check_equal([r for r in raws[None] if r[0] == "SIXOLD"], [("SIXOLD",) + r[1:] for r in six if r[1] < recycled],
                    True, "SIXOLD: MOCK0006's first holder's bars under its later name")
        old = sql_rows(
            conn,
            "SELECT 'NEWFOUR', date, open, high, low, close, volume FROM weston.prices_daily"
            " WHERE symbol = 'MOCK0004' AND date BETWEEN %s AND %s ORDER BY date",
            (FROM, TO),
        )
        check(old and old[-1][1] < datetime.date.fromisoformat(RENAMED), "MOCK0004's bars end at the rename")
        newfour = [r for r in raws[None] if r[0] == "NEWFOUR"]
        check_equal(newfour[: len(old)], old, True, "NEWFOUR today: MOCK0004's bars under the name asked for")
        check(len(newfour) > len(old), "NEWFOUR today: its own bars too")
        # As of before the rename NEWFOUR names nothing yet, and MOCK0004 ends where it did.
        check(not [r for r in raws[BEFORE_RENAME] if r[0] == "NEWFOUR"], "NEWFOUR before its first day: no rows")
        check(
            [r for r in raws[BEFORE_RENAME] if r[0] == "MOCK0004"] == [("MOCK0004",) + r[1:] for r in old],
            "MOCK0004 as of before the rename: its own bars",
        )
        # ...and as_of changes no bar of a ticker that never changed.
        check(
            [r for r in raws[BEFORE_RENAME] if r[0] == "MOCK0001"] == [r for r in raws[None] if r[0] == "MOCK0001"],
            "raw bars do not depend on as_of",
        )
        check(
            adjusteds[("split", None)] != adjusteds[("split", BEFORE_RENAME)],
            "adjusted as of an earlier day leaves later events out",
        )

        # Polars, when installed: the same values.
        try:
            import polars  # noqa: F401
        except ImportError:
            print("polars is not installed: frame='polars' not checked")
        else:
            for exact in (False, True):
                pl_df = weston.prices(SYMBOLS, FROM, TO, adjust="total", exact=exact, frame="polars", factors=True)
                check(type(pl_df).__module__.startswith("polars"), "frame='polars' gives a polars DataFrame")
                check(str(pl_df.schema["date"]) == "Date", f"polars date is Date: {pl_df.schema['date']}")
                got = [tuple(r) for r in pl_df.iter_rows()]
                want = adjusteds[("total", None)]
                if not exact:
                    check_equal(got, want, False, "polars floats")
                    continue
                # polars' Decimal has one scale per column: equal in value, not in digits.
                check(len(got) == len(want), "polars exact: the rows of SQL")
                for g, w in zip(got, want):
                    check(g[:2] == w[:2] and list(g[2:]) == list(w[2:]), f"polars exact {w[:2]}: {g[2:]} is not {w[2:]}")

        check_known_on(conn, raws, adjusteds)
        check_float_fallback(conn, adjusteds)

        # One symbol as a str; a pandas Timestamp and a date for the window; the caller's
        # connection left open and idle.
        conn.commit()
        one = weston.prices("MOCK0003", pd.Timestamp(FROM), datetime.date.fromisoformat(TO), conn=conn)
        check(set(one["symbol"]) == {"MOCK0003"} and len(one) > 100, "one symbol as a str")
        check(not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE,
              "the caller's connection is left open and idle")
        none = weston.prices(["NOSUCH"], FROM, TO)
        check(len(none) == 0 and list(none.columns) == ["symbol", "date"] + PRICES, "an unknown symbol: no rows")
        check(str(none["close"].dtype) == "float64", "an empty frame keeps its dtypes")

    check_errors()
    print(f"{checks} checks passed")


def check_known_on(conn, raws, adjusteds):
    """known_on: every frame as the database knew it at KNOWN, before the renames were
    recorded, equal to what SQL gives for the same read as known."""
    moment = sql_rows(conn, "SELECT %s::timestamptz", (KNOWN,))[0][0]  # a datetime with its zone
    for adjust in ("split", "total"):
        want = sql_rows(
            conn,
            "SELECT symbol, date, open, high, low, close, volume, price_factor, volume_factor"
            "  FROM weston.weston_adjusted_prices(%s::text[], %s::date, %s::date, NULL, %s, %s::timestamptz)",
            (SYMBOLS, FROM, TO, adjust == "total", KNOWN),
        )
        check(want != adjusteds[(adjust, None)], f"known_on adjust={adjust}: the renames since change today's read")
        for exact, known_on in ((True, KNOWN), (False, moment), (False, pd.Timestamp(moment))):
            what = f"known_on={known_on!r} adjust={adjust} exact={exact}"
            df = weston.prices(SYMBOLS, FROM, TO, adjust=adjust, known_on=known_on, exact=exact, factors=True)
            check_frame_shape(df, PRICES + FACTORS, exact, what)
            check_equal(frame_rows(df, PRICES + FACTORS), want, exact, what)
    # Raw as known then: MOCK0004 still had every bar later renamed NEWFOUR's, NEWFOUR none.
    raw = frame_rows(weston.prices(SYMBOLS, FROM, TO, adjust=None, known_on=KNOWN, exact=True), PRICES)
    newfour_today = [r for r in raws[None] if r[0] == "NEWFOUR"]
    check(not [r for r in raw if r[0] == "NEWFOUR"], "raw known_on: NEWFOUR named nothing yet")
    check(
        [r for r in raw if r[0] == "MOCK0004"] == [("MOCK0004",) + r[1:] for r in newfour_today],
        "raw known_on: MOCK0004's bars as they were, under MOCK0004",
    )
    check(
        [r for r in raw if r[0] == "MOCK0001"] == [r for r in raws[None] if r[0] == "MOCK0001"],
        "raw known_on: a ticker nothing changed reads the same",
    )
    floats = frame_rows(weston.prices(SYMBOLS, FROM, TO, adjust=None, known_on=moment), PRICES)
    check_equal(floats, raw, False, "raw floats known_on")


def check_float_fallback(conn, adjusteds):
    """On an installation not yet updated to 0.13.0 (no weston_float8) float reads use
    ::float8: the same frame. The read's SQL says which it ran."""
    import weston._read as read_module

    check(read_module.extension(conn) == ("weston", True), "pg_weston here has weston_float8")
    request = read_module.Read(SYMBOLS, FROM, TO, "total", None, False, "pandas", True)
    check("weston_float8" in read_module.query("weston", request, True).as_string(conn), "the fast read calls it")
    check("::float8" in read_module.query("weston", request, False).as_string(conn), "the fallback casts")
    fast = weston.prices(SYMBOLS, FROM, TO, adjust="total", factors=True, conn=conn)
    found = read_module.extension
    read_module.extension = lambda c: (found(c)[0], False)
    try:
        cast = weston.prices(SYMBOLS, FROM, TO, adjust="total", factors=True, conn=conn)
    finally:
        read_module.extension = found
    check(fast.equals(cast), "weston_float8 and ::float8 give the same frame")
    check_equal(frame_rows(cast, PRICES + FACTORS), adjusteds[("total", None)], False, "total floats through ::float8")


def expect(error, words, call):
    try:
        call()
    except error as e:
        check(all(w in str(e) for w in words), f"{error.__name__} says {words}: {e}")
        check(isinstance(e, weston.WestonError), f"{type(e).__name__} is a WestonError")
        check("\n" not in str(e), f"one line, no traceback in the message: {e!r}")
        return
    except Exception as e:  # noqa: BLE001
        sys.exit(f"FAILED: expected {error.__name__} ({words}), got {type(e).__name__}: {e}")
    sys.exit(f"FAILED: expected {error.__name__} ({words}), got no error")


def check_errors():
    A = weston.ArgumentError
    expect(A, ["adjust", "'splits'"], lambda: weston.prices(["MOCK0001"], FROM, TO, adjust="splits"))
    expect(A, ["start", "after end"], lambda: weston.prices(["MOCK0001"], TO, FROM))
    expect(A, ["start", "2026-13-01"], lambda: weston.prices(["MOCK0001"], "2026-13-01", TO))
    expect(A, ["as_of"], lambda: weston.prices(["MOCK0001"], FROM, TO, as_of=20260101))
    expect(A, ["symbol"], lambda: weston.prices([1], FROM, TO))
    expect(A, ["frame"], lambda: weston.prices(["MOCK0001"], FROM, TO, frame="arrow"))
    expect(A, ["factors"], lambda: weston.prices(["MOCK0001"], FROM, TO, adjust=None, factors=True))
    expect(A, ["known_on", "time zone"],
           lambda: weston.prices(["MOCK0001"], FROM, TO, known_on=datetime.datetime(2026, 3, 31, 16, 5)))
    expect(A, ["known_on", "offset"], lambda: weston.prices(["MOCK0001"], FROM, TO, known_on="2026-03-31 16:05:12"))
    expect(A, ["known_on", "int"], lambda: weston.prices(["MOCK0001"], FROM, TO, known_on=20260331))
    expect(weston.DatabaseError, ["known_on", "in the future"],
           lambda: weston.prices(["MOCK0001"], FROM, TO, known_on="2999-01-01 00:00:00+00"))
    check(issubclass(A, ValueError), "an ArgumentError is a ValueError")
    # Unreachable: a port nobody listens on fails at once, naming the database, not the password.
    expect(
        weston.DatabaseError,
        ["cannot connect", "127.0.0.1:1/weston"],
        lambda: weston.prices(["MOCK0001"], FROM, TO, conn="postgresql://someone:secret@127.0.0.1:1/weston"),
    )
    expect(A, ["conn", "int"], lambda: weston.prices(["MOCK0001"], FROM, TO, conn=5432))
    expect(weston.ConfigError, ["postgres://", "http://"], lambda: weston.prices(["MOCK0001"], FROM, TO, conn="http://127.0.0.1/x"))
    expect(weston.DatabaseError, ["not installed"], lambda: weston.prices(["MOCK0001"], FROM, TO, conn=URL.rsplit("/", 1)[0] + "/postgres"))

    # DATABASE_URL as the loader reads it: the environment, else .env.local here.
    del os.environ["DATABASE_URL"]
    expect(weston.ConfigError, ["DATABASE_URL is not set", ".env.local"], lambda: weston.prices(["MOCK0001"], FROM, TO))
    Path(".env.local").write_text(f"# as a DBA gives it\nexport DATABASE_URL='{URL}'\n")
    check(len(weston.prices(["MOCK0001"], FROM, TO)) > 100, ".env.local's DATABASE_URL is read")
    os.environ["DATABASE_URL"] = "mysql://nobody@127.0.0.1/weston"
    expect(weston.ConfigError, ["postgres://", "mysql://"], lambda: weston.prices(["MOCK0001"], FROM, TO))
    Path(".env.local").write_text("DATABASE_URL=postgresql://nobody@127.0.0.1:1/nothing\n")
    os.environ["DATABASE_URL"] = URL
    check(len(weston.prices(["MOCK0001"], FROM, TO)) > 100, "the environment wins over .env.local")
    del os.environ["DATABASE_URL"]
    Path(".env.local").write_text("DATABASE_URL = 'unterminated\n")
    expect(weston.ConfigError, [".env.local", "line 1"], lambda: weston.prices(["MOCK0001"], FROM, TO))
    Path(".env.local").unlink()


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
