"""Net positions and margin for the paper venue (one-way mode, cross margin), in Decimal.

Kept apart from the exchange so the arithmetic that tests and reconciliation rely on
(weighted entry, realized PnL, flips through zero) is small and pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


def signed(side: str, amount: Decimal) -> Decimal:
    """Buys add to the net position, sells take from it."""
    return amount if side == "buy" else -amount


@dataclass(frozen=True, slots=True)
class NetPosition:
    """Signed size (long > 0) at a weighted average entry price; realized PnL so far."""

    symbol: str
    contracts: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    @property
    def side(self) -> str | None:
        if self.contracts == 0:
            return None
        return "long" if self.contracts > 0 else "short"

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.entry_price) * self.contracts

    def margin(self, leverage: Decimal) -> Decimal:
        """Initial margin at entry: what the position keeps out of the free balance."""
        return abs(self.contracts) * self.entry_price / leverage

    def closable(self, side: str) -> Decimal:
        """How much an order on `side` can take off this position before opening anew."""
        if self.contracts == 0 or signed(side, self.contracts) > 0:
            return ZERO
        return abs(self.contracts)

    def opening(self, side: str, amount: Decimal) -> Decimal:
        """The part of an order that would add exposure (and so needs margin)."""
        return max(amount - self.closable(side), ZERO)

    def apply(self, side: str, amount: Decimal, price: Decimal) -> tuple[NetPosition, Decimal]:
        """The position after a fill, and the PnL that fill realized."""
        delta = signed(side, amount)
        size = self.contracts + delta
        closed = min(amount, self.closable(side))
        pnl = closed * (price - self.entry_price) * (1 if self.contracts > 0 else -1)
        if closed == 0:
            weighted = abs(self.contracts) * self.entry_price + amount * price
            entry = weighted / abs(size)
        elif size == 0:
            entry = ZERO
        elif closed == amount:
            entry = self.entry_price
        else:  # flipped through zero: the remainder opened at the fill price
            entry = price
        return NetPosition(self.symbol, size, entry, self.realized_pnl + pnl), pnl
