"""Building blocks shared by the domain's models: message base and constrained types."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

IDENTIFIER_MAX = 128
# Starts with a letter or digit: no id is "." or "..", which URLs would resolve away.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=IDENTIFIER_MAX, pattern=IDENTIFIER_PATTERN)
]
# Unified ccxt symbol: BASE/QUOTE with an optional :SETTLE for derivatives; 64 characters
# at most, as the ledger stores it.
Symbol = Annotated[
    str, StringConstraints(max_length=64, pattern=r"^[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+)?$")
]
# Decimals travel as positional text: "60000" and "0.00000001", never "6E+4" or "1E-8"
# (str() would write those). Values are exact, as recorded; the manager rounds what it
# computes (stratus.manager.numbers).
POSITIONAL = PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json")
ExactDecimal = Annotated[Decimal, POSITIONAL]
PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False), POSITIONAL]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False), POSITIONAL]
FiniteDecimal = Annotated[Decimal, Field(allow_inf_nan=False), POSITIONAL]

ZERO = Decimal(0)


class Message(BaseModel):
    """An immutable value that travels on a topic; its schema is schemas/<Class>.avsc."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY
