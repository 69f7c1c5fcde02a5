"""Trading signals: what a strategy wants, before sizing and risk."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BeforeValidator, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from stratus.domain.amounts import AmountError, PositiveAmount, parse_amount
from stratus.domain.common import (
    IDENTIFIER_MAX,
    IDENTIFIER_PATTERN,
    Identifier,
    Message,
    Side,
    Symbol,
)
from stratus.domain.orders import MAX_LEGS, request_id_for

# Leaves room for every id derived from it: the longest request id is still an Identifier.
SIGNAL_ID_MAX = IDENTIFIER_MAX - len(request_id_for("", MAX_LEGS - 1))
SignalId = Annotated[
    str, StringConstraints(min_length=1, max_length=SIGNAL_ID_MAX, pattern=IDENTIFIER_PATTERN)
]


def _real_number(value: Any) -> Any:
    """A confidence is a number (text by the amount grammar), never true or false."""
    if isinstance(value, bool):
        raise PydanticCustomError("not_a_number", "confidence is a number in [0, 1], not a boolean")
    if isinstance(value, str):
        try:
            return float(parse_amount(value))
        except AmountError as error:
            raise PydanticCustomError(error.reason, error.detail) from None
    return value


Confidence = Annotated[
    float, BeforeValidator(_real_number), Field(ge=0.0, le=1.0, allow_inf_nan=False)
]


class SignalAction(StrEnum):
    BUY = "buy"
    SELL = "sell"
    CLOSE = "close"

    @property
    def side(self) -> Side | None:
        """The order side an opening action implies; None for close (depends on position)."""
        return {SignalAction.BUY: Side.BUY, SignalAction.SELL: Side.SELL}.get(self)


class Signal(Message):
    signal_id: SignalId
    source: Identifier
    account: Identifier
    strategy: Identifier
    symbol: Symbol
    action: SignalAction
    quantity: PositiveAmount | None = None
    confidence: Confidence = 1.0
    limit_price: PositiveAmount | None = None
    stop_price: PositiveAmount | None = None
    # A close takes the whole position (whatever `quantity` says), or at most this much.
    close_quantity: PositiveAmount | None = None
    # Protective exits of the position this signal opens or adds to (docs/exits.md): each
    # a trigger price, or a distance from the position's average entry; at most one of
    # each pair. Unlike stop_price (a sizing input only), these are placed or watched.
    stop_loss_price: PositiveAmount | None = None
    stop_loss_distance: PositiveAmount | None = None
    take_profit_price: PositiveAmount | None = None
    take_profit_distance: PositiveAmount | None = None
    created_at: AwareDatetime

    @model_validator(mode="after")
    def _exits_are_whole(self) -> Self:
        for kind in ("stop_loss", "take_profit"):
            price, distance = getattr(self, f"{kind}_price"), getattr(self, f"{kind}_distance")
            if price is not None and distance is not None:
                raise PydanticCustomError(
                    "exit_price_and_distance",
                    "give {kind}_price or {kind}_distance, not both",
                    {"kind": kind},
                )
        if self.action is SignalAction.CLOSE and self.has_exits:
            raise PydanticCustomError(
                "exit_on_close",
                "a close carries no stop loss or take profit: they protect what buy or sell opens",
            )
        return self

    @property
    def has_exits(self) -> bool:
        return any(
            value is not None
            for value in (
                self.stop_loss_price,
                self.stop_loss_distance,
                self.take_profit_price,
                self.take_profit_distance,
            )
        )
