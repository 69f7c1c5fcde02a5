"""Orders: the request risk sees, the lifecycle record the executor keeps, and fills."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from stratus.domain.common import (
    ZERO,
    ExactDecimal,
    Identifier,
    Message,
    NonNegativeDecimal,
    PositiveDecimal,
    Side,
    Symbol,
)
from stratus.domain.errors import InvalidTransition


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class ExitKind(StrEnum):
    """A protective exit: a reduce-only market order that waits for the mark to cross
    its trigger price (on the venue when it keeps conditional orders, else watched)."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"

    def fires(self, side: Side, trigger: Decimal, mark: Decimal) -> bool:
        """Whether `mark` has reached the trigger of an exit order on `side`.

        A sell exit protects a long: its stop fires at or below the trigger, its take
        profit at or above; a buy exit (protecting a short) mirrors that."""
        falling = (self is ExitKind.STOP_LOSS) == (side is Side.SELL)
        return mark <= trigger if falling else mark >= trigger


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class OrderRequest(Message):
    request_id: Identifier
    signal_id: Identifier
    leg: int = Field(ge=0)
    account: Identifier
    strategy: Identifier
    symbol: Symbol
    side: Side
    order_type: OrderType
    quantity: PositiveDecimal
    limit_price: PositiveDecimal | None = None
    # Market orders: the touch price risk approved them at. The executor checks exchange
    # minimums against it instead of asking for a quote before sending.
    reference_price: PositiveDecimal | None = None
    # A close signal's leg: it takes the strategy's own position (its sub-ledger of the
    # account's) toward flat; check_risk cuts it to what the strategy will still hold.
    closes_position: bool = False
    # The exchange's reduceOnly flag, set by check_risk on approval: only on a close that
    # also shrinks the account's net position (see docs/pipeline.md).
    reduce_only: bool = False
    # A protective exit: sent as the venue's conditional (trigger) order, reduce-only,
    # a market order once the mark crosses trigger_price. Both set or neither.
    exit_kind: ExitKind | None = None
    trigger_price: PositiveDecimal | None = None
    created_at: AwareDatetime

    @model_validator(mode="after")
    def _price_matches_type(self) -> Self:
        if (self.order_type is OrderType.LIMIT) != (self.limit_price is not None):
            raise ValueError("limit orders need limit_price and market orders must not have one")
        if (self.exit_kind is None) != (self.trigger_price is None):
            raise ValueError("a protective exit needs both exit_kind and trigger_price")
        if self.exit_kind is not None and (
            self.order_type is not OrderType.MARKET or not self.reduce_only
        ):
            raise ValueError("a protective exit is a reduce-only market order")
        return self

    def fires_at(self, mark: Decimal) -> bool:
        """A protective exit whose trigger the mark has reached (False for other orders)."""
        if self.exit_kind is None or self.trigger_price is None:
            return False
        return self.exit_kind.fires(self.side, self.trigger_price, mark)

    @property
    def client_order_id(self) -> str:
        """Deterministic, so every retry and redelivery names the same exchange order.

        Bybit's orderLinkId allows 36 characters of [A-Za-z0-9_-]: a hash keeps any
        request id within that.
        """
        return client_order_id_for(self.request_id)


def client_order_id_for(request_id: str) -> str:
    return "stx-" + hashlib.sha256(request_id.encode()).hexdigest()[:32]


# Legs are numbered 0..MAX_LEGS-1, so a request id is its signal id plus at most 4 characters.
MAX_LEGS = 1000


def request_id_for(signal_id: str, leg: int) -> str:
    return f"{signal_id}-{leg}"


class OrderRejection(Message):
    request_id: Identifier
    signal_id: Identifier
    account: Identifier
    strategy: Identifier
    symbol: Symbol
    side: Side
    quantity: PositiveDecimal
    reason: str
    detail: str
    rejected_at: AwareDatetime

    @classmethod
    def of(cls, request: OrderRequest, reason: str, detail: str, at: datetime) -> OrderRejection:
        return cls(
            request_id=request.request_id,
            signal_id=request.signal_id,
            account=request.account,
            strategy=request.strategy,
            symbol=request.symbol,
            side=request.side,
            quantity=request.quantity,
            reason=reason,
            detail=detail,
            rejected_at=at,
        )


class Fill(Message):
    fill_id: Identifier
    client_order_id: Identifier
    exchange_order_id: str
    request_id: Identifier
    account: Identifier
    strategy: Identifier
    symbol: Symbol
    side: Side
    quantity: PositiveDecimal
    price: PositiveDecimal
    fee: NonNegativeDecimal
    fee_currency: str
    liquidity: Liquidity
    executed_at: AwareDatetime


class OrderStatus(StrEnum):
    PENDING = "pending"  # intent recorded, exchange not yet known to have it
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    LOST = "lost"  # the exchange never had it (found out by lookup or reconciliation)
    DRY_RUN = "dry_run"  # dry-run mode: recorded, never sent

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {
    OrderStatus.FILLED,
    OrderStatus.CANCELED,
    OrderStatus.REJECTED,
    OrderStatus.LOST,
    OrderStatus.DRY_RUN,
}
_LIVE = {OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED}
_ALLOWED: dict[OrderStatus, set[OrderStatus]] = {
    OrderStatus.PENDING: _LIVE | _TERMINAL,
    OrderStatus.OPEN: _LIVE | (_TERMINAL - {OrderStatus.DRY_RUN}),
    OrderStatus.PARTIALLY_FILLED: {OrderStatus.PARTIALLY_FILLED}
    | _TERMINAL
    - {
        OrderStatus.DRY_RUN,
        OrderStatus.REJECTED,
    },
}


class ExchangeOrder(BaseModel):
    """The exchange's view of one order, in domain types (parsed at the adapter)."""

    model_config = ConfigDict(frozen=True)

    exchange_order_id: str
    status: OrderStatus
    filled: ExactDecimal
    cost: ExactDecimal  # filled quantity x average price, quote currency
    fee: ExactDecimal
    fee_currency: str
    liquidity: Liquidity
    updated_at: datetime


class OrderRecord(BaseModel):
    """The executor's lifecycle document for one order (Firestore, or SQL embedded).

    It doubles as an outbox: a change is saved here (guarded by `version`) before anyone
    else hears of it, and the document says what is still owed for it (`owes`): fills not
    yet published, and the orders ledger, the quota and, for a rejection, order-rejections
    not yet told (`unsettled`). Whoever next sees the document (a redelivered copy, another
    message, the sweep) finishes that, so a crash only ever causes a repeat, which each
    receiver deduplicates (fill_id, the ledger's never-backwards upsert, release by id).
    """

    model_config = ConfigDict(frozen=True)

    request: OrderRequest
    status: OrderStatus = OrderStatus.PENDING
    exchange_order_id: str | None = None
    filled: ExactDecimal = ZERO
    cost: ExactDecimal = ZERO
    fee: ExactDecimal = ZERO
    fills: tuple[Fill, ...] = ()
    published: int = 0  # fills[:published] are known to be on the executions topic
    unsettled: bool = False  # the status or fills changed and the world was not yet told
    attempts: int = 0  # times the executor began sending it; > 0 means "look it up first"
    sending_until: AwareDatetime | None = None  # a live copy may be sending until then
    reason: str = ""  # machine-readable why it closed unfilled (rejected, given up...)
    detail: str = ""
    version: int = 0
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def intent(cls, request: OrderRequest, at: datetime) -> OrderRecord:
        return cls(request=request, created_at=at, updated_at=at)

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def unpublished(self) -> tuple[Fill, ...]:
        return self.fills[self.published :]

    @property
    def owes(self) -> bool:
        """Effects of a saved change are still owed (stored as `owed`, so the sweep finds
        exactly these documents)."""
        return self.unsettled or bool(self.unpublished)

    @property
    def explanation(self) -> str:
        """Why it ended as it did, for people: "reason: detail"."""
        return ": ".join(part for part in (self.reason, self.detail) if part)

    @property
    def unfilled(self) -> Decimal:
        """Signed quantity still to come (buys positive) while the order works; 0 once final."""
        if self.status.is_terminal:
            return ZERO
        return (self.request.quantity - self.filled) * self.request.side.sign

    def transition(
        self, status: OrderStatus, at: datetime, reason: str = "", detail: str = ""
    ) -> OrderRecord:
        if status is self.status:
            return self
        if status not in _ALLOWED.get(self.status, set()):
            raise InvalidTransition(f"{self.client_order_id}: {self.status} -> {status}")
        return self.model_copy(
            update={
                "status": status,
                "updated_at": at,
                "reason": reason,
                "detail": detail,
                "unsettled": True,
            }
        )

    def observe(self, seen: ExchangeOrder, at: datetime) -> OrderRecord:
        """Fold in the exchange's view: new status, and a fill for any new quantity.

        Fills are derived from cumulative filled/cost/fee, which every exchange reports,
        and are numbered in sequence so the same observation always yields the same id.
        """
        record = self.model_copy(
            update={
                "exchange_order_id": seen.exchange_order_id,
                "sending_until": None,
                "unsettled": self.unsettled or seen.exchange_order_id != self.exchange_order_id,
            }
        )
        if seen.filled > self.filled:
            quantity = seen.filled - self.filled
            fill = Fill(
                fill_id=f"{self.client_order_id}-{len(self.fills) + 1}",
                client_order_id=self.client_order_id,
                exchange_order_id=seen.exchange_order_id,
                request_id=self.request.request_id,
                account=self.request.account,
                strategy=self.request.strategy,
                symbol=self.request.symbol,
                side=self.request.side,
                quantity=quantity,
                price=(seen.cost - self.cost) / quantity,
                fee=max(seen.fee - self.fee, ZERO),
                fee_currency=seen.fee_currency,
                liquidity=seen.liquidity,
                executed_at=seen.updated_at,
            )
            record = record.model_copy(
                update={
                    "filled": seen.filled,
                    "cost": seen.cost,
                    "fee": seen.fee,
                    "fills": (*self.fills, fill),
                    "unsettled": True,
                }
            )
        return record.transition(seen.status, at)

    def sending(self, at: datetime, lease: timedelta) -> OrderRecord:
        """About to call the exchange: saved first, so a later copy looks before it sends
        and leaves the order alone while this copy may still be sending."""
        return self.model_copy(
            update={"attempts": self.attempts + 1, "sending_until": at + lease, "updated_at": at}
        )

    def sent(self) -> OrderRecord:
        """The sending copy is done with the exchange (answer or give-up)."""
        return self.model_copy(update={"sending_until": None})

    def settled(self) -> OrderRecord:
        """Everything this version owed was done: its fills are out, the world told."""
        return self.model_copy(update={"published": len(self.fills), "unsettled": False})
