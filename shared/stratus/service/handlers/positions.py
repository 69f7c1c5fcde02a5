"""update_position: apply a fill to its position exactly once, announce the result."""

from __future__ import annotations

import logging
from decimal import Decimal

from stratus.domain.orders import Fill
from stratus.domain.risk import RiskWarning
from stratus.observability import log_fields
from stratus.service.services import Services

log = logging.getLogger(__name__)


def update_position(services: Services, fill: Fill) -> None:
    """The fills ledger's primary key makes this exactly-once under any redelivery."""
    position = services.ledger.apply_fill(fill)
    if position is None:
        log.info("fill already applied", extra=log_fields(fill_id=fill.fill_id))
        return
    now = services.clock.now()
    mark = services.exchanges.for_account(fill.account).quote(fill.symbol).mid
    services.publish("position-updates", position.update_message(mark, fill.fill_id, now))
    log.info(
        "position updated",
        extra=log_fields(fill_id=fill.fill_id, symbol=fill.symbol, quantity=str(position.quantity)),
    )
    loss = -position.unrealized_pnl(mark)
    threshold = position.notional(mark) * Decimal(str(services.settings.unrealized_loss_warning))
    if position.is_open and loss > threshold:
        services.publish(
            "risk-warnings",
            RiskWarning(
                account=fill.account,
                strategy=fill.strategy,
                symbol=fill.symbol,
                kind="unrealized_loss",
                detail=f"unrealized loss {loss:.2f} exceeds {threshold:.2f}",
                value=loss,
                threshold=threshold,
                raised_at=now,
            ),
        )
