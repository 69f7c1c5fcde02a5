"""Trading signals: what a strategy wants, before sizing and risk."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from stratus.domain.common import Identifier, Message, PositiveDecimal, Side, Symbol


class SignalAction(StrEnum):
    BUY = "buy"
    SELL = "sell"
    CLOSE = "close"

    @property
    def side(self) -> Side | None:
        """The order side an opening action implies; None for close (depends on position)."""
        return {SignalAction.BUY: Side.BUY, SignalAction.SELL: Side.SELL}.get(self)


class Signal(Message):
    signal_id: Identifier
    source: Identifier
    account: Identifier
    strategy: Identifier
    symbol: Symbol
    action: SignalAction
    quantity: PositiveDecimal | None = None
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    created_at: AwareDatetime
