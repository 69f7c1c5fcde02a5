"""update_position: apply a fill to its position exactly once, announce the result."""

from __future__ import annotations

import logging
from decimal import Decimal

from stratus.domain.orders import Fill
from stratus.domain.risk import unrealized_loss_warning
from stratus.observability import log_fields
from stratus.service.exits import protect_message
from stratus.service.services import Services

log = logging.getLogger(__name__)


def update_position(services: Services, fill: Fill) -> None:
    """The fills ledger's key (fill_id) makes this exactly-once under any redelivery,
    concurrent copies included: the second insert finds the first and changes nothing."""
    position = services.ledger.apply_fill(fill)
    if position is None:
        log.info("fill already applied", extra=log_fields(fill_id=fill.fill_id))
        return
    now = services.clock.now()
    mark = services.exchanges.for_account(fill.account).quote(fill.symbol).mid
    services.publish("position-updates", position.update_message(mark, fill.fill_id, now))
    services.publish("controls", protect_message(fill, now))  # exits follow the position
    log.info(
        "position updated",
        extra=log_fields(fill_id=fill.fill_id, symbol=fill.symbol, quantity=str(position.quantity)),
    )
    ratio = Decimal(str(services.settings.unrealized_loss_warning))
    warning = unrealized_loss_warning(position, mark, ratio, now)
    if warning is not None:
        services.publish("risk-warnings", warning)
        log.warning("unrealized loss", extra=log_fields(symbol=fill.symbol, loss=warning.value))
