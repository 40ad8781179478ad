"""Adjusted prices in Python: the last step of docs/ANALYSTS.md's "Joining the team".

    python python/examples/read_adjusted.py AAPL 2024-01-01 2024-12-31

Connects with DATABASE_URL (from the environment or .env.local, as weston-loader does),
names pg_weston's function unqualified (the database's default search_path finds it in schema
weston) and prints one line per bar: symbol, date, open, high, low, close, volume, price
factor, volume factor, separated by '|', numbers exactly as stored (Decimal, never float).
"""

import os
import sys
from decimal import Decimal
from pathlib import Path

import psycopg


def database_url():
    if "DATABASE_URL" in os.environ:
        return os.environ["DATABASE_URL"]
    env_file = Path(".env.local")
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.strip() == "DATABASE_URL":
                return value.strip().strip('"').strip("'")
    sys.exit("DATABASE_URL is not set (environment or .env.local)")


def main(symbol, from_date, to_date):
    with psycopg.connect(database_url()) as conn:
        rows = conn.execute(
            "SELECT symbol, date, open, high, low, close, volume, price_factor, volume_factor"
            "  FROM weston_adjusted_prices(%s::text, %s::date, %s::date)",
            (symbol, from_date, to_date),
        )
        for row in rows:
            print("|".join(format(v, "f") if isinstance(v, Decimal) else str(v) for v in row))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: read_adjusted.py SYMBOL FROM_DATE TO_DATE")
    main(*sys.argv[1:])
