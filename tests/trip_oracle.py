"""An independent recomputation of round trips from a fill stream, for the tests: it walks
the signed quantity and never uses the domain's average-cost arithmetic. A closed trip's
gross PnL is then what it sold for less what it bought for (all that entered left)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from stratus.domain.orders import Fill


@dataclass
class Expected:
    trip_id: str
    key: tuple[str, str, str]
    sign: int  # 1 long, -1 short
    opened_at: datetime
    closed_at: datetime | None = None
    held: Decimal = Decimal(0)
    max_size: Decimal = Decimal(0)
    bought: list[tuple[Decimal, Decimal]] = field(default_factory=list)  # entries (q, p)
    sold: list[tuple[Decimal, Decimal]] = field(default_factory=list)  # exits (q, p)
    fees: Decimal = Decimal(0)

    @property
    def entry_average(self) -> Decimal:
        cost = sum((q * p for q, p in self.bought), Decimal(0))
        return cost / sum((q for q, _ in self.bought), Decimal(0))

    @property
    def exit_average(self) -> Decimal | None:
        exits = sum((q for q, _ in self.sold), Decimal(0))
        return sum((q * p for q, p in self.sold), Decimal(0)) / exits if exits else None

    @property
    def gross(self) -> Decimal:
        """Closed trips only: proceeds less cost, signed by the side."""
        value = sum((q * p for q, p in self.sold), Decimal(0))
        value -= sum((q * p for q, p in self.bought), Decimal(0))
        return value * self.sign


def expected_trips(fills: list[Fill]) -> list[Expected]:
    trips: list[Expected] = []
    current: dict[tuple[str, str, str], Expected] = {}
    for fill in sorted(fills, key=lambda f: (f.executed_at, f.fill_id)):
        key = (fill.account, fill.strategy, fill.symbol)
        sign = fill.side.sign
        remaining = fill.quantity
        trip = current.get(key)
        if trip is not None and trip.sign != sign:  # reduces (and maybe flips)
            closing = min(remaining, trip.held)
            share = fill.fee * closing / fill.quantity if closing < remaining else fill.fee
            trip.sold.append((closing, fill.price))
            trip.fees += share
            trip.held -= closing
            remaining -= closing
            if trip.held == 0:
                trip.closed_at = fill.executed_at
                del current[key]
            if remaining == 0:
                continue
            trip = None
            fee = fill.fee - share
        else:
            fee = fill.fee
        if trip is None:
            trip = Expected(fill.fill_id, key, sign, fill.executed_at)
            current[key] = trip
            trips.append(trip)
        trip.bought.append((remaining, fill.price))
        trip.held += remaining
        trip.max_size = max(trip.max_size, trip.held)
        trip.fees += fee
    return trips
