"""Taking control (docs/control.md): manual orders, cancels, closes, flatten, sync.

Each route only validates, publishes a message and audits it (stratus.manager.control):
the pipeline does the trading, with its risk checks and idempotency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from stratus.domain.amounts import PositiveAmount
from stratus.domain.common import IDENTIFIER_PATTERN, Identifier, Side, Symbol
from stratus.domain.control import Control
from stratus.domain.risk import TradingState
from stratus.domain.signals import SIGNAL_ID_MAX
from stratus.manager.auth import Admin, Reader, Trader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.control import CancelRequested, Controls, FlattenProgress, Submitted
from stratus.manager.routes.orders import ClientOrderId

router = APIRouter(tags=["control"], route_class=StrictJsonRoute)

# The client's idempotency key; the signal id is "manual-<key>".
Key = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=SIGNAL_ID_MAX - len("manual-"), pattern=IDENTIFIER_PATTERN
    ),
]


class ManualOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key  # the same key again is the same order, placed once
    account: Identifier
    strategy: Identifier = "manual"  # whose sub-ledger the fills go to
    symbol: Symbol
    side: Side
    quantity: PositiveAmount
    limit_price: PositiveAmount | None = None  # none: a market order


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: Identifier
    strategy: Identifier
    symbol: Symbol
    quantity: PositiveAmount | None = None  # none: the whole position
    key: Key | None = None  # none: one close per state of the position


class ScopeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: Identifier | None = None  # none: every account


def _controls(request: Request) -> Controls:
    app = request.app
    return Controls(app.state.services, app.state.store)


@router.post("/orders", response_model=Submitted, status_code=202)
def manual_order(body: ManualOrderIn, request: Request, principal: Trader) -> Submitted:
    """A one-off order: a signal of source "manual", sized as given and checked by risk
    like any other. Answers before it trades: its fate is GET /signals, the order is
    GET /orders/{client_order_id} once risk approved it."""
    controls = _controls(request)
    signal = controls.order_signal(
        body.key,
        body.account,
        body.strategy,
        body.symbol,
        body.side,
        Decimal(body.quantity),
        body.limit_price,
    )
    return controls.place(signal, principal.name)


@router.delete("/orders/{client_order_id}", response_model=CancelRequested, status_code=202)
def cancel_order(
    client_order_id: Annotated[ClientOrderId, Path()], request: Request, principal: Trader
) -> CancelRequested:
    """Cancel a working order on the exchange (the control function does it). Asking
    again is harmless; an order already final answers 409 with its state."""
    return _controls(request).cancel(client_order_id, principal.name)


@router.post("/positions/close", response_model=Submitted, status_code=202)
def close_position(body: CloseIn, request: Request, principal: Trader) -> Submitted:
    """Close a strategy's position (its sub-ledger of the account's), all of it or at
    most `quantity`, as a close signal: never more than the strategy holds."""
    controls = _controls(request)
    signal = controls.close_signal(
        body.account, body.strategy, body.symbol, body.quantity, body.key
    )
    return controls.place(signal, principal.name)


@router.post("/flatten", response_model=FlattenProgress)
def flatten(body: ScopeIn, request: Request, principal: Admin) -> FlattenProgress:
    """Kill switch to `reducing`, cancel working orders, close every position of one
    account (or all). Call again until `done`: closes wait for their book's cancels."""
    return _controls(request).flatten(body.account, principal.name)


@router.post("/sync", response_model=Control, status_code=202)
def sync(body: ScopeIn, request: Request, principal: Admin) -> Control:
    """Reconcile now (one account or all); the report lands in
    GET /reconciliation/reports."""
    return _controls(request).sync(body.account, principal.name)


@router.get("/trading-state", response_model=dict[str, TradingState])
def trading_state(request: Request, _: Reader) -> dict[str, TradingState]:
    """The kill switch, globally and for each account of the system of record (never
    set: active)."""
    services = request.app.state.services
    scopes = ["global", *(f"account:{a}" for a in request.app.state.store.accounts.accounts())]
    found: dict[str, TradingState] = services.state.trading_state(scopes)
    return {scope: found.get(scope, TradingState.ACTIVE) for scope in scopes}
