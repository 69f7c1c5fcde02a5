"""check_risk: approve an order request onto `orders` or reject it with a reason.

An approval is recorded as the order's PENDING document before it is published, so the
decision survives a crash, a redelivered copy republishes instead of re-deciding, and
later checks count the order as in flight until its fills reach the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal

from stratus.domain.common import ZERO
from stratus.domain.market import Quote
from stratus.domain.orders import OrderRecord, OrderRejection, OrderRequest
from stratus.domain.risk import (
    RiskContext,
    RiskDecision,
    evaluate,
    exchange_reduce_only,
    kill_switch_scopes,
    most_restrictive,
    unrealized_loss_warning,
)
from stratus.observability import log_fields
from stratus.ports import Venue
from stratus.service.services import Services

log = logging.getLogger(__name__)


def check_risk(services: Services, request: OrderRequest) -> None:
    # An approval is the order document itself; only rejections need a done key.
    approved = services.state.get_order(request.client_order_id)
    if approved is not None:
        _approve(services, approved.request)  # a copy, or a crash after approving: it stands
        return
    key = f"check_risk:{request.request_id}"
    if services.state.is_done(key):
        log.info("duplicate order request ignored", extra=log_fields(request=request.request_id))
        return
    venue = services.exchanges.for_account(request.account)
    quote = venue.quote(request.symbol)
    context = risk_context(services, request, venue, quote)
    decision = evaluate(request, context, services.settings.risk)
    if decision.approved and not request.closes_position:  # a close holds no quota
        refused = services.quotas.reserve(request, request.quantity * context.price)
        if refused is not None:
            decision = RiskDecision(False, refused, f"strategy {request.strategy} quota")
    _warn_unrealized_loss(services, request, context, quote)
    if decision.approved:
        request = _as_approved(request, decision, context, venue)
        services.state.create_order(OrderRecord.intent(request, services.clock.now()))
        _approve(services, request)
    elif services.state.get_order(request.client_order_id) is None:  # no copy approved it
        _reject(services, request, decision)
        services.state.mark_done(key)


def abandon(services: Services, request: OrderRequest, reason: str, detail: str) -> bool:
    """The request is given up. If it was approved, its order document carries on (True:
    its outcome is that order, or the sweep closing it with a reason). Else no order comes
    of it: a reservation taken before a crash is given back, and later copies are ignored
    instead of deciding again."""
    if services.state.get_order(request.client_order_id) is not None:
        return True
    services.quotas.release(request.request_id)
    services.state.mark_done(f"check_risk:{request.request_id}")
    return False


def _as_approved(
    request: OrderRequest, decision: RiskDecision, context: RiskContext, venue: Venue
) -> OrderRequest:
    """The request as the executor sends it: cut to the approved quantity, a market
    order's approval price, and the exchange's reduceOnly flag decided now."""
    reference = context.price if request.limit_price is None else request.reference_price
    request = request.model_copy(
        update={"quantity": decision.quantity or request.quantity, "reference_price": reference}
    )

    def exchange_position() -> Decimal:
        return sum((p.quantity for p in venue.positions() if p.symbol == request.symbol), ZERO)

    reduce_only = exchange_reduce_only(request, context, exchange_position)
    return request.model_copy(update={"reduce_only": reduce_only})


def _approve(services: Services, request: OrderRequest) -> None:
    services.publish("orders", request)
    log.info("order approved", extra=log_fields(request=request.request_id))


def _reject(services: Services, request: OrderRequest, decision: RiskDecision) -> None:
    now = services.clock.now()
    services.publish(
        "order-rejections", OrderRejection.of(request, decision.reason, decision.detail, now)
    )
    log.warning(
        "order rejected",
        extra=log_fields(
            request=request.request_id, reason=decision.reason, detail=decision.detail
        ),
    )


def risk_context(
    services: Services, request: OrderRequest, venue: Venue, quote: Quote
) -> RiskContext:
    """Everything the rules need, read fresh: quote, positions, in-flight orders, the
    account's balance, today's PnL and the kill switch."""
    price = request.limit_price or quote.touch(request.side)
    positions = services.ledger.positions(request.account)
    marks = _marks(venue, quote)
    exposure = sum((p.notional(marks(p.symbol)) for p in positions if p.is_open), ZERO)
    pending_quantity = pending_exposure = strategy_pending = same_side = ZERO
    for record in services.state.orders(request.account, live=True):
        other = record.request
        if other.request_id == request.request_id or other.exit_kind is not None:
            continue  # a protective exit waits for its trigger and only reduces
        if other.symbol != request.symbol:
            pending_exposure += abs(record.unfilled) * (other.limit_price or marks(other.symbol))
            continue
        pending_quantity += record.unfilled
        if other.strategy == request.strategy:
            strategy_pending += record.unfilled
        if other.side is request.side:
            same_side += abs(record.unfilled)
    now = services.clock.now()
    midnight = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    switches = services.state.trading_state(kill_switch_scopes(request.account, request.strategy))
    own = [p for p in positions if (p.strategy, p.symbol) == (request.strategy, request.symbol)]
    return RiskContext(
        strategy_position=own[0] if own else None,
        price=price,
        position_quantity=sum((p.quantity for p in positions if p.symbol == request.symbol), ZERO),
        total_exposure=exposure,
        balance=_balance(services, request.account, venue),
        daily_pnl=services.ledger.realized_pnl_since(request.account, midnight),
        trading_state=most_restrictive([services.settings.trading_state, *switches.values()]),
        pending_quantity=pending_quantity,
        pending_exposure=pending_exposure,
        strategy_pending=strategy_pending,
        pending_same_side=same_side,
    )


def _balance(services: Services, account: str, venue: Venue) -> Decimal:
    """The balance the system of record holds (the watcher, snapshot and reconcile keep
    it from the exchange; a paper account's may be set by hand); the exchange's own
    while the record has none yet (a new account)."""
    recorded = None if services.allocations is None else services.allocations.equity(account)
    return venue.equity() if recorded is None else recorded


def _marks(venue: Venue, quote: Quote) -> Callable[[str], Decimal]:
    """Mid prices by symbol, each fetched at most once per check."""
    cache = {quote.symbol: quote.mid}

    def mark(symbol: str) -> Decimal:
        if symbol not in cache:
            cache[symbol] = venue.quote(symbol).mid
        return cache[symbol]

    return mark


def _warn_unrealized_loss(
    services: Services, request: OrderRequest, context: RiskContext, quote: Quote
) -> None:
    position = context.strategy_position
    if position is None:
        return
    ratio = Decimal(str(services.settings.unrealized_loss_warning))
    warning = unrealized_loss_warning(position, quote.mid, ratio, services.clock.now())
    if warning is not None:
        services.publish("risk-warnings", warning)
        log.warning("unrealized loss", extra=log_fields(symbol=request.symbol, loss=warning.value))
