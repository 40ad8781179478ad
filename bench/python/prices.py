"""The whole universe's daily bars into a pandas DataFrame, every way side by side:
weston.prices raw, split-adjusted and total return (float64; split also exact Decimal; raw and
total also as before 0.13.0, through ::float8), and a plain psycopg cursor (fetchall) into
pandas, raw and split-adjusted. Rounds are interleaved so drift hits all alike; the first
warms caches and is not counted. Prints each way's median and its ratio to weston's raw read
(the floor) and to the plain cursor's raw read. Run by bench/src/bin/bench_python.rs, with
DATABASE_URL an analyst's login.

    python bench/python/prices.py FROM TO ROUNDS
"""

import statistics
import sys
import time

import pandas as pd
import psycopg

import weston

COLUMNS = ["symbol", "date", "open", "high", "low", "close", "volume"]


def plain(sql):
    """What an analyst writes without the package: a cursor, fetchall, a DataFrame."""

    def read(conn, symbols, start, end):
        with conn.cursor() as cur:
            cur.execute(sql, (symbols, start, end))
            return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])

    return read


def package(**options):
    def read(conn, symbols, start, end):
        return weston.prices(symbols, start, end, conn=conn, **options)

    return read


def package_with_cast(**options):
    """The package as on an installation without weston_float8 (before 0.13.0): ::float8."""

    def read(conn, symbols, start, end):
        found = weston._read.extension
        weston._read.extension = lambda c: (found(c)[0], False)
        try:
            return weston.prices(symbols, start, end, conn=conn, **options)
        finally:
            weston._read.extension = found

    return read


WAYS = [
    ("weston raw", package(adjust=None)),
    ("weston split", package(adjust="split")),
    ("weston total", package(adjust="total")),
    ("weston raw ::float8", package_with_cast(adjust=None)),
    ("weston total ::float8", package_with_cast(adjust="total")),
    ("weston split exact", package(adjust="split", exact=True)),
    (
        "plain cursor raw",
        plain(
            "SELECT symbol, date, open, high, low, close, volume FROM weston.prices_daily"
            " WHERE symbol = ANY (%s) AND date BETWEEN %s AND %s ORDER BY symbol, date"
        ),
    ),
    (
        "plain cursor split",
        plain(
            "SELECT symbol, date, open, high, low, close, volume"
            " FROM weston.weston_adjusted_prices(%s::text[], %s, %s)"
        ),
    ),
]


def main(start, end, rounds):
    times = {name: [] for name, _ in WAYS}
    sizes = {}
    with psycopg.connect(weston._connect.database_url(), autocommit=True) as conn:
        symbols = [r[0] for r in conn.execute("SELECT symbol FROM weston.securities ORDER BY 1")]
        for round_ in range(rounds + 1):
            # Each round starts one way later, so no way always runs right after the same one.
            shift = round_ % len(WAYS)
            for name, read in WAYS[shift:] + WAYS[:shift]:
                began = time.perf_counter()
                df = read(conn, symbols, start, end)
                elapsed = time.perf_counter() - began
                if round_ > 0:
                    times[name].append(elapsed)
                sizes[name] = df.shape
                del df
    rows = {shape[0] for shape in sizes.values()}
    if len(rows) != 1 or 0 in rows:
        sys.exit(f"the ways read different rows: {sizes}")
    medians = {name: statistics.median(t) for name, t in times.items()}
    floor, cursor = medians["weston raw"], medians["plain cursor raw"]
    print(
        f"\n{len(symbols)} symbols x {start}..{end} into a pandas DataFrame"
        f" ({rows.pop()} rows, medians of {rounds} interleaved rounds)"
    )
    for name, _ in WAYS:
        m = medians[name]
        print(
            f"  {name:<22} {m * 1e3:>10.1f} ms   x{m / floor:>6.2f} weston raw"
            f"   x{m / cursor:>6.2f} plain cursor raw"
        )
    cast = medians["weston total ::float8"] / medians["weston raw ::float8"]
    print(f"  with ::float8 in place of weston_float8 (the package before 0.13.0): total x{cast:.2f} its raw")
    adjusted = max(medians["weston split"], medians["weston total"]) / floor
    print(f"  goal: adjusted (split and total) <= 1.25 x raw read the same way: x{adjusted:.2f}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: prices.py FROM TO ROUNDS")
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
