"""A replayable top-of-book price feed: the paper exchange's only source of prices.

Ticks are held in memory, sorted per symbol, so a quote lookup is a binary search and a
replay driven by a ManualClock always sees the same prices.

Past its last tick the feed plays backwards to its first, then forwards again, and so on
(a loop of twice its span): prices keep moving at any later moment and never jump, and
the price at a moment depends on nothing but the moment, so every process that reads
the feed at wall-clock time sees the same price. Within its span it is the data as given.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import IO

ZERO_TIME = timedelta(0)
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
        self.start = min(series[0].timestamp for series in by_symbol.values())
        self.end = max(series[-1].timestamp for series in by_symbol.values())
        self._series = {s: _Series(self.start, self.end, q) for s, q in by_symbol.items()}

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
        return tuple(sorted(self._series))

    def quote(self, symbol: str, at: datetime) -> Quote:
        """The latest tick at or before `at` (on the loop, past the end of the data)."""
        found = self._of(symbol).latest(_aware(at) - self.start)
        if found is None:
            raise NoQuoteError(f"no {symbol} price at or before {at.isoformat()}")
        return found

    def ticks(
        self, symbol: str, after: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Quote]:
        """Ticks with after < timestamp <= until, oldest first: `after` defaults to the
        first tick, `until` to the end of the data (a later one runs on through the loop)."""
        lo = None if after is None else _aware(after) - self.start
        hi = (self.end if until is None else _aware(until)) - self.start
        return self._of(symbol).between(lo, hi)

    def _of(self, symbol: str) -> _Series:
        try:
            return self._series[symbol]
        except KeyError:
            raise NoQuoteError(f"the feed has no symbol {symbol!r}") from None


class _Series:
    """One symbol's ticks on the loop, as offsets from the feed's start. A cycle is the
    data forwards, then the ticks strictly inside the feed's span backwards, mirrored
    about its end; the next cycle starts a period (twice the span) later."""

    def __init__(self, start: datetime, end: datetime, data: list[Quote]) -> None:
        self._start = start
        self._period = 2 * (end - start)
        self._data = data  # the first cycle's forward half: the ticks as given
        forwards = [(q.timestamp - start, q) for q in data]
        mirrored = [(self._period - offset, q) for offset, q in reversed(forwards)]
        self._cycle = forwards + [(o, q) for o, q in mirrored if end - start < o < self._period]
        self._offsets = [offset for offset, _ in self._cycle]

    def latest(self, offset: timedelta) -> Quote | None:
        if offset < ZERO_TIME:
            return None
        number = self._number(offset)
        index = bisect_right(self._offsets, offset - number * self._period) - 1
        if index < 0:  # before this symbol's first tick of the cycle: the previous cycle's last
            if number == 0:
                return None
            number, index = number - 1, len(self._cycle) - 1
        return self._tick(number, index)

    def between(self, lo: timedelta | None, hi: timedelta) -> Iterator[Quote]:
        """Ticks with lo < offset <= hi (lo None: from the first)."""
        first = 0 if lo is None or lo < ZERO_TIME else self._number(lo)
        for number in range(first, self._number(hi) + 1 if hi >= ZERO_TIME else 0):
            base = number * self._period
            begin = 0 if lo is None else bisect_right(self._offsets, lo - base)
            for index in range(begin, bisect_right(self._offsets, hi - base)):
                yield self._tick(number, index)

    def _number(self, offset: timedelta) -> int:
        """The cycle an offset falls in; a feed of a single moment never loops."""
        return offset // self._period if self._period else 0

    def _tick(self, number: int, index: int) -> Quote:
        offset, quote = self._cycle[index]
        if number == 0 and index < len(self._data):
            return quote
        return replace(quote, timestamp=self._start + number * self._period + offset)


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
