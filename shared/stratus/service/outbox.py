"""The order document as an outbox: every change is saved first, then its effects follow.

Effects derive from durable state, never from which message survives. A change to an
order (new fills, a new status) is saved to its document with `owes` set; `finish` then
does what the change owes (the orders ledger and the quota learn the order's state, a
refusal goes to order-rejections, new fills to executions) and records that it did. A
crash anywhere in between leaves `owes` set, and whoever sees the document next (a copy
of any message about the order, reconcile, the sweep) finishes the job. Every effect is
idempotent at its receiver, so doing one twice is harmless; skipping one is impossible.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from stratus.domain.errors import ConcurrentUpdate
from stratus.domain.orders import ExchangeOrder, OrderRecord, OrderRejection, OrderStatus
from stratus.observability import log_fields
from stratus.service.services import Services
from stratus.topology import topology

log = logging.getLogger(__name__)

# Why a pending order is closed once no copy of its `orders` message can place it.
UNDELIVERED = "undelivered"
UNDELIVERED_DETAIL = "no copy of its order message placed it within the delivery window"
# Why a pending order is closed when its `orders` message arrives too late to be sent.
STALE = "stale"


def observe(services: Services, record: OrderRecord, seen: ExchangeOrder) -> OrderRecord:
    """Fold the exchange's view into the document (compare-and-set); `finish` follows."""
    return services.state.save_order(record.observe(seen, services.clock.now()))


def close(
    services: Services, record: OrderRecord, status: OrderStatus, reason: str, detail: str
) -> OrderRecord:
    """Close an order unfilled (compare-and-set); `finish` follows."""
    saved = services.state.save_order(
        record.transition(status, services.clock.now(), reason, detail)
    )
    log.info(
        "order closed",
        extra=log_fields(
            request=record.request.request_id, status=status, reason=reason, detail=detail
        ),
    )
    return saved


def close_unsent(services: Services, record: OrderRecord, reason: str, detail: str) -> OrderRecord:
    """A PENDING order that no copy of its message will send any more: adopted if an
    earlier attempt placed it after all, else closed with the reason (LOST if a send was
    attempted, CANCELED if none was). Left alone while a copy may still be sending it.
    Raises what the exchange raises: while it cannot say, the order is not declared dead."""
    if record.status is not OrderStatus.PENDING or _sending(services, record):
        return record
    if record.attempts:
        venue = services.exchanges.for_account(record.request.account)
        seen = venue.lookup(record.client_order_id, record.request.symbol)
        if seen is not None:
            return observe(services, record, seen)
    return close_unplaced(services, record, reason, detail)


def close_unplaced(
    services: Services, record: OrderRecord, reason: str, detail: str
) -> OrderRecord:
    """A PENDING order the exchange is known not to have."""
    status = OrderStatus.LOST if record.attempts else OrderStatus.CANCELED
    return close(services, record, status, reason, detail)


def may_still_be_sent(services: Services, record: OrderRecord) -> bool:
    """A PENDING order may still be sent while a copy is sending it (its lease runs) or
    a copy of its `orders` message may still arrive: within Pub/Sub's delivery window
    (topology.py) of the document's last change, which every send attempt makes."""
    if record.status is not OrderStatus.PENDING:
        return False
    since = services.clock.now() - record.updated_at
    return _sending(services, record) or since < delivery_window(services)


def delivery_window(services: Services) -> timedelta:
    seconds = services.settings.delivery_window_seconds
    return timedelta(seconds=seconds) if seconds else topology().retry.delivery_window


def _sending(services: Services, record: OrderRecord) -> bool:
    lease = record.sending_until
    return lease is not None and services.clock.now() < lease


def finish(services: Services, record: OrderRecord) -> OrderRecord:
    """Do what the document's last change still owes, then record that it was done.

    The orders ledger learns where the order stands (a final order giving its quota
    reservation back in the same write), a rejection is announced, and fills not yet
    known to be out are published. Each receiver deduplicates (record_order never moves
    an order backwards, release is by request id, update_position by fill_id). Returns
    the document as saved; if another writer moved it meanwhile, that writer's change
    owes its own finish.
    """
    if not record.owes:
        return record
    if record.unsettled:
        services.ledger.record_order(record)
        if record.status is OrderStatus.REJECTED:
            at = record.updated_at
            rejection = OrderRejection.of(record.request, record.reason, record.detail, at)
            services.publish("order-rejections", rejection)
    for fill in record.unpublished:
        services.publish("executions", fill)
    try:
        return services.state.save_order(record.settled())
    except ConcurrentUpdate:
        return record
