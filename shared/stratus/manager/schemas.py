"""Request and response models shared by the routers, with the bounds every input gets."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from stratus.adapters.ccxt_exchange import EXCHANGE_OPTIONS
from stratus.adapters.sql.audit import Page
from stratus.domain import amounts
from stratus.domain.common import Identifier, Symbol
from stratus.domain.orders import Fill, OrderRecord, OrderRequest

T = TypeVar("T")

# Every amount in a body follows the one grammar (stratus.domain.amounts: decimal text,
# no exponent, spaces, underscores, other scripts' digits, NaN...), within bounds that
# keep it, and sums of many, inside the ledger's NUMERIC(38, 18).
Amount = Annotated[amounts.Amount, Field(lt=Decimal("1e15"))]
PositiveAmount = Annotated[amounts.PositiveAmount, Field(lt=Decimal("1e15"))]
# Signed: an exchange balance (a unified account can owe a currency), an order's fee.
SignedAmount = Annotated[amounts.SignedAmount, Field(gt=Decimal("-1e15"), lt=Decimal("1e15"))]
Price = Annotated[amounts.PositiveAmount, Field(lt=Decimal("1e9"))]
Quantity = Annotated[amounts.PositiveAmount, Field(lt=Decimal("1e12"))]  # of one fill
Asset = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,32}$")]
# A currency code as the exchange (through ccxt) names it: wider than Asset, which people
# type, so that an unusual code never blocks a scheduled snapshot.
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._\-]{1,32}$")]
Wallet = Annotated[dict[Currency, SignedAmount], Field(max_length=1_000)]  # currency -> total
Text = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
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
    """A fill as the API accepts it: the domain's rules, amounts by the grammar, storage
    bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange_order_id: Annotated[str, StringConstraints(max_length=128)]
    fee_currency: Annotated[str, StringConstraints(max_length=16)]
    quantity: Quantity
    price: Price
    fee: Annotated[amounts.Amount, Field(lt=Decimal("1e12"))]

    def fill(self) -> Fill:
        return Fill.model_validate(self.model_dump())


class OrderRequestIn(OrderRequest):
    quantity: PositiveAmount
    limit_price: PositiveAmount | None = None
    reference_price: PositiveAmount | None = None


class OrderIn(OrderRecord):
    """An order document as the API accepts it: amounts by the grammar, within storage
    bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: OrderRequestIn
    filled: Amount = Decimal(0)
    cost: Amount = Decimal(0)
    fee: SignedAmount = Decimal(0)
    fills: tuple[FillIn, ...] = ()

    def record(self) -> OrderRecord:
        return OrderRecord.model_validate(self.model_dump())


# The exchanges Stratus trades on: the paper venue and the ccxt ids the gateway is set up
# and tested for (EXCHANGE_OPTIONS). ccxt would load any other id, but the gateway would
# not recognise its "duplicate clientOrderId" answers, so a retried create could place an
# order twice.
EXCHANGES = ("paper", *EXCHANGE_OPTIONS)


def _known_exchange(exchange_id: str) -> str:
    if exchange_id not in EXCHANGES:
        known = ", ".join(EXCHANGES)
        raise ValueError(f"unknown exchange {exchange_id!r}: Stratus trades on {known}")
    return exchange_id


def _printable(credential: SecretStr) -> SecretStr:
    # Never quote the value: it is a secret.
    if not _PRINTABLE.fullmatch(credential.get_secret_value()):
        raise ValueError("must be printable ASCII without spaces")
    return credential


_PRINTABLE = re.compile(r"[\x21-\x7e]+")
ExchangeId = Annotated[
    str,
    StringConstraints(max_length=32),
    AfterValidator(_known_exchange),
    WithJsonSchema({"type": "string", "enum": list(EXCHANGES)}),
]
Credential = Annotated[SecretStr, Field(min_length=1, max_length=512), AfterValidator(_printable)]


class AccountIn(BaseModel):
    """A new account, from the API or `stratus accounts add`."""

    model_config = ConfigDict(extra="forbid")

    account: AccountId
    exchange_id: ExchangeId = Field(description='ccxt exchange id, or "paper"')
    label: Text = ""
    currency: Asset = Field(default="USDT", description="equity and allocations are in it")
    sandbox: bool = False
    demo: bool = False
    enabled: bool = Field(default=True, description="false: the account takes no new signals")
    api_key: Credential
    secret: Credential

    def public(self) -> dict[str, Any]:
        """The fields anyone may see: SqlAccounts.create's keyword arguments."""
        return self.model_dump(exclude={"account", "api_key", "secret"})


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exchange_id: ExchangeId | None = None
    label: Text | None = None
    currency: Asset | None = None
    sandbox: bool | None = None
    demo: bool | None = None
    enabled: bool | None = None
    api_key: Credential | None = None
    secret: Credential | None = None
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="expected version")

    @model_validator(mode="after")
    def _omitted_not_null(self) -> Self:
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls and nulls != ["version"]:
            raise ValueError(f"fields may be omitted but not null: {', '.join(sorted(nulls))}")
        return self


class Created(BaseModel):
    created: bool


Moment = Annotated[datetime, Field(description="ISO-8601 with a timezone")]
