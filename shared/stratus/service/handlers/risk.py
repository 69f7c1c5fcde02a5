"""check_risk: approve an order request onto `orders` or reject it with a reason."""

from __future__ import annotations

import logging
from datetime import datetime, time

from stratus.domain.common import ZERO
from stratus.domain.orders import OrderRejection, OrderRequest
from stratus.domain.risk import RiskContext, evaluate
from stratus.observability import log_fields
from stratus.service.services import Services

log = logging.getLogger(__name__)


def check_risk(services: Services, request: OrderRequest) -> None:
    key = f"check_risk:{request.request_id}"
    if services.state.is_done(key):
        log.info("duplicate order request ignored", extra=log_fields(request=request.request_id))
        return
    context = risk_context(services, request)
    decision = evaluate(request, context, services.settings.risk)
    if decision.approved:
        services.publish("orders", request)
        log.info("order approved", extra=log_fields(request=request.request_id))
    else:
        rejection = OrderRejection.of(
            request, decision.reason, decision.detail, services.clock.now()
        )
        services.publish("order-rejections", rejection)
        log.warning(
            "order rejected",
            extra=log_fields(request=request.request_id, reason=decision.reason),
        )
    services.state.mark_done(key)


def risk_context(services: Services, request: OrderRequest) -> RiskContext:
    """Everything the rules need, read fresh: quote, positions, equity, today's PnL."""
    venue = services.exchanges.for_account(request.account)
    quote = venue.quote(request.symbol)
    price = request.limit_price or quote.touch(request.side)
    positions = services.ledger.positions(request.account)
    marks = {request.symbol: quote.mid}
    exposure = sum((p.notional(marks.get(p.symbol, p.average_entry)) for p in positions), ZERO)
    now = services.clock.now()
    midnight = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    return RiskContext(
        price=price,
        position_quantity=sum((p.quantity for p in positions if p.symbol == request.symbol), ZERO),
        total_exposure=exposure,
        balance=venue.equity(),
        daily_pnl=services.ledger.realized_pnl_since(request.account, midnight),
        trading_state=services.settings.trading_state,
    )
