"""Errors of the system of record, mapped to HTTP statuses at the manager's edge."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from stratus.domain.common import ExactDecimal
from stratus.domain.errors import StratusError


class NotFound(StratusError):
    """The record does not exist (HTTP 404)."""

    def __init__(self, entity: str, key: str) -> None:
        super().__init__(f"{entity} {key!r} not found")
        self.entity = entity
        self.key = key


class Unavailable(StratusError):
    """The system of record cannot be reached right now: retry later."""


class Conflict(StratusError):
    """The request contradicts the stored state: a duplicate, a stale version, a rule
    like "allocations may not exceed equity" (HTTP 409). Retrying unchanged cannot help."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class OrderEntry(BaseModel):
    """One order in the orders ledger."""

    model_config = ConfigDict(frozen=True)

    client_order_id: str
    request_id: str
    signal_id: str
    exchange_order_id: str | None
    account: str
    strategy: str
    symbol: str
    side: str
    order_type: str
    quantity: ExactDecimal
    limit_price: ExactDecimal | None
    status: str
    filled: ExactDecimal
    cost: ExactDecimal
    fee: ExactDecimal
    detail: str
    created_at: datetime
    updated_at: datetime
    version: int
