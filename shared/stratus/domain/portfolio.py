"""Portfolio metrics over many positions at given marks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from stratus.domain.common import ZERO
from stratus.domain.positions import Position


@dataclass(frozen=True)
class PortfolioMetrics:
    open_positions: int
    closed_positions: int
    gross_exposure: Decimal  # sum of |quantity| x mark
    net_exposure: Decimal  # sum of quantity x mark (longs minus shorts)
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl - self.fees


def portfolio_metrics(
    positions: Iterable[Position], marks: Mapping[str, Decimal]
) -> PortfolioMetrics:
    """Metrics at `marks` (symbol -> price); a position without a mark uses its entry."""
    opened = closed = 0
    gross = net = realized = unrealized = fees = ZERO
    for position in positions:
        realized += position.realized_pnl
        fees += position.fees
        if not position.is_open:
            closed += 1
            continue
        opened += 1
        mark = marks.get(position.symbol, position.average_entry)
        gross += position.notional(mark)
        net += position.quantity * mark
        unrealized += position.unrealized_pnl(mark)
    return PortfolioMetrics(opened, closed, gross, net, realized, unrealized, fees)
