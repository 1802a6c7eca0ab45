"""The price series a session can train on, read at run time; torch-free.

Real: the monthly closing prices of five stocks from January 2000 to March 2010
(AAPL, AMZN, GOOG from August 2004, IBM, MSFT), the `stocks` table that the
`vega-datasets` package ships inside itself, so nothing is downloaded.

Synthetic: `seasonal`, a seeded monthly series whose log price is a yearly and a
quarterly swing plus a little noise,

    log p_t = log 100 + 0.2 sin(2 pi t / 12) + 0.08 sin(2 pi t / 3 + phi) + 0.01 e_t,

the kind of regularity (sales, temperatures, electricity) where the past says a lot
about the next step, unlike a stock price.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import random
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from backend.errors import InvalidInput

STOCKS = ("AAPL", "AMZN", "GOOG", "IBM", "MSFT")
SEASONAL = "seasonal"
SERIES = (*STOCKS, SEASONAL)
SEASONAL_MONTHS = 240  # twenty years


@dataclass(frozen=True)
class Series:
    """One price series: a date (YYYY-MM) and a positive price per month, oldest first."""

    name: str
    dates: tuple[str, ...]
    prices: tuple[float, ...]
    real: bool  # a market's prices, or generated in code


def load(name: str, seed: int = 0) -> Series:
    """The series called `name`; `seed` only changes the noise of `seasonal`."""
    if name in STOCKS:
        return _stock(name)
    if name == SEASONAL:
        return seasonal(seed)
    raise InvalidInput(f"series must be one of {', '.join(SERIES)}", field="series")


@cache
def _stock(symbol: str) -> Series:
    """A symbol's monthly prices from vega-datasets' stocks.csv."""
    with open(_vega_data_dir() / "stocks.csv", newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["symbol"] == symbol]
    dates = tuple(datetime.strptime(r["date"], "%b %d %Y").strftime("%Y-%m") for r in rows)
    return Series(symbol, dates, tuple(float(r["price"]) for r in rows), real=True)


def _vega_data_dir() -> Path:
    """The folder of tables inside the installed vega_datasets package.

    Found without importing the package, whose __init__ loads pandas, which
    reading one small CSV file does not need.
    """
    spec = importlib.util.find_spec("vega_datasets")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the vega-datasets package is not installed (see requirements.lock)")
    return Path(spec.submodule_search_locations[0]) / "_data"


def seasonal(seed: int, months: int = SEASONAL_MONTHS) -> Series:
    """A yearly and a quarterly swing in the log price, with seeded noise and phase."""
    rng = random.Random(seed)
    phase = rng.uniform(0, 2 * math.pi)
    log_p = [
        math.log(100)
        + 0.2 * math.sin(2 * math.pi * t / 12)
        + 0.08 * math.sin(2 * math.pi * t / 3 + phase)
        + 0.01 * rng.gauss(0, 1)
        for t in range(months)
    ]
    dates = tuple(f"{2000 + t // 12}-{t % 12 + 1:02d}" for t in range(months))
    return Series(SEASONAL, dates, tuple(math.exp(v) for v in log_p), real=False)
