"""Trading signals: what a strategy wants, before sizing and risk."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, StringConstraints
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
    created_at: AwareDatetime
