"""Positions as the system of record keeps them (with trade statistics), and the
portfolio summary, exposure and PnL computed from them at given marks. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

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
    fold = SummaryFold(threshold)
    for item in tracked:
        p = item.position
        fold.add(
            p.quantity,
            p.average_entry,
            p.realized_pnl,
            p.fees,
            item.closing_fills,
            item.winning_fills,
            item.gross_profit,
            item.gross_loss,
            marks.get(p.symbol),
        )
    return fold.result()


class SummaryFold:
    """The summary's running totals, one position at a time: summarize's arithmetic, which
    the embedded database's summary feeds with plain column values (no object per row)."""

    def __init__(self, threshold: Decimal) -> None:
        self.threshold = threshold
        self.opened = self.closed = self.closing = self.wins = self.risky = 0
        self.gross = self.net = self.realized = self.unrealized = ZERO
        self.fees = self.profit = self.loss = self.largest = ZERO

    def add(
        self,
        quantity: Decimal,
        entry: Decimal,
        realized: Decimal,
        fees: Decimal,
        closing: int,
        wins: int,
        profit: Decimal,
        loss: Decimal,
        mark: Decimal | None,  # None: valued at its entry price
    ) -> None:
        self.realized += realized
        self.fees += fees
        self.closing += closing
        self.wins += wins
        self.profit += profit
        self.loss += loss
        if quantity == ZERO:
            self.closed += 1
            return
        self.opened += 1
        price = entry if mark is None else mark
        notional = abs(quantity) * price
        unrealized = (price - entry) * quantity
        self.gross += notional
        self.net += quantity * price
        self.unrealized += unrealized
        if notional > self.largest:
            self.largest = notional
        self.risky += -unrealized > notional * self.threshold

    def result(self) -> Summary:
        metrics = PortfolioMetrics(
            self.opened,
            self.closed,
            self.gross,
            self.net,
            self.realized,
            self.unrealized,
            self.fees,
        )
        closing, gross = self.closing, self.gross
        return Summary(
            metrics=metrics,
            closing_fills=closing,
            largest_position_share=self.largest / gross if gross > ZERO else None,
            positions_at_risk=self.risky,
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
