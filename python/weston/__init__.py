"""pg_weston's prices in a DataFrame.

    import weston
    df = weston.prices(["AAPL", "MSFT"], "2024-01-01", "2024-12-31")

The database is DATABASE_URL, from the environment or `.env.local` in the working
directory, as weston-loader reads it (or pass conn=, a psycopg connection or a URL).
docs/ANALYSTS.md is the manual.
"""

from ._errors import ArgumentError, ConfigError, DatabaseError, WestonError
from ._read import Read, read

__all__ = ["prices", "WestonError", "ArgumentError", "ConfigError", "DatabaseError"]
__version__ = "0.13.0"


def prices(
    symbols,
    start,
    end,
    *,
    adjust="split",
    as_of=None,
    known_on=None,
    exact=False,
    frame="pandas",
    factors=False,
    conn=None,
):
    """Daily bars of `symbols` from `start` to `end` (inclusive), ordered by symbol, date.

    symbols: a symbol or a list of them. Each names the security that held it as of
        `as_of` (today when None); its bars under earlier tickers come under the name asked
        for. Unknown symbols give no rows.
    start, end: dates (datetime.date or 'YYYY-MM-DD').
    adjust: "split" (weston_adjusted_prices, split-adjusted), "total" (total return:
        dividends too), or None (raw bars, as traded).
    as_of: the day the data is seen from: which security a symbol names, and (adjusted)
        which events apply (ex-date on or before as_of). None: today and every stored event.
        Raw bars are as traded whatever as_of; only which security a symbol names changes.
    known_on: a moment (a datetime with a time zone, or text with its offset such as
        '2026-03-31 16:05:12.48+00'): the frame the same call gave then, bars, events and
        tickers as the database knew them (corrections, restatements and renames since left
        out). None: as stored now. Take the moment first (SELECT now()) and read with it to
        pin a backtest: the database refuses a moment a still-open write may change.
    exact: False gives float64 columns (each the correctly rounded float of the exact
        value); True gives object columns of decimal.Decimal, exactly what SQL gives.
    frame: "pandas" (a pandas DataFrame) or "polars" (needs polars installed; exact
        columns become polars Decimal).
    factors: also the price_factor and volume_factor columns applied (adjusted reads).
    conn: a psycopg connection (left open; a transaction the read opened is ended) or a
        postgres:// URL; None: DATABASE_URL.

    Columns: symbol, date, open, high, low, close, volume (then price_factor,
    volume_factor). Raises ArgumentError for a bad argument, ConfigError when the database
    is not configured, DatabaseError when it cannot be reached or refuses the read.
    """
    request = Read(symbols, start, end, adjust, as_of, exact, frame, factors, known_on)
    return read(request, conn)
