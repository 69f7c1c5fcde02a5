"""A replayable top-of-book price feed: the paper exchange's only source of prices.

Ticks are held in memory, sorted per symbol, so a quote lookup is a binary search and a
replay driven by a ManualClock always sees the same prices.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import IO

COLUMNS = ("timestamp", "symbol", "bid", "ask", "last", "volume")


class NoQuoteError(LookupError):
    """The feed has no price for this symbol at this moment (unknown symbol or too early)."""


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book at one moment; volume is what traded in the tick, in base units."""

    symbol: str
    timestamp: datetime
    bid: Decimal
    ask: Decimal
    last: Decimal
    volume: Decimal

    @property
    def mid(self) -> Decimal:
        """Used as the mark price: a fair value that ignores which side last traded."""
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid


class PriceFeed:
    """Quotes per symbol, looked up as of a moment (the latest tick at or before it)."""

    def __init__(self, quotes: Iterable[Quote]) -> None:
        by_symbol: dict[str, list[Quote]] = {}
        for quote in quotes:
            by_symbol.setdefault(quote.symbol, []).append(quote)
        if not by_symbol:
            raise ValueError("a price feed needs at least one tick")
        for series in by_symbol.values():
            series.sort(key=lambda q: q.timestamp)
            _check_series(series)
        self._quotes: Mapping[str, list[Quote]] = by_symbol
        self._times = {s: [q.timestamp for q in series] for s, series in by_symbol.items()}

    @classmethod
    def from_csv(cls, path: str | Path) -> PriceFeed:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            return cls(_read_rows(handle, str(path)))

    @classmethod
    def default(cls) -> PriceFeed:
        """The feed shipped in the package (made by scripts/make_feed.py)."""
        text = (files("stratus") / "data" / "feed.csv").read_text(encoding="utf-8")
        return cls(_read_rows(io.StringIO(text, newline=""), "stratus/data/feed.csv"))

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self._quotes))

    @property
    def start(self) -> datetime:
        return min(series[0].timestamp for series in self._quotes.values())

    @property
    def end(self) -> datetime:
        return max(series[-1].timestamp for series in self._quotes.values())

    def quote(self, symbol: str, at: datetime) -> Quote:
        """The latest tick at or before `at`; after the feed ends the last tick stays."""
        times = self._series_times(symbol)
        index = bisect_right(times, _aware(at)) - 1
        if index < 0:
            raise NoQuoteError(f"no {symbol} price at or before {at.isoformat()}")
        return self._quotes[symbol][index]

    def ticks(
        self, symbol: str, after: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Quote]:
        """Ticks with after < timestamp <= until, oldest first (either bound optional)."""
        times = self._series_times(symbol)
        lo = 0 if after is None else bisect_right(times, _aware(after))
        hi = len(times) if until is None else bisect_right(times, _aware(until))
        return iter(self._quotes[symbol][lo:hi])

    def _series_times(self, symbol: str) -> list[datetime]:
        try:
            return self._times[symbol]
        except KeyError:
            raise NoQuoteError(f"the feed has no symbol {symbol!r}") from None


def _aware(moment: datetime) -> datetime:
    """Naive datetimes would compare wrongly (or raise) against the UTC ticks."""
    if moment.tzinfo is None:
        raise ValueError(f"need a timezone-aware datetime, got {moment!r}")
    return moment


def _check_series(series: list[Quote]) -> None:
    """A duplicate timestamp would make "the tick at t" ambiguous."""
    for earlier, later in pairwise(series):
        if earlier.timestamp == later.timestamp:
            raise ValueError(f"two {later.symbol} ticks at {later.timestamp.isoformat()}")


def _read_rows(handle: IO[str], source: str) -> Iterator[Quote]:
    reader = csv.DictReader(handle)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"{source}: expected columns {COLUMNS}, got {reader.fieldnames}")
    for row in reader:
        try:
            yield _parse_row(row)
        except (ValueError, InvalidOperation) as exc:
            raise ValueError(f"{source}:{reader.line_num}: {exc}") from exc


def _parse_row(row: Mapping[str, str]) -> Quote:
    timestamp = datetime.fromisoformat(row["timestamp"])
    bid, ask, last, volume = (Decimal(row[c]) for c in ("bid", "ask", "last", "volume"))
    if timestamp.tzinfo is None:
        raise ValueError(f"timestamp {row['timestamp']!r} has no timezone")
    if not (0 < bid <= ask) or last <= 0 or volume < 0:
        raise ValueError(f"implausible tick bid={bid} ask={ask} last={last} volume={volume}")
    return Quote(row["symbol"], timestamp, bid, ask, last, volume)
