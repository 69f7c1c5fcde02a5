"""execute_order: place an approved request on the exchange exactly once, follow it.

The order document (created PENDING by check_risk) is the intent and the outbox of what
each change owes (service/outbox.py). Before the exchange is called the document's
`attempts` is bumped by compare-and-set, so of two concurrent copies only one sends, and
any later copy looks the order up by its clientOrderId before it would send again.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import NoReturn

from stratus.domain.errors import (
    ConcurrentUpdate,
    DuplicateOrder,
    ExchangeUnavailable,
    PermanentError,
)
from stratus.domain.orders import ExchangeOrder, OrderRecord, OrderRequest, OrderStatus
from stratus.domain.risk import TradingState, kill_switch_scopes
from stratus.observability import log_fields
from stratus.ports import Venue
from stratus.service.outbox import STALE, close, close_unsent, finish, observe
from stratus.service.services import Services

log = logging.getLogger(__name__)

PLACE_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 5.0
FOLLOW_DELAYS = (0.2, 0.5, 1.0)  # re-reads of a fresh market order, then reconciliation
# Longer than any exchange call may take: a copy that began sending this long ago and
# left no order on the exchange is presumed dead, and the order is sent again.
SEND_LEASE = timedelta(seconds=60)


def execute_order(services: Services, request: OrderRequest) -> None:
    record = _intent(services, request)
    if record.status.is_terminal:
        log.info("order already final", extra=log_fields(client_order_id=record.client_order_id))
        finish(services, record)  # whatever a crash after its last change left owed
        return
    venue = services.exchanges.for_account(request.account)
    if record.status is OrderStatus.PENDING:
        record = _send(services, venue, record)
    for delay in FOLLOW_DELAYS:
        # A limit order may rest for hours, a protective exit wait for its trigger:
        # reconciliation follows them, not this function.
        resting = request.limit_price is not None or request.exit_kind is not None
        if record.status.is_terminal or record.exchange_order_id is None or resting:
            break
        services.sleep(delay)
        latest = venue.lookup(record.client_order_id, request.symbol)
        if latest is None:
            break
        record = observe(services, record, latest)
    record = finish(services, record)
    if not record.status.is_terminal:
        log.info(
            "order working; reconciliation follows it",
            extra=log_fields(client_order_id=record.client_order_id, status=record.status),
        )


def _intent(services: Services, request: OrderRequest) -> OrderRecord:
    """The order's document; created here too when check_risk's record is missing."""
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


def _send(services: Services, venue: Venue, record: OrderRecord) -> OrderRecord:
    """A PENDING order to the exchange, exactly once; returns the updated document."""
    request, now = record.request, services.clock.now()
    if record.attempts:
        seen = venue.lookup(record.client_order_id, request.symbol)
        if seen is not None:
            return observe(services, record, seen)  # an earlier attempt placed it
        if record.sending_until is not None and now < record.sending_until:
            raise ConcurrentUpdate(f"{record.client_order_id} is being sent by another copy")
    if services.settings.dry_run:
        return close(services, record, OrderStatus.DRY_RUN, "dry_run", "recorded, not sent")
    if _halted(services, request):
        _refuse(services, record, PermanentError("kill_switch_halted", "trading halted"))
    if request.exit_kind is not None and not venue.conditional_orders:
        # Sent as it stands it would execute now: an exit here is watched, never placed.
        detail = "this venue keeps no conditional orders: its exits are watched"
        _refuse(services, record, PermanentError("conditional_orders_unsupported", detail))
    try:
        sendable = prepare(venue, request)
    except PermanentError as problem:
        _refuse(services, record, problem)
    record = services.state.save_order(record.sending(now, SEND_LEASE))  # CAS: one sends
    try:
        seen = place_exactly_once(services, venue, sendable)
    except PermanentError as problem:  # OrderRejected, misconfiguration
        _refuse(services, record, problem)
    except ExchangeUnavailable:
        services.state.save_order(record.sent())  # the next copy need not wait the lease
        raise
    return observe(services, record, seen)


def prepare(venue: Venue, request: OrderRequest) -> OrderRequest:
    """The request rounded to the market's steps and checked against its limits."""
    market = venue.market(request.symbol)
    quantity = market.round_amount(request.quantity)
    price = request.limit_price
    if price is not None:
        price = market.round_price(price, request.side)
    touch = (
        price
        or request.trigger_price
        or request.reference_price
        or venue.quote(request.symbol).touch(request.side)
    )
    market.check(quantity, touch)
    if (quantity, price) == (request.quantity, request.limit_price):
        return request
    return request.model_copy(update={"quantity": quantity, "limit_price": price})


def _halted(services: Services, request: OrderRequest) -> bool:
    """The kill switch may have been thrown since risk approved the order."""
    scopes = kill_switch_scopes(request.account, request.strategy)
    states = [services.settings.trading_state, *services.state.trading_state(scopes).values()]
    return TradingState.HALTED in states


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
                raise  # Pub/Sub redelivers later; `attempts` makes that copy look first
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


def expire(services: Services, request: OrderRequest) -> None:
    """A stale `orders` message: unless an earlier copy placed it, it is never sent."""
    record = services.state.get_order(request.client_order_id)
    if record is not None:
        detail = "older than the event age limit: never sent"
        finish(services, close_unsent(services, record, STALE, detail))


def abandon(services: Services, request: OrderRequest, reason: str, detail: str) -> bool:
    """The `orders` message is given up: the order it asked for is finished from what
    is durable. Adopted if a send placed it, else closed with the reason, giving its
    reservation back; left alone while a copy is sending it, and for the sweep while the
    exchange cannot say (this raises). A missing document is created first, so that no
    later copy of the request sends what was given up. True when the order stands (placed,
    or being placed): then the message's outcome is that order, not a dead letter."""
    record = finish(services, close_unsent(services, _intent(services, request), reason, detail))
    return record.exchange_order_id is not None or record.status is OrderStatus.PENDING


def _refuse(services: Services, record: OrderRecord, problem: PermanentError) -> NoReturn:
    """Final: the order is REJECTED with the reason, announced on `order-rejections`, and
    the message goes on to its dead-letter topic (dispatch catches the PermanentError)."""
    closed = close(services, record, OrderStatus.REJECTED, problem.reason, problem.detail)
    finish(services, closed)
    raise problem
