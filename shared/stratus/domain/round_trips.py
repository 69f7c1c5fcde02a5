"""Round trips: a strategy position's life from leaving zero to coming back to it. Pure.

A trip takes every fill of its position while it is open: entries add to it, exits reduce
it. A fill that crosses zero (a flip) closes the trip at its price and opens the next one
at the same price with the remainder; its fee is split by quantity, the remainder's share
going to the new trip, so that the fees of all trips add up to the fees of all fills.
Gross PnL is what the position realizes (average cost: stratus.domain.positions), so the
trips of a position add up to its realized_pnl, and net PnL is gross minus fees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from stratus.domain.common import ZERO
from stratus.domain.orders import Fill
from stratus.domain.positions import Position, execution_order


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Direction.LONG else -1


class TripStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class RoundTrip:
    trip_id: str  # the fill that opened it
    account: str
    strategy: str
    symbol: str
    side: Direction
    opened_at: datetime
    closed_at: datetime | None = None
    size: Decimal = ZERO  # held now (positive)
    max_size: Decimal = ZERO
    entry_quantity: Decimal = ZERO  # all that entered, at entry_notional
    entry_notional: Decimal = ZERO
    exit_quantity: Decimal = ZERO  # all that left, at exit_notional
    exit_notional: Decimal = ZERO
    gross_pnl: Decimal = ZERO  # realized, before fees
    fees: Decimal = ZERO
    fills: int = 0

    @property
    def status(self) -> TripStatus:
        return TripStatus.OPEN if self.closed_at is None else TripStatus.CLOSED

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def entry_average(self) -> Decimal:
        return self.entry_notional / self.entry_quantity

    @property
    def exit_average(self) -> Decimal | None:
        return self.exit_notional / self.exit_quantity if self.exit_quantity else None

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.fees

    def duration(self, now: datetime) -> timedelta:
        """Open to close, or to `now` while open."""
        return (self.closed_at or now) - self.opened_at


def advance(position: Position, trip: RoundTrip | None, fill: Fill) -> list[RoundTrip]:
    """The trips `fill` touches, after it: `position` is the position before the fill and
    `trip` its open trip (None when flat). One trip, or two for a flip (closed, opened)."""
    after = position.apply(fill)
    realized = after.realized_pnl - position.realized_pnl
    signed = fill.quantity * fill.side.sign
    if trip is None:
        return [_opened(fill, fill.quantity, fill.fee)]
    if (trip.side.sign > 0) == (signed > 0):  # adds
        size = trip.size + fill.quantity
        return [
            replace(
                trip,
                size=size,
                max_size=max(trip.max_size, size),
                entry_quantity=trip.entry_quantity + fill.quantity,
                entry_notional=trip.entry_notional + fill.quantity * fill.price,
                fees=trip.fees + fill.fee,
                fills=trip.fills + 1,
            )
        ]
    closing = min(fill.quantity, trip.size)
    remainder = fill.quantity - closing
    closing_fee = fill.fee if remainder == ZERO else fill.fee * closing / fill.quantity
    reduced = replace(
        trip,
        size=trip.size - closing,
        exit_quantity=trip.exit_quantity + closing,
        exit_notional=trip.exit_notional + closing * fill.price,
        gross_pnl=trip.gross_pnl + realized,
        fees=trip.fees + closing_fee,
        fills=trip.fills + 1,
        closed_at=fill.executed_at if closing == trip.size else None,
    )
    if remainder == ZERO:
        return [reduced]
    return [reduced, _opened(fill, remainder, fill.fee - closing_fee)]


def _opened(fill: Fill, quantity: Decimal, fee: Decimal) -> RoundTrip:
    return RoundTrip(
        trip_id=fill.fill_id,
        account=fill.account,
        strategy=fill.strategy,
        symbol=fill.symbol,
        side=Direction.LONG if fill.side.sign > 0 else Direction.SHORT,
        opened_at=fill.executed_at,
        size=quantity,
        max_size=quantity,
        entry_quantity=quantity,
        entry_notional=quantity * fill.price,
        fees=fee,
        fills=1,
    )


def round_trips(fills: Iterable[Fill]) -> list[RoundTrip]:
    """Every trip of the fills' positions, replayed in execution order; oldest first."""
    positions: dict[tuple[str, str, str], Position] = {}
    open_trips: dict[tuple[str, str, str], RoundTrip] = {}
    done: list[RoundTrip] = []
    for fill in sorted(fills, key=execution_order):
        key = (fill.account, fill.strategy, fill.symbol)
        position = positions.get(key) or Position(
            account=fill.account, strategy=fill.strategy, symbol=fill.symbol
        )
        touched = advance(position, open_trips.pop(key, None), fill)
        positions[key] = position.apply(fill)
        for trip in touched:
            if trip.is_open:
                open_trips[key] = trip
            else:
                done.append(trip)
    return sorted([*done, *open_trips.values()], key=lambda t: (t.opened_at, t.trip_id))
