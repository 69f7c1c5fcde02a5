"""execute_order: place an approved request on the exchange exactly once, follow it.

The order document is the intent (recorded before the exchange is called) and the outbox
for its fills. Any retry or redelivery uses the same clientOrderId, and after an
ambiguous failure the order is looked up by that id before anything is sent again.
"""

from __future__ import annotations

import logging
import random

from stratus.domain.errors import (
    ConcurrentUpdate,
    DuplicateOrder,
    ExchangeUnavailable,
    OrderRejected,
)
from stratus.domain.orders import (
    ExchangeOrder,
    OrderRecord,
    OrderRejection,
    OrderRequest,
    OrderStatus,
)
from stratus.observability import log_fields
from stratus.ports import Venue
from stratus.service.services import Services

log = logging.getLogger(__name__)

PLACE_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 5.0
FOLLOW_POLLS = 3  # quick re-reads of a fresh order before reconciliation takes over


def execute_order(services: Services, request: OrderRequest) -> None:
    record = _intent(services, request)
    if record.status.is_terminal and not record.unpublished:
        log.info("order already final", extra=log_fields(client_order_id=record.client_order_id))
        return
    if record.status is OrderStatus.PENDING and services.settings.dry_run:
        record = services.state.save_order(
            record.transition(OrderStatus.DRY_RUN, services.clock.now(), "dry-run: not sent")
        )
        log.info("dry run: order recorded, not sent", extra=log_fields(request=request.request_id))
        return
    venue = services.exchanges.for_account(request.account)
    if record.status is OrderStatus.PENDING:
        try:
            seen = place_exactly_once(services, venue, request)
        except OrderRejected as error:
            _reject(services, record, error)
            return
        record = observe(services, record, seen)
    for _ in range(FOLLOW_POLLS):
        if record.status.is_terminal or record.exchange_order_id is None:
            break
        latest = venue.lookup(record.client_order_id, request.symbol)
        if latest is None:
            break
        record = observe(services, record, latest)
    publish_fills(services, record)
    if not record.status.is_terminal:
        log.info(
            "order working; reconciliation follows it",
            extra=log_fields(client_order_id=record.client_order_id, status=record.status),
        )


def _intent(services: Services, request: OrderRequest) -> OrderRecord:
    """The order's document, created (as PENDING) before the exchange hears of it."""
    existing = services.state.get_order(request.client_order_id)
    if existing is not None:
        return existing
    record = OrderRecord.intent(request, services.clock.now())
    if services.state.create_order(record):
        return record
    found = services.state.get_order(request.client_order_id)  # a concurrent copy won
    if found is None:
        raise ConcurrentUpdate(f"order {request.client_order_id} vanished")
    return found


def place_exactly_once(services: Services, venue: Venue, request: OrderRequest) -> ExchangeOrder:
    """Create the order; on an ambiguous failure look it up before trying again."""
    coid = request.client_order_id
    for attempt in range(1, PLACE_ATTEMPTS + 1):
        try:
            return venue.place(request)
        except DuplicateOrder:
            found = venue.lookup(coid, request.symbol)
            if found is None:
                raise ExchangeUnavailable(f"{coid} reported duplicate but not found") from None
            return found
        except ExchangeUnavailable as error:
            log.warning(
                "exchange unavailable; looking the order up",
                extra=log_fields(client_order_id=coid, attempt=attempt, error=str(error)),
            )
            found = _lookup_quietly(venue, coid, request.symbol)
            if found is not None:
                return found
            if attempt == PLACE_ATTEMPTS:
                raise  # Pub/Sub redelivers later; the intent keeps the same clientOrderId
            services.sleep(backoff(attempt))
    raise AssertionError("unreachable")


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


def _lookup_quietly(venue: Venue, coid: str, symbol: str) -> ExchangeOrder | None:
    try:
        return venue.lookup(coid, symbol)
    except ExchangeUnavailable:
        return None


def observe(services: Services, record: OrderRecord, seen: ExchangeOrder) -> OrderRecord:
    """Fold the exchange's view into the document (compare-and-set) before publishing."""
    return services.state.save_order(record.observe(seen, services.clock.now()))


def publish_fills(services: Services, record: OrderRecord) -> OrderRecord:
    """Publish fills not yet known to be out; update_position deduplicates by fill_id."""
    pending = record.unpublished
    if not pending:
        return record
    for fill in pending:
        services.publish("executions", fill)
    try:
        return services.state.save_order(record.mark_published(len(record.fills)))
    except ConcurrentUpdate:
        return record  # someone else moved it; they will publish what is left


def _reject(services: Services, record: OrderRecord, error: OrderRejected) -> None:
    now = services.clock.now()
    services.state.save_order(record.transition(OrderStatus.REJECTED, now, error.detail))
    rejection = OrderRejection.of(record.request, error.reason, error.detail, now)
    services.publish("order-rejections", rejection)
    log.warning("exchange rejected order", extra=log_fields(reason=error.reason))
