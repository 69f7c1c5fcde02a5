"""Reconciliation of one account with its exchange: the exchange is the truth.

Working order documents are followed to the exchange's state (adopting fills the
executor missed), orders the exchange never had are closed, orders working past the
stale timeout are canceled (not protective exits: they wait for their trigger), and
every document's owed effects are finished (outboxes flushed). Only then is drift
judged: what still differs in net positions is booked as one correcting fill under the
"reconciliation" strategy. Fills are derived from cumulative quantities with
deterministic ids, so a run repeated or racing the executor never counts a fill twice
(the ledger deduplicates by fill_id).

Drift is judged on one moment only: the exchange's positions are read before the
orders are followed and again after the ledger is read. A symbol whose position moved
in between (a resting order filled meanwhile) is left to the next run, since the ledger
may have seen that fill while the first read had not: booking the difference then would
invent a correction that the next run has to take back.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from stratus.domain.accounts import Balances
from stratus.domain.common import Side
from stratus.domain.errors import ConcurrentUpdate, OrderNotFound
from stratus.domain.market import quote_currency
from stratus.domain.orders import Fill, Liquidity, OrderRecord, OrderStatus
from stratus.domain.reconciliation import RECONCILIATION_STRATEGY, Drift, ReconciliationReport
from stratus.observability import log_fields
from stratus.ports import Venue, VenuePosition
from stratus.service.outbox import (
    UNDELIVERED,
    UNDELIVERED_DETAIL,
    close,
    close_unplaced,
    finish,
    may_still_be_sent,
    observe,
)
from stratus.service.services import Services

log = logging.getLogger(__name__)


class _Run:
    def __init__(self) -> None:
        self.adopted = 0
        self.lost: list[str] = []
        self.canceled: list[str] = []


def follow_orders(services: Services, account: str) -> _Run:
    """Bring the account's working orders up to date with the exchange and finish what
    any of its documents still owes (no report)."""
    now = services.clock.now()
    venue = services.exchanges.for_account(account)
    run = _Run()
    for record in services.state.orders(account, live=True):
        try:
            _follow(services, venue, record, now, run)
        except ConcurrentUpdate:
            continue  # the executor is on it right now; the next run sees the result
    for record in services.state.orders(account, owed=True):
        try:
            finish(services, record)
        except ConcurrentUpdate:
            continue
    return run


def reconcile_account(services: Services, account: str) -> ReconciliationReport:
    now = services.clock.now()
    venue = services.exchanges.for_account(account)
    # Positions first: every fill in them is then found by the lookups that follow.
    held = _positions(venue)
    run = follow_orders(services, account)
    known = {r.client_order_id for r in services.state.orders(account)}
    unknown = [
        o.client_order_id or o.order.exchange_order_id
        for o in venue.open_orders()
        if o.client_order_id not in known
    ]
    wallet = Balances(account=account, fetched_at=services.clock.now(), assets=venue.wallet())
    drifts, deferred = _correct_drift(services, venue, account, held, now)
    report = ReconciliationReport(
        report_id=f"{account}-{now.strftime('%Y%m%dT%H%M%S')}",
        account=account,
        run_at=now,
        adopted_fills=run.adopted,
        lost_orders=run.lost,
        canceled_stale=run.canceled,
        unknown_orders=unknown,
        drifts=drifts,
        balances={item.asset: item.total for item in wallet.assets},
        deferred=deferred,
    )
    services.publish("balances", wallet)
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
        if record.status is not OrderStatus.PENDING:
            gone = "the exchange has no such order"
            finish(services, close(services, record, OrderStatus.LOST, "lost", gone))
        elif may_still_be_sent(services, record):
            return  # a copy of its order message may still place it
        else:
            finish(services, close_unplaced(services, record, UNDELIVERED, UNDELIVERED_DETAIL))
        run.lost.append(record.client_order_id)
        return
    updated = observe(services, record, seen)
    stale = timedelta(seconds=services.settings.stale_order_seconds)
    # A protective exit waits for its trigger as long as its position lasts: never stale.
    waits = record.request.exit_kind is not None
    if not updated.status.is_terminal and not waits and now - record.created_at > stale:
        try:
            venue.cancel(seen.exchange_order_id, symbol)
            run.canceled.append(record.client_order_id)
        except OrderNotFound:
            pass  # it finished meanwhile: the lookup below tells how
        final_view = venue.lookup(record.client_order_id, symbol)
        if final_view is not None:
            updated = observe(services, updated, final_view)
    run.adopted += len(updated.fills) - len(record.fills)
    finish(services, updated)


def _positions(venue: Venue) -> dict[str, VenuePosition]:
    return {p.symbol: p for p in venue.positions()}


def _quantity(positions: dict[str, VenuePosition], symbol: str) -> Decimal:
    position = positions.get(symbol)
    return position.quantity if position is not None else Decimal(0)


def _correct_drift(
    services: Services,
    venue: Venue,
    account: str,
    held: dict[str, VenuePosition],
    now: datetime,
) -> tuple[list[Drift], list[str]]:
    """Book exchange-minus-ledger per symbol as one fill on the executions topic; the
    symbols left to the next run.

    Expected per symbol: the ledger's fills (one read, so positions and applied ids
    agree) plus fills in order documents the ledger has not applied. Those are published
    again, since a message lost or dead-lettered on the way must not leave them out for
    good, and counted as in flight. A symbol with an order being sent right now is left
    to the next run: the exchange may already have its fill while its document has not.
    So is a symbol whose exchange position moved since `held` was read.

    A correction is named after the account, the symbol and how many corrections the
    ledger has applied there: a rerun before it is applied names the same fill (the
    ledger applies one of them, the next run books what remains), and a disagreement
    that returns after it was applied is a new episode with a new fill.
    """
    ledger_fills = services.ledger.fills(account)
    applied = {fill.fill_id for fill in ledger_fills}
    expected: dict[str, Decimal] = defaultdict(Decimal)
    episodes: Counter[str] = Counter()
    for fill in ledger_fills:
        expected[fill.symbol] += fill.quantity * fill.side.sign
        if fill.strategy == RECONCILIATION_STRATEGY:
            episodes[fill.symbol] += 1
    busy = set()
    for record in services.state.orders(account):
        if may_still_be_sent(services, record) and record.attempts:
            busy.add(record.request.symbol)
        for fill in record.fills:
            if fill.fill_id not in applied:
                services.publish("executions", fill)
                expected[fill.symbol] += fill.quantity * fill.side.sign
    now_held = _positions(venue)
    moving = {s for s in set(held) | set(now_held) if _quantity(held, s) != _quantity(now_held, s)}
    drifts = []
    for symbol in sorted((set(expected) | set(now_held)) - busy - moving):
        position = now_held.get(symbol)
        exchange_qty = _quantity(now_held, symbol)
        difference = exchange_qty - expected[symbol]
        if difference == 0:
            continue
        price = position.entry_price if position is not None else venue.quote(symbol).mid
        fill = _correction(account, symbol, episodes[symbol], difference, price, now)
        services.publish("executions", fill)
        drifts.append(
            Drift(
                symbol=symbol,
                ledger_quantity=expected[symbol],
                exchange_quantity=exchange_qty,
                correction_fill_id=fill.fill_id,
            )
        )
    return drifts, sorted(busy | moving)


def _correction(
    account: str, symbol: str, episode: int, difference: Decimal, price: Decimal, now: datetime
) -> Fill:
    digest = hashlib.sha256(f"{account}|{symbol}|{episode}".encode())
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
