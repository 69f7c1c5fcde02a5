"""Allocations of account equity to strategies, and quotas with their reservations."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from stratus.domain.accounts import Allocation
from stratus.domain.common import Identifier
from stratus.domain.quotas import Quota
from stratus.manager.auth import Reader, Trader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.numbers import Money
from stratus.manager.routes.deps import StoreDep
from stratus.manager.schemas import Amount, Paged, Paging, paged

router = APIRouter(route_class=StrictJsonRoute)

Version = Field(default=None, ge=1, le=2**31 - 1, description="expected version (409 if stale)")


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Amount
    version: int | None = Version


class QuotaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_notional: Amount | None = None
    max_order_notional: Amount | None = None
    max_open_orders: int | None = Field(default=None, ge=0, le=1_000_000)
    max_daily_loss: Amount | None = None
    version: int | None = Version


class QuotaUsageOut(BaseModel):
    held_notional: Money
    open_orders: int
    daily_pnl: Money


class ReservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: Identifier
    account: Identifier
    strategy: Identifier
    notional: Amount


class ReservationOut(BaseModel):
    request_id: str
    granted: bool
    reason: str | None


@router.get("/allocations", response_model=Paged[Allocation], tags=["allocations"])
def list_allocations(
    store: StoreDep, _: Reader, page: Paging, account: Identifier | None = None
) -> Paged[Allocation]:
    return paged(*store.funds.allocations(page, account), page)


@router.get("/allocations/{account}/{strategy}", response_model=Allocation, tags=["allocations"])
def get_allocation(
    account: Identifier, strategy: Identifier, store: StoreDep, _: Reader
) -> Allocation:
    return store.funds.allocation(account, strategy)


@router.put("/allocations/{account}/{strategy}", response_model=Allocation, tags=["allocations"])
def put_allocation(
    account: Identifier,
    strategy: Identifier,
    body: AllocationIn,
    store: StoreDep,
    principal: Trader,
    response: Response,
) -> Allocation:
    """Create (201) or change (200); the account's allocations may not exceed its equity
    (its balance in the account currency): 409 allocation_exceeds_equity."""
    allocation, created = store.funds.put_allocation(
        account, strategy, body.amount, body.version, actor=principal.name
    )
    response.status_code = 201 if created else 200
    return allocation


@router.delete("/allocations/{account}/{strategy}", status_code=204, tags=["allocations"])
def delete_allocation(
    account: Identifier, strategy: Identifier, store: StoreDep, principal: Trader
) -> Response:
    store.funds.delete_allocation(account, strategy, actor=principal.name)
    return Response(status_code=204)


@router.get("/quotas", response_model=Paged[Quota], tags=["quotas"])
def list_quotas(
    store: StoreDep, _: Reader, page: Paging, account: Identifier | None = None
) -> Paged[Quota]:
    return paged(*store.quotas.find(page, account), page)


@router.get("/quotas/{account}/{strategy}", response_model=Quota, tags=["quotas"])
def get_quota(account: Identifier, strategy: Identifier, store: StoreDep, _: Reader) -> Quota:
    return store.quotas.get(account, strategy)


@router.get("/quotas/{account}/{strategy}/usage", response_model=QuotaUsageOut, tags=["quotas"])
def quota_usage(
    account: Identifier, strategy: Identifier, store: StoreDep, _: Reader
) -> QuotaUsageOut:
    usage = store.quotas.usage(account, strategy)
    return QuotaUsageOut(**vars(usage))


@router.put("/quotas/{account}/{strategy}", response_model=Quota, tags=["quotas"])
def put_quota(
    account: Identifier,
    strategy: Identifier,
    body: QuotaIn,
    store: StoreDep,
    principal: Trader,
    response: Response,
) -> Quota:
    """Create (201) or replace (200) a strategy's limits; omitted limits are disabled."""
    store.accounts.get(account)
    limits = body.model_dump(exclude={"version"})
    quota, created = store.quotas.put(account, strategy, limits, body.version, principal.name)
    response.status_code = 201 if created else 200
    return quota


@router.delete("/quotas/{account}/{strategy}", status_code=204, tags=["quotas"])
def delete_quota(
    account: Identifier, strategy: Identifier, store: StoreDep, principal: Trader
) -> Response:
    store.quotas.delete(account, strategy, actor=principal.name)
    return Response(status_code=204)


@router.post("/quotas/reservations", response_model=ReservationOut, tags=["quotas"])
def reserve(body: ReservationIn, store: StoreDep, _: Trader) -> ReservationOut:
    """Atomically reserve quota for one order request (idempotent by request_id)."""
    reason = store.quotas.reserve_for(body.request_id, body.account, body.strategy, body.notional)
    return ReservationOut(request_id=body.request_id, granted=reason is None, reason=reason)


@router.post("/quotas/reservations/{request_id}/release", status_code=204, tags=["quotas"])
def release(request_id: Identifier, store: StoreDep, _: Trader) -> Response:
    store.quotas.release(request_id)
    return Response(status_code=204)
