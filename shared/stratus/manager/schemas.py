"""Request and response models shared by the routers, with the bounds every input gets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from stratus.adapters.sql.audit import Page
from stratus.domain.common import Identifier, Symbol
from stratus.domain.orders import Fill, OrderRecord

T = TypeVar("T")

# NUMERIC(38, 18) holds 20 integer digits: bounded inputs keep every sum inside it.
Amount = Annotated[Decimal, Field(ge=0, lt=Decimal("1e15"), decimal_places=18, allow_inf_nan=False)]
Price = Annotated[Decimal, Field(gt=0, lt=Decimal("1e9"), decimal_places=18, allow_inf_nan=False)]
# An exchange balance: signed, since a unified account can owe a currency.
WalletAmount = Annotated[
    Decimal,
    Field(gt=Decimal("-1e15"), lt=Decimal("1e15"), decimal_places=18, allow_inf_nan=False),
]
Asset = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,32}$")]
# A currency code as the exchange (through ccxt) names it: wider than Asset, which people
# type, so that an unusual code never blocks a scheduled snapshot.
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._\-]{1,32}$")]
Wallet = Annotated[dict[Currency, WalletAmount], Field(max_length=1_000)]  # currency -> total
Text = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[\x21-\x7e]+$")]
Mode = Annotated[str, StringConstraints(pattern=r"^(spot|swap)$")]
Status = Annotated[str, StringConstraints(pattern=r"^(open|closed)$")]
AccountId = Identifier
StrategyId = Identifier
SymbolText = Symbol


class Paged(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def _page(
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000, description="rows to skip")] = 0,
) -> Page:
    return Page(limit, offset)


Paging = Annotated[Page, Depends(_page)]


def paged(items: list[T], total: int, page: Page) -> Paged[T]:
    return Paged[T](items=items, total=total, limit=page.limit, offset=page.offset)


class FillIn(Fill):
    """A fill as the API accepts it: the domain's rules plus storage bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange_order_id: Annotated[str, StringConstraints(max_length=128)]
    fee_currency: Annotated[str, StringConstraints(max_length=16)]

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        _check("quantity", self.quantity, Decimal("1e12"))
        _check("price", self.price, Decimal("1e9"))
        _check("fee", self.fee, Decimal("1e12"))
        return self

    def fill(self) -> Fill:
        return Fill.model_validate(self.model_dump())


class OrderIn(OrderRecord):
    """An order document as the API accepts it: within storage bounds."""

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        values = {
            "request.quantity": self.request.quantity,
            "request.limit_price": self.request.limit_price or Decimal(0),
            "filled": self.filled,
            "cost": self.cost,
            "fee": self.fee,
        }
        for name, value in values.items():
            _check(name, value, Decimal("1e15"))
        return self

    def record(self) -> OrderRecord:
        return OrderRecord.model_validate(self.model_dump())


def _check(name: str, value: Decimal, limit: Decimal) -> None:
    if not value.is_finite() or abs(value) >= limit:
        raise ValueError(f"{name} must be finite and below {limit:.0E}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18:
        raise ValueError(f"{name} has more than 18 decimal places")


class Created(BaseModel):
    created: bool


Moment = Annotated[datetime, Field(description="ISO-8601 with a timezone")]
