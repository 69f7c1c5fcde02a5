"""control: what a person asked through the manager (topic `controls`).

A cancel is carried out here, beside the executor's own code and with its rules (the
order document first, then the exchange), so a request handler never calls an exchange.
A sync reconciles now what the schedule would reconcile within minutes. A protect (sent
by update_position after each fill) brings a position's protective exits to it.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from stratus.domain.control import Control, ControlKind
from stratus.domain.errors import ConcurrentUpdate, OrderNotFound
from stratus.domain.orders import OrderRecord, OrderStatus
from stratus.observability import log_fields
from stratus.service.exits import protect
from stratus.service.outbox import close_unsent, finish, observe
from stratus.service.reconciliation import reconcile_account
from stratus.service.services import Services

log = logging.getLogger(__name__)

CANCELED_BY_PERSON = "canceled"


def control(services: Services, message: Control) -> None:
    if message.kind is ControlKind.CANCEL:
        cancel(services, message)
    elif message.kind is ControlKind.PROTECT:
        protect(services, *message.position)
    else:
        sync(services, message)


def cancel(services: Services, message: Control) -> None:
    """Idempotent: a final order is left as it is, a copy finds it final."""
    assert message.client_order_id is not None
    record = services.state.get_order(message.client_order_id)
    if record is None:
        log.warning(
            "cancel of an unknown order ignored",
            extra=log_fields(client_order_id=message.client_order_id),
        )
        return
    final = cancel_order(services, record, CANCELED_BY_PERSON, f"by {message.requested_by}")
    log.info(
        "cancel requested",
        extra=log_fields(
            client_order_id=record.client_order_id,
            status=final.status,
            requested_by=message.requested_by,
        ),
    )


def cancel_order(services: Services, record: OrderRecord, reason: str, detail: str) -> OrderRecord:
    """Cancel one order wherever it stands; returns its document as now saved.

    Not yet placed: closed in its document (the executor then leaves it alone), or
    adopted first if an earlier send placed it after all. While a copy is sending it this
    raises ConcurrentUpdate (retry: by then it is placed or given up). Placed: canceled on
    the exchange, then looked up, so fills that came first are kept."""
    if record.status is OrderStatus.PENDING:
        record = finish(services, close_unsent(services, record, reason, detail))
        if record.status is OrderStatus.PENDING:
            raise ConcurrentUpdate(f"{record.client_order_id} is being sent; cancel retries")
    if record.status.is_terminal or record.exchange_order_id is None:
        return finish(services, record)
    request = record.request
    venue = services.exchanges.for_account(request.account)
    with suppress(OrderNotFound):  # filled or canceled meanwhile: the lookup says which
        venue.cancel(record.exchange_order_id, request.symbol)
    seen = venue.lookup(record.client_order_id, request.symbol)
    return record if seen is None else finish(services, observe(services, record, seen))


def sync(services: Services, message: Control) -> None:
    """Reconcile one account, or every account; an exchange that cannot answer raises,
    so the message is retried (reconciling is idempotent)."""
    from stratus.service.handlers.operations import all_accounts

    accounts = [message.account] if message.account else all_accounts(services)
    for account in accounts:
        report = reconcile_account(services, account)
        log.info(
            "reconciled on request",
            extra=log_fields(account=account, drifts=len(report.drifts), by=message.requested_by),
        )
