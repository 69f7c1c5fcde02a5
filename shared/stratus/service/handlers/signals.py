"""on_signal: a signal becomes sized order requests."""

from __future__ import annotations

import logging
from decimal import Decimal
from functools import partial

from stratus.domain.common import ZERO, Side
from stratus.domain.errors import PermanentError
from stratus.domain.records import NotFound
from stratus.domain.signals import Signal, SignalAction
from stratus.domain.sizing import plan_orders
from stratus.observability import log_fields
from stratus.service.exits import keep_exits
from stratus.service.handlers.control import cancel_order
from stratus.service.services import Services

log = logging.getLogger(__name__)


def on_signal(services: Services, signal: Signal) -> None:
    """Size and split the signal into order requests for risk.

    Request ids are derived from the signal id, so a redelivery that gets past the
    done-check (a crash before mark_done, or a concurrent copy) republishes the same
    requests, which check_risk and the executor deduplicate.
    """
    key = f"on_signal:{signal.signal_id}"
    if services.state.is_done(key):
        log.info("duplicate signal ignored", extra=log_fields(signal_id=signal.signal_id))
        return
    check_account(services, signal.account)
    venue = services.exchanges.for_account(signal.account)
    policy = services.settings.sizing
    plan = partial(
        plan_orders,
        signal,
        quote=venue.quote(signal.symbol),
        market=venue.market(signal.symbol),
        policy=policy,
        now=services.clock.now(),
        allocation=_allocation(services, signal) if policy.needs_allocation(signal) else None,
    )
    closing = signal.action is SignalAction.CLOSE
    holding = will_hold(services, signal) if closing else ZERO
    if not closing:
        keep_exits(services, signal)
    requests = plan(holding)
    if requests and policy.cancel_opposite:
        withdrawn = cancel_opposite(services, signal, requests[0].side)
        if closing and withdrawn:
            requests = plan(holding - withdrawn)  # what was canceled will never fill
    for request in requests:
        services.publish("order-requests", request)
    services.state.mark_done(key)
    if requests:
        log.info(
            "signal planned",
            extra=log_fields(signal_id=signal.signal_id, legs=len(requests), symbol=signal.symbol),
        )
    else:
        log.info(
            "nothing to close",
            extra=log_fields(
                signal_id=signal.signal_id, reason="nothing_to_close", symbol=signal.symbol
            ),
        )


def will_hold(services: Services, signal: Signal) -> Decimal:
    """What the signal's strategy will hold in its symbol once its in-flight orders
    finish: its position (its sub-ledger of the account's) plus their unfilled parts.
    Protective exits wait for a trigger: they are not in flight."""
    held = services.ledger.position(signal.account, signal.strategy, signal.symbol).quantity
    working = services.state.orders(signal.account, live=True)
    mine = (signal.strategy, signal.symbol)
    return held + sum(
        (
            r.unfilled
            for r in working
            if (r.request.strategy, r.request.symbol) == mine and r.request.exit_kind is None
        ),
        ZERO,
    )


def check_account(services: Services, account: str) -> None:
    """Unknown and disabled accounts never trade: a PermanentError says which. Raises
    Unavailable (retry) while the system of record cannot be reached."""
    try:
        found = services.accounts.get(account)
    except NotFound:
        raise PermanentError("unknown_account", f"there is no account {account!r}") from None
    if not found.enabled:
        raise PermanentError("account_disabled", f"account {account!r} takes no signals")


def _allocation(services: Services, signal: Signal) -> Decimal | None:
    if services.allocations is None:
        return None
    try:
        return services.allocations.allocation(signal.account, signal.strategy).amount
    except NotFound:
        return None


def cancel_opposite(services: Services, signal: Signal, side: Side) -> Decimal:
    """Cancel the strategy's working orders on the other side of this symbol; returns
    the signed quantity they will now never fill (control.cancel_order's rules: one
    being sent right now makes this a retry)."""
    withdrawn = ZERO
    for record in services.state.orders(signal.account, live=True):
        request = record.request
        if request.exit_kind is not None:
            continue  # protective exits follow the position (service/exits.py)
        if (request.strategy, request.symbol, request.side) != (
            signal.strategy,
            signal.symbol,
            side.opposite,
        ):
            continue
        final = cancel_order(services, record, "superseded", f"superseded by {signal.signal_id}")
        if final.status.is_terminal:
            withdrawn += (request.quantity - final.filled) * request.side.sign
        log.info(
            "opposite order canceled",
            extra=log_fields(client_order_id=record.client_order_id, signal_id=signal.signal_id),
        )
    return withdrawn
