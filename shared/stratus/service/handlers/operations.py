"""Scheduled operations: snapshots and reconciliation of orders with the exchange."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from stratus.domain.errors import ConcurrentUpdate
from stratus.domain.orders import OrderStatus
from stratus.observability import log_fields
from stratus.service.handlers.execution import observe, publish_fills
from stratus.service.http import HttpResult, error
from stratus.service.services import Services

log = logging.getLogger(__name__)

SCHEDULE_TIME_HEADER = "X-CloudScheduler-ScheduleTime"


def follow_open_orders(services: Services, account: str | None = None) -> int:
    """Bring every live order document up to date with the exchange; returns how many
    fills were published. Fills already recorded are never counted twice: the document's
    cumulative filled quantity is the watermark."""
    published = 0
    for record in services.state.orders(account, live=True):
        venue = services.exchanges.for_account(record.request.account)
        seen = venue.lookup(record.client_order_id, record.request.symbol)
        if seen is None:
            continue  # still PENDING: its Pub/Sub message will place it
        try:
            updated = observe(services, record, seen)
        except ConcurrentUpdate:
            continue  # the executor is on it right now
        published += len(updated.unpublished)
        final = publish_fills(services, updated)
        if final.status is not OrderStatus.OPEN:
            log.info(
                "order moved",
                extra=log_fields(client_order_id=final.client_order_id, status=final.status),
            )
    return published


def reconcile(services: Services, headers: Mapping[str, str], body: bytes) -> HttpResult:
    fills = follow_open_orders(services)
    return HttpResult(200, {"fills_published": fills})


def snapshot(services: Services, headers: Mapping[str, str], body: bytes) -> HttpResult:
    """Snapshot positions at the schedule time, once per schedule time."""
    lowered = {key.lower(): value for key, value in headers.items()}
    stamp = lowered.get(SCHEDULE_TIME_HEADER.lower())
    try:
        taken_at = datetime.fromisoformat(stamp) if stamp else services.clock.now()
    except ValueError:
        return error(400, "bad_schedule_time", f"{SCHEDULE_TIME_HEADER} is not ISO-8601")
    if taken_at.tzinfo is None:
        return error(400, "bad_schedule_time", f"{SCHEDULE_TIME_HEADER} needs a timezone")
    positions = [p for p in services.ledger.positions() if p.is_open]
    marks = {
        p.symbol: services.exchanges.for_account(p.account).quote(p.symbol).mid for p in positions
    }
    created = services.ledger.record_snapshot(taken_at, marks)
    return HttpResult(
        201 if created else 200,
        {"taken_at": taken_at.isoformat(), "created": created, "positions": len(positions)},
    )
