"""Positions as the system of record keeps them (with trade statistics), and the
portfolio summary, exposure and PnL computed from them at given marks. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import compress, repeat
from operator import lt, mul, neg, sub

from stratus.domain.common import ZERO
from stratus.domain.market import Mark
from stratus.domain.orders import Fill
from stratus.domain.portfolio import PortfolioMetrics
from stratus.domain.positions import Position


def asset_of(symbol: str) -> str:
    """The base currency: BTC for BTC/USDT and BTC/USDT:USDT."""
    return symbol.split("/", 1)[0]


def mode_of(symbol: str) -> str:
    """ccxt's market type as the unified symbol shows it: a settle currency means swap."""
    return "swap" if ":" in symbol else "spot"


@dataclass(frozen=True)
class TrackedPosition:
    position: Position
    closing_fills: int = 0  # fills that reduced the position
    winning_fills: int = 0  # of which realized a profit
    gross_profit: Decimal = ZERO
    gross_loss: Decimal = ZERO  # positive number
    version: int = 0

    @property
    def asset(self) -> str:
        return asset_of(self.position.symbol)

    @property
    def mode(self) -> str:
        return mode_of(self.position.symbol)

    def apply(self, fill: Fill) -> TrackedPosition:
        after = self.position.apply(fill)
        realized = after.realized_pnl - self.position.realized_pnl
        closing = self.position.is_open and (self.position.quantity > ZERO) != (fill.side.sign > 0)
        if not closing:
            return replace(self, position=after)
        return replace(
            self,
            position=after,
            closing_fills=self.closing_fills + 1,
            winning_fills=self.winning_fills + (1 if realized > ZERO else 0),
            gross_profit=self.gross_profit + max(realized, ZERO),
            gross_loss=self.gross_loss + max(-realized, ZERO),
        )


@dataclass(frozen=True)
class MarkedPosition:
    """A position with its symbol's latest mark (None where no price is known) and its
    round trip (the open one, else the last one closed)."""

    tracked: TrackedPosition
    mark: Mark | None
    round_trip_id: str | None = None


@dataclass(frozen=True)
class Summary:
    metrics: PortfolioMetrics
    closing_fills: int
    largest_position_share: Decimal | None  # largest notional / gross exposure (fraction)
    positions_at_risk: int  # open, losing more than the threshold fraction of notional


def summarize(
    tracked: Iterable[TrackedPosition], marks: Mapping[str, Decimal], threshold: Decimal
) -> Summary:
    items = list(tracked)
    positions = [item.position for item in items]
    return summary_of(
        [p.quantity for p in positions],
        [p.average_entry for p in positions],
        [p.realized_pnl for p in positions],
        [p.fees for p in positions],
        [marks.get(p.symbol) for p in positions],
        sum(item.closing_fills for item in items),
        threshold,
    )


def summary_of(
    quantities: Sequence[Decimal],
    entries: Sequence[Decimal],
    realized: Sequence[Decimal],
    fees: Sequence[Decimal],
    marks: Sequence[Decimal | None],  # None: valued at its entry price
    closing_fills: int,
    threshold: Decimal,
) -> Summary:
    """The summary of positions given column by column (the i-th of each is one
    position). Each figure is a sum, count or maximum over a column, taken with C-level
    iteration (map, sum, compress) and no object per position: over 10,000 positions
    the Python statements per position, and the garbage collections their tuples set
    off in a large process, were most of the time (issue 18)."""
    held = [quantity != ZERO for quantity in quantities]
    sizes = list(compress(quantities, held))
    costs = list(compress(entries, held))
    marked = compress(marks, held)
    prices = [cost if mark is None else mark for cost, mark in zip(costs, marked, strict=False)]
    notionals = list(map(mul, map(abs, sizes), prices))
    unrealized = list(map(mul, map(sub, prices, costs), sizes))
    gross = sum(notionals, ZERO)
    metrics = PortfolioMetrics(
        len(sizes),
        len(quantities) - len(sizes),
        gross,
        sum(map(mul, sizes, prices), ZERO),
        sum(realized, ZERO),
        sum(unrealized, ZERO),
        sum(fees, ZERO),
    )
    largest = max(notionals, default=ZERO)
    at_risk = map(lt, map(mul, notionals, repeat(threshold)), map(neg, unrealized))
    return Summary(
        metrics=metrics,
        closing_fills=closing_fills,
        largest_position_share=largest / gross if gross > ZERO else None,
        positions_at_risk=sum(at_risk),
    )


@dataclass(frozen=True)
class Exposure:
    asset: str
    long: Decimal  # notional of long positions
    short: Decimal  # notional of short positions (positive)
    net: Decimal
    gross: Decimal
    share: Decimal  # fraction of the portfolio's gross exposure


def exposure_by_asset(
    positions: Iterable[Position], marks: Mapping[str, Decimal]
) -> list[Exposure]:
    longs: dict[str, Decimal] = {}
    shorts: dict[str, Decimal] = {}
    for position in positions:
        if not position.is_open:
            continue
        asset = asset_of(position.symbol)
        notional = position.notional(marks.get(position.symbol, position.average_entry))
        book = longs if position.quantity > ZERO else shorts
        book[asset] = book.get(asset, ZERO) + notional
        (shorts if book is longs else longs).setdefault(asset, ZERO)
    total = sum(longs.values(), ZERO) + sum(shorts.values(), ZERO)
    return [
        Exposure(
            asset=asset,
            long=longs[asset],
            short=shorts[asset],
            net=longs[asset] - shorts[asset],
            gross=longs[asset] + shorts[asset],
            share=(longs[asset] + shorts[asset]) / total if total else ZERO,
        )
        for asset in sorted(longs)
    ]
