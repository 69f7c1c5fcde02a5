"""Net positions per account, strategy and symbol, with average entry and PnL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from stratus.domain.common import (
    ZERO,
    FiniteDecimal,
    Identifier,
    Message,
    NonNegativeDecimal,
    Symbol,
)
from stratus.domain.orders import Fill


class PositionUpdate(Message):
    account: Identifier
    strategy: Identifier
    symbol: Symbol
    quantity: FiniteDecimal
    average_entry: NonNegativeDecimal
    realized_pnl: FiniteDecimal
    fees: NonNegativeDecimal
    mark_price: NonNegativeDecimal
    unrealized_pnl: FiniteDecimal
    fill_id: Identifier
    updated_at: AwareDatetime


class Position(BaseModel):
    """Signed quantity (negative = short); PnL in the quote currency.

    realized_pnl excludes fees, which are kept apart in `fees`; net = realized - fees.
    """

    model_config = ConfigDict(frozen=True)

    account: str
    strategy: str
    symbol: str
    quantity: Decimal = ZERO
    average_entry: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    updated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.quantity != ZERO

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.average_entry) * self.quantity

    def notional(self, mark: Decimal) -> Decimal:
        return abs(self.quantity) * mark

    def apply(self, fill: Fill) -> Position:
        """The position after `fill`: adds at a weighted average, reduces at a realized
        profit or loss, and flips through zero with the remainder entered at the fill
        price."""
        signed = fill.quantity * fill.side.sign
        quantity, entry, realized = self.quantity, self.average_entry, self.realized_pnl
        if quantity == ZERO or (quantity > ZERO) == (signed > ZERO):
            total = quantity + signed
            entry = (abs(quantity) * entry + fill.quantity * fill.price) / abs(total)
        else:
            closing = min(abs(signed), abs(quantity))
            direction = 1 if quantity > ZERO else -1
            realized += closing * (fill.price - entry) * direction
            total = quantity + signed
            if total == ZERO:
                entry = ZERO
            elif (total > ZERO) != (quantity > ZERO):
                entry = fill.price  # flipped: the remainder opened at this fill
        return self.model_copy(
            update={
                "quantity": total,
                "average_entry": entry,
                "realized_pnl": realized,
                "fees": self.fees + fill.fee,
                "updated_at": fill.executed_at,
            }
        )

    def update_message(self, mark: Decimal, fill_id: str, at: datetime) -> PositionUpdate:
        return PositionUpdate(
            account=self.account,
            strategy=self.strategy,
            symbol=self.symbol,
            quantity=self.quantity,
            average_entry=self.average_entry,
            realized_pnl=self.realized_pnl,
            fees=self.fees,
            mark_price=mark,
            unrealized_pnl=self.unrealized_pnl(mark),
            fill_id=fill_id,
            updated_at=at,
        )


def execution_order(fill: Fill) -> tuple[datetime, str]:
    """The order a position takes its fills in, whatever order they arrive in."""
    return fill.executed_at, fill.fill_id


def replay(fills: list[Fill], account: str, strategy: str, symbol: str) -> Position:
    """Recompute a position from its fills ledger (used to check the incremental one)."""
    position = Position(account=account, strategy=strategy, symbol=symbol)
    for fill in sorted(fills, key=execution_order):
        position = position.apply(fill)
    return position
