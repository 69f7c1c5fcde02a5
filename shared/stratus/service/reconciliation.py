"""Reconciliation of one account with its exchange: the exchange is the truth.

Order documents are followed to the exchange's state (adopting fills the executor
missed), orders the exchange never had are marked lost, orders working past the stale
timeout are canceled, and what still differs in net positions is booked as one
correcting fill under the "reconciliation" strategy. Fills are derived from cumulative
quantities with deterministic ids, so a run repeated or racing the executor never
counts a fill twice (the ledger deduplicates by fill_id).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from stratus.domain.common import Side
from stratus.domain.errors import ConcurrentUpdate, OrderNotFound
from stratus.domain.market import quote_currency
from stratus.domain.orders import Fill, Liquidity, OrderRecord, OrderStatus
from stratus.domain.reconciliation import RECONCILIATION_STRATEGY, Drift, ReconciliationReport
from stratus.observability import log_fields
from stratus.ports import Venue
from stratus.service.handlers.execution import observe, publish_fills, settle
from stratus.service.services import Services

log = logging.getLogger(__name__)


class _Run:
    def __init__(self) -> None:
        self.adopted = 0
        self.lost: list[str] = []
        self.canceled: list[str] = []


def follow_orders(services: Services, account: str) -> _Run:
    """Bring the account's working orders up to date with the exchange (no report)."""
    now = services.clock.now()
    venue = services.exchanges.for_account(account)
    run = _Run()
    for record in services.state.orders(account, live=True):
        try:
            _follow(services, venue, record, now, run)
        except ConcurrentUpdate:
            continue  # the executor is on it right now; the next run sees the result
    return run


def reconcile_account(services: Services, account: str) -> ReconciliationReport:
    now = services.clock.now()
    venue = services.exchanges.for_account(account)
    run = follow_orders(services, account)
    known = {r.client_order_id for r in services.state.orders(account)}
    unknown = [
        o.client_order_id or o.order.exchange_order_id
        for o in venue.open_orders()
        if o.client_order_id not in known
    ]
    report = ReconciliationReport(
        report_id=f"{account}-{now.strftime('%Y%m%dT%H%M%S')}",
        account=account,
        run_at=now,
        adopted_fills=run.adopted,
        lost_orders=run.lost,
        canceled_stale=run.canceled,
        unknown_orders=unknown,
        drifts=_correct_drift(services, venue, account, now),
        balances=venue.balances(),
    )
    services.publish("reconciliation-reports", report)
    if not report.clean:
        log.warning("reconciliation found differences", extra=log_fields(**report.model_dump()))
    return report


def _follow(
    services: Services, venue: Venue, record: OrderRecord, now: datetime, run: _Run
) -> None:
    symbol = record.request.symbol
    seen = venue.lookup(record.client_order_id, symbol)
    if seen is None:
        if record.status is OrderStatus.PENDING and now - record.created_at < _lost_after(services):
            return  # its order message may still be delivered and placed
        lost = record.transition(OrderStatus.LOST, now, "the exchange has no such order")
        settle(services, services.state.save_order(lost))
        run.lost.append(record.client_order_id)
        return
    updated = observe(services, record, seen)
    stale = timedelta(seconds=services.settings.stale_order_seconds)
    if not updated.status.is_terminal and now - record.created_at > stale:
        try:
            venue.cancel(seen.exchange_order_id, symbol)
            run.canceled.append(record.client_order_id)
        except OrderNotFound:
            pass  # it finished meanwhile: the lookup below tells how
        final_view = venue.lookup(record.client_order_id, symbol)
        if final_view is not None:
            updated = observe(services, updated, final_view)
    run.adopted += len(updated.fills) - len(record.fills)
    publish_fills(services, updated)  # observe() already released a final order's quota


def _lost_after(services: Services) -> timedelta:
    """Past the event age limit no redelivery can still place a pending order."""
    settings = services.settings
    return timedelta(seconds=settings.max_event_age_seconds + settings.lost_order_grace_seconds)


def _correct_drift(services: Services, venue: Venue, account: str, now: datetime) -> list[Drift]:
    """Book exchange-minus-ledger per symbol as one fill on the executions topic."""
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for position in services.ledger.positions(account):
        expected[position.symbol] += position.quantity
    applied = {fill.fill_id for fill in services.ledger.fills(account)}
    for record in services.state.orders(account):
        for fill in record.fills:
            if fill.fill_id not in applied:  # published, not yet applied: in flight
                expected[fill.symbol] += fill.quantity * fill.side.sign
    actual = {p.symbol: p for p in venue.positions()}
    drifts = []
    for symbol in sorted(set(expected) | set(actual)):
        held = actual.get(symbol)
        exchange_qty = held.quantity if held is not None else Decimal(0)
        difference = exchange_qty - expected[symbol]
        if difference == 0:
            continue
        price = held.entry_price if held is not None else venue.quote(symbol).mid
        fill = _correction(account, symbol, expected[symbol], exchange_qty, difference, price, now)
        services.publish("executions", fill)
        drifts.append(
            Drift(
                symbol=symbol,
                ledger_quantity=expected[symbol],
                exchange_quantity=exchange_qty,
                correction_fill_id=fill.fill_id,
            )
        )
    return drifts


def _correction(
    account: str,
    symbol: str,
    ledger_qty: Decimal,
    exchange_qty: Decimal,
    difference: Decimal,
    price: Decimal,
    now: datetime,
) -> Fill:
    # Named after the disagreement itself: a rerun before the ledger applied it
    # produces the same fill_id, which the ledger then applies only once.
    digest = hashlib.sha256(f"{account}|{symbol}|{ledger_qty}|{exchange_qty}".encode())
    fill_id = "recon-" + digest.hexdigest()[:28]
    return Fill(
        fill_id=fill_id,
        client_order_id=fill_id,
        exchange_order_id=RECONCILIATION_STRATEGY,  # no exchange order: "" would read as absent
        request_id=fill_id,
        account=account,
        strategy=RECONCILIATION_STRATEGY,
        symbol=symbol,
        side=Side.BUY if difference > 0 else Side.SELL,
        quantity=abs(difference),
        price=price,
        fee=Decimal(0),
        fee_currency=quote_currency(symbol),
        liquidity=Liquidity.TAKER,
        executed_at=now,
    )
