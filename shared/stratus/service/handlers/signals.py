"""on_signal: a signal becomes sized order requests."""

from __future__ import annotations

import logging

from stratus.domain.signals import Signal
from stratus.domain.sizing import plan_orders
from stratus.observability import log_fields
from stratus.service.services import Services

log = logging.getLogger(__name__)


def on_signal(services: Services, signal: Signal) -> None:
    """Size and split the signal into order requests for risk.

    Request ids are derived from the signal id, so a redelivery that gets past the
    done-check (a crash before mark_done) republishes the same requests, which the
    executor deduplicates by clientOrderId.
    """
    key = f"on_signal:{signal.signal_id}"
    if services.state.is_done(key):
        log.info("duplicate signal ignored", extra=log_fields(signal_id=signal.signal_id))
        return
    venue = services.exchanges.for_account(signal.account)
    market = venue.market(signal.symbol)
    quote = venue.quote(signal.symbol)
    position = services.ledger.position(signal.account, signal.strategy, signal.symbol)
    requests = plan_orders(
        signal, position.quantity, quote, market, services.settings.sizing, services.clock.now()
    )
    if not requests:
        log.info("nothing to do for signal", extra=log_fields(signal_id=signal.signal_id))
    for request in requests:
        services.publish("order-requests", request)
    services.state.mark_done(key)
    log.info(
        "signal planned",
        extra=log_fields(signal_id=signal.signal_id, legs=len(requests), symbol=signal.symbol),
    )
