"""The orders and fills ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, StringConstraints

from stratus.adapters.sql.portfolio import LedgerFilter
from stratus.domain.common import Identifier, Symbol
from stratus.domain.orders import Fill, OrderStatus
from stratus.domain.records import OrderEntry
from stratus.manager.auth import Reader, Trader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.errors import BadRequest
from stratus.manager.routes.deps import StoreDep
from stratus.manager.schemas import OrderIn, Paged, Paging, paged

router = APIRouter(tags=["ledger"], route_class=StrictJsonRoute)

ClientOrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:\-]{1,64}$")]


class Recorded(BaseModel):
    client_order_id: str
    changed: bool  # False: the ledger already had this state or a later one


@router.get("/orders", response_model=Paged[OrderEntry])
def list_orders(
    store: StoreDep,
    _: Reader,
    page: Paging,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
    symbol: Symbol | None = None,
    status: OrderStatus | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Paged[OrderEntry]:
    where = LedgerFilter(
        account, strategy, symbol, status.value if status else None, since=since, until=until
    )
    return paged(*store.portfolio.orders(where, page), page)


@router.get("/orders/{client_order_id}", response_model=OrderEntry)
def get_order(
    client_order_id: Annotated[ClientOrderId, Path()], store: StoreDep, _: Reader
) -> OrderEntry:
    return store.portfolio.order(client_order_id)


@router.put("/orders/{client_order_id}", response_model=Recorded)
def record_order(
    client_order_id: Annotated[ClientOrderId, Path()],
    body: OrderIn,
    store: StoreDep,
    principal: Trader,
) -> Recorded:
    """Record the executor's order document; idempotent, never moves an order back.
    (A person's order is POST /orders: docs/control.md.)"""
    if body.client_order_id != client_order_id:
        raise BadRequest("order_id_mismatch", "the path and the document name other orders")
    changed = store.ledger.record_order(body.record(), actor=principal.name)
    return Recorded(client_order_id=body.client_order_id, changed=changed)


@router.get("/fills", response_model=Paged[Fill])
def list_fills(
    store: StoreDep,
    _: Reader,
    page: Paging,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
    symbol: Symbol | None = None,
    client_order_id: ClientOrderId | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Paged[Fill]:
    where = LedgerFilter(
        account, strategy, symbol, client_order_id=client_order_id, since=since, until=until
    )
    return paged(*store.portfolio.fills(where, page), page)
