"""Stratus's promises, checked after any run however chaotic: the invariants of issue 12.

`World` is plain data, so any stack can fill it from wherever it keeps things (the
in-process stack here with `world_of`; the emulator stack from PostgreSQL, Firestore,
the dead-letter subscriptions and the served exchange). `violations(world)` lists every
broken promise in words; an empty list means the run kept all of them:

- one exchange order per leg (order request);
- every accepted signal ends in exactly one of: an order, a risk rejection, or a
  refusal with a reason (a dead letter with a reason, or its order closed with one);
- every dead letter Stratus writes carries a reason and a detail, once per message;
- every fill applied once; ledger orders = exchange orders;
- positions = replay of their fills, and per account and symbol = the exchange;
- no reservation held by a final order, nor by a request that never became one;
- reconcile's reports clean.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from stratus.adapters.sql.admin_tables import ReservationRow
from stratus.adapters.sql.audit import Page
from stratus.adapters.sql.portfolio import LedgerFilter, SqlPortfolio
from stratus.contracts import codec
from stratus.domain.errors import InvalidMessage
from stratus.domain.orders import Fill, OrderRecord, OrderRejection, OrderRequest
from stratus.domain.positions import Position, replay
from stratus.domain.reconciliation import RECONCILIATION_STRATEGY, ReconciliationReport
from stratus.domain.records import OrderEntry
from stratus.domain.signals import Signal
from stratus.service.services import Services

# Set by Pub/Sub (and the buses playing it) on what it forwards after the last attempt.
FORWARDED = "CloudPubSubDeadLetterSourceDeliveryCount"
# How far a stored running figure may drift from its replay by rounding alone.
STORED_ROUNDING = Decimal("1e-12")


@dataclass(frozen=True)
class DeadLetter:
    topic: str  # the source topic, e.g. "orders" for orders-dead-letter
    data: bytes
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class World:
    signals: Sequence[Signal]  # accepted: published on `signals`
    requests: Sequence[OrderRequest]  # published on `order-requests` (copies included)
    rejections: Sequence[OrderRejection]
    dead_letters: Sequence[DeadLetter]
    documents: Sequence[OrderRecord]  # the state store's order documents
    exchange_orders: Mapping[str, int]  # clientOrderId -> orders the exchange accepted
    exchange_positions: Mapping[str, Mapping[str, Decimal]]  # account -> symbol -> qty
    ledger_fills: Sequence[Fill]
    ledger_positions: Sequence[Position]
    ledger_orders: Sequence[OrderEntry]
    held: frozenset[str]  # request ids whose quota reservation is held
    reports: Sequence[ReconciliationReport]
    # Closes on_signal processed into no order (the strategy was flat): nothing to refuse.
    nothing_to_close: frozenset[str] = frozenset()


def violations(world: World) -> list[str]:
    return [
        *_one_exchange_order_per_leg(world),
        *_one_outcome_per_signal(world),
        *_dead_letters_have_reasons_once(world),
        *_fills_applied_once(world),
        *_ledger_orders_are_exchange_orders(world),
        *_positions_replay_and_match_the_exchange(world),
        *_no_reservation_outlives_its_order(world),
        *[f"reconcile of {r.account} not clean: {r}" for r in world.reports if not r.clean],
    ]


def _one_exchange_order_per_leg(world: World) -> list[str]:
    found = []
    documents = {r.client_order_id: r for r in world.documents}
    for coid, count in world.exchange_orders.items():
        if count > 1:
            found.append(f"{coid}: {count} exchange orders for one leg")
        record = documents.get(coid)
        if count and (record is None or record.exchange_order_id is None):
            found.append(f"{coid}: on the exchange, but its document does not know it")
    return found


def _one_outcome_per_signal(world: World) -> list[str]:
    found = []
    documents = {r.request.request_id: r for r in world.documents}
    risk_rejected = {
        r.request_id
        for r in world.rejections
        if r.request_id not in documents or not documents[r.request_id].reason
    }
    dead = {
        topic: {_identity(d.data) for d in world.dead_letters if d.topic == topic and _why(d)}
        for topic in ("signals", "order-requests")
    }
    legs: dict[str, set[str]] = defaultdict(set)
    for request in world.requests:
        legs[request.signal_id].add(request.request_id)
    settled = dead["signals"] | world.nothing_to_close
    for signal in {s.signal_id: s for s in world.signals}.values():
        if not legs[signal.signal_id] and signal.signal_id not in settled:
            found.append(f"signal {signal.signal_id}: no order, rejection nor reasoned refusal")
    for request_id in sorted(set().union(*legs.values())):
        record = documents.get(request_id)
        refused = (request_id in risk_rejected) + (request_id in dead["order-requests"])
        if record is None:
            if refused != 1:
                found.append(f"request {request_id}: {refused} outcomes without an order")
            continue
        if request_id in risk_rejected:
            found.append(f"request {request_id}: approved and rejected by risk")
        placed = world.exchange_orders.get(record.client_order_id, 0)
        if not placed and not (record.status.is_terminal and record.reason):
            found.append(f"request {request_id}: {record.status} with no order and no reason")
    return found


def _dead_letters_have_reasons_once(world: World) -> list[str]:
    found = []
    ours = [d for d in world.dead_letters if FORWARDED not in d.attributes]
    for letter in ours:
        if not (letter.attributes.get("reason") and letter.attributes.get("detail")):
            found.append(f"dead letter on {letter.topic} without reason or detail")
    copies = Counter((d.topic, _identity(d.data)) for d in ours)
    found += [f"{key} dead-lettered {n} times" for key, n in copies.items() if n > 1]
    return found


def _fills_applied_once(world: World) -> list[str]:
    found = []
    ids = Counter(f.fill_id for f in world.ledger_fills)
    found += [f"fill {fill_id} applied {n} times" for fill_id, n in ids.items() if n > 1]
    documented = {f.fill_id for r in world.documents for f in r.fills}
    executed = {f.fill_id for f in world.ledger_fills if f.strategy != RECONCILIATION_STRATEGY}
    found += [f"fill {i} of a document never reached the ledger" for i in documented - executed]
    found += [f"ledger fill {i} is in no order document" for i in executed - documented]
    for record in world.documents:
        if sum(f.quantity for f in record.fills) != record.filled:
            found.append(f"{record.client_order_id}: fills do not add up to {record.filled}")
    return found


def _ledger_orders_are_exchange_orders(world: World) -> list[str]:
    found = []
    placed = {coid for coid, count in world.exchange_orders.items() if count}
    booked = {e.client_order_id for e in world.ledger_orders if e.exchange_order_id}
    found += [f"{coid}: on the exchange, not in the orders ledger" for coid in placed - booked]
    found += [f"{coid}: in the orders ledger, not on the exchange" for coid in booked - placed]
    documents = {r.client_order_id: r for r in world.documents}
    for entry in world.ledger_orders:
        record = documents.get(entry.client_order_id)
        if record is not None and (entry.status, entry.filled) != (record.status, record.filled):
            found.append(
                f"{entry.client_order_id}: ledger says {entry.status} {entry.filled}, "
                f"its document {record.status} {record.filled}"
            )
    return found


def _positions_replay_and_match_the_exchange(world: World) -> list[str]:
    found = []
    net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for position in world.ledger_positions:
        key = (position.account, position.strategy, position.symbol)
        mine = [f for f in world.ledger_fills if (f.account, f.strategy, f.symbol) == key]
        again = replay(mine, *key)
        if not _same_figures(again, position):
            found.append(f"{key}: position {_figures(position)} != replay {_figures(again)}")
        net[(position.account, position.symbol)] += position.quantity
    for account, held in world.exchange_positions.items():
        for symbol in set(held) | {s for (a, s) in net if a == account}:
            exchange, ledger = held.get(symbol, Decimal(0)), net[(account, symbol)]
            if exchange != ledger:
                found.append(f"{account} {symbol}: ledger {ledger} != exchange {exchange}")
    return found


def _figures(position: Position) -> tuple[Decimal, ...]:
    return (position.quantity, position.average_entry, position.realized_pnl, position.fees)


def _same_figures(replayed: Position, stored: Position) -> bool:
    """Quantity and fees exactly; the running average and PnL as far as the ledger keeps
    them: PostgreSQL rounds each update to 18 places, so N fills may differ by N x 5e-19."""
    if (replayed.quantity, replayed.fees) != (stored.quantity, stored.fees):
        return False
    return all(
        abs(a - b) <= STORED_ROUNDING
        for a, b in [
            (replayed.average_entry, stored.average_entry),
            (replayed.realized_pnl, stored.realized_pnl),
        ]
    )


def _no_reservation_outlives_its_order(world: World) -> list[str]:
    working = {r.request.request_id for r in world.documents if not r.status.is_terminal}
    return [f"reservation of {rid} held without a working order" for rid in world.held - working]


def _why(letter: DeadLetter) -> bool:
    return bool(letter.attributes.get("reason"))


def _identity(data: bytes) -> str:
    try:
        fields: Any = json.loads(data)
    except ValueError:
        return repr(data)
    if not isinstance(fields, dict):
        return repr(data)
    return str(fields.get("fill_id") or fields.get("request_id") or fields.get("signal_id"))


def world_of(
    services: Services,
    messages: Any,
    exchange_orders: Mapping[str, int],
    reports: Sequence[ReconciliationReport] = (),
) -> World:
    """The in-process stack's world: `messages(topic)` gives what a topic carried (the
    LocalBus or ChaosBus), the ledger and quotas are the embedded SQL ones."""

    def decoded(topic: str) -> list[Any]:
        found = []
        for envelope in messages(topic):
            try:
                found.append(codec.decode(topic, envelope.data))
            except InvalidMessage:
                continue
        return found

    documents = services.state.orders()
    accounts = {r.request.account for r in documents} | {
        p.account for p in services.ledger.positions()
    }
    exchange = {
        account: {p.symbol: p.quantity for p in services.exchanges.for_account(account).positions()}
        for account in accounts
    }
    database = services.ledger.database  # type: ignore[attr-defined]
    entries, _ = SqlPortfolio(database, services.clock).orders(LedgerFilter(), Page(100_000))
    with database.transaction() as session:
        held = session.scalars(
            select(ReservationRow.request_id).where(ReservationRow.held.is_(True))
        ).all()
    letters = [
        DeadLetter(topic, envelope.data, envelope.attributes)
        for topic in ("signals", "order-requests", "orders", "executions")
        for envelope in messages(f"{topic}-dead-letter")
    ]
    return World(
        signals=decoded("signals"),
        requests=decoded("order-requests"),
        rejections=decoded("order-rejections"),
        dead_letters=letters,
        documents=documents,
        exchange_orders=exchange_orders,
        exchange_positions=exchange,
        ledger_fills=services.ledger.fills(),
        ledger_positions=services.ledger.positions(),
        ledger_orders=entries,
        held=frozenset(held),
        reports=reports,
    )
