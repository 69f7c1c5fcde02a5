"""What must hold after any run of the pipeline, whatever was redelivered or killed.

Pure checks over an `Observed` snapshot (gathered by the tier that ran: the emulator
chaos tier, or an embedded run), each returning the violations it finds as sentences, so
a failure lists everything that went wrong at once:

- one exchange order per leg, and none Stratus does not know;
- every accepted signal ends, per leg, in exactly one of: an order, a risk rejection, a
  dead letter with a reason (a signal dead-lettered as a whole counts for all its legs);
- every fill applied once: the fills ledger holds, per order, what the exchange filled;
- ledger orders = exchange orders (ids, status, filled);
- positions = replay of the fills = the exchange's net position, per account;
- no quota reservation held by a final order (nor by a request that never became one);
- reconciliation's report is clean.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stratus.domain.orders import Fill, OrderRecord, OrderRejection, OrderStatus
from stratus.domain.positions import Position, replay
from stratus.domain.reconciliation import RECONCILIATION_STRATEGY
from stratus.domain.signals import Signal

ZERO = Decimal(0)
# Decimal places the ledger keeps (NUMERIC(38, 18)); replayed PnL may differ past them.
PNL_TOLERANCE = Decimal("1e-9")


@dataclass(frozen=True)
class ExchangeOrder:
    """An order as the exchange lists it."""

    account: str
    client_order_id: str
    exchange_order_id: str
    symbol: str
    status: OrderStatus
    filled: Decimal


@dataclass(frozen=True)
class LedgerOrder:
    """A row of the orders ledger (GET /orders)."""

    client_order_id: str
    request_id: str
    exchange_order_id: str | None
    status: OrderStatus
    filled: Decimal


@dataclass(frozen=True)
class DeadLetter:
    topic: str  # the dead-letter topic, e.g. "orders-dead-letter"
    data: bytes
    attributes: Mapping[str, str]

    def field(self, name: str) -> str | None:
        try:
            value = json.loads(self.data).get(name)
        except (ValueError, AttributeError):
            return None
        return None if value is None else str(value)


@dataclass
class Observed:
    """Everything the checks read, for the accounts of one run."""

    signals: list[Signal]  # every signal accepted (published once or more)
    processed: set[str]  # signal ids on_signal finished with (legs planned or none)
    documents: list[OrderRecord]  # the executor's order documents
    ledger_orders: list[LedgerOrder]
    fills: list[Fill]  # the fills ledger
    positions: list[Position]  # the ledger's positions
    exchange_orders: list[ExchangeOrder]
    exchange_positions: dict[tuple[str, str], Decimal]  # (account, symbol) -> signed
    held_reservations: set[str]  # request ids whose quota reservation is still held
    rejections: list[OrderRejection]
    dead_letters: list[DeadLetter]
    reconcile_report: Mapping[str, Any] | None = None  # reconcile's HTTP answer
    notes: list[str] = field(default_factory=list)  # what the run did (seed, faults)


Check = Callable[[Observed], list[str]]


def violations(observed: Observed) -> dict[str, list[str]]:
    """Every broken invariant, one sentence each, by the check that found it."""
    found = {check.__name__: check(observed) for check in CHECKS}
    return {name: problems for name, problems in found.items() if problems}


def one_exchange_order_per_leg(observed: Observed) -> list[str]:
    problems = []
    known = {record.client_order_id for record in observed.documents}
    counts = Counter(order.client_order_id for order in observed.exchange_orders)
    for coid, count in sorted(counts.items()):
        if count > 1:
            problems.append(f"{count} exchange orders share clientOrderId {coid}")
        if coid not in known:
            problems.append(f"exchange order {coid} is unknown to Stratus")
    for record in observed.documents:
        if record.exchange_order_id and record.client_order_id not in counts:
            problems.append(
                f"order {record.client_order_id} ({record.status}) has exchange id "
                f"{record.exchange_order_id} but the exchange does not list it"
            )
    return problems


def every_signal_has_one_outcome(observed: Observed) -> list[str]:
    """Per leg: an order document, else exactly one risk rejection or reasoned dead letter."""
    orders = {(r.request.signal_id, r.request.leg): r for r in observed.documents}
    rejected: dict[tuple[str, int], list[OrderRejection]] = defaultdict(list)
    for rejection in observed.rejections:
        rejected[(rejection.signal_id, _leg(rejection.request_id))].append(rejection)
    dead_signals: dict[str, list[DeadLetter]] = defaultdict(list)
    dead_legs: dict[tuple[str, int], list[DeadLetter]] = defaultdict(list)
    problems = []
    for letter in observed.dead_letters:
        if not letter.attributes.get("reason"):
            problems.append(f"a dead letter on {letter.topic} has no reason: {letter.data!r}")
        signal_id, request_id = letter.field("signal_id"), letter.field("request_id")
        if letter.topic == "signals-dead-letter" and signal_id:
            dead_signals[signal_id].append(letter)
        elif letter.topic in ("order-requests-dead-letter", "orders-dead-letter") and signal_id:
            dead_legs[(signal_id, _leg(request_id or ""))].append(letter)
    legs: dict[str, set[int]] = defaultdict(set)
    for signal_id, leg in [*orders, *rejected, *dead_legs]:
        legs[signal_id].add(leg)
    for signal in observed.signals:
        sid = signal.signal_id
        if dead_signals.get(sid):
            if legs[sid]:
                problems.append(f"signal {sid} was dead-lettered and still got legs {legs[sid]}")
            elif len(dead_signals[sid]) > 1:
                problems.append(f"signal {sid} was dead-lettered {len(dead_signals[sid])} times")
            continue
        if not legs[sid]:
            if sid not in observed.processed:
                problems.append(f"signal {sid} ({signal.action}) was never processed")
            elif signal.action != "close":  # a close of a flat strategy plans nothing
                problems.append(f"signal {sid} ({signal.action}) was processed into nothing")
            continue
        for leg in range(max(legs[sid]) + 1):
            problems.extend(_leg_outcome(sid, leg, orders, rejected, dead_legs))
    return problems


def _leg_outcome(
    sid: str,
    leg: int,
    orders: Mapping[tuple[str, int], OrderRecord],
    rejected: Mapping[tuple[str, int], list[OrderRejection]],
    dead: Mapping[tuple[str, int], list[DeadLetter]],
) -> list[str]:
    key, name = (sid, leg), f"signal {sid} leg {leg}"
    record, rejections, letters = orders.get(key), rejected.get(key, []), dead.get(key, [])
    if record is None:
        outcomes = len(rejections) + len(letters)
        if outcomes == 1:
            return []
        if outcomes == 0:
            return [f"{name} ended in no outcome"]
        return [f"{name} ended {len(rejections)} times rejected and {len(letters)} dead-lettered"]
    problems = []
    if not record.status.is_terminal:
        problems.append(f"{name}: order {record.client_order_id} is still {record.status}")
    if record.status is not OrderStatus.REJECTED:  # an exchange refusal is also a rejection
        if rejections:
            problems.append(f"{name} is an order ({record.status}) and was rejected too")
        if letters and record.status is OrderStatus.FILLED:
            problems.append(f"{name} filled and was dead-lettered too")
    if len(letters) > 1:
        problems.append(f"{name} was dead-lettered {len(letters)} times")
    return problems


def every_fill_applied_once(observed: Observed) -> list[str]:
    problems = []
    booked: dict[str, Decimal] = defaultdict(Decimal)
    for fill in observed.fills:
        if fill.strategy == RECONCILIATION_STRATEGY:
            problems.append(
                f"reconciliation booked a correction {fill.side} {fill.quantity} "
                f"{fill.symbol} on {fill.account} ({fill.fill_id})"
            )
            continue
        booked[fill.client_order_id] += fill.quantity
    exchange = {order.client_order_id: order for order in observed.exchange_orders}
    for coid, quantity in sorted(booked.items()):
        order = exchange.get(coid)
        filled = order.filled if order else ZERO
        if quantity != filled:
            problems.append(
                f"order {coid}: the ledger books {quantity} filled, the exchange {filled}"
            )
    for coid, order in sorted(exchange.items()):
        if order.filled and coid not in booked:
            problems.append(f"order {coid}: the exchange filled {order.filled}, the ledger none")
    documents = {record.client_order_id: record for record in observed.documents}
    for coid, order in sorted(exchange.items()):
        record = documents.get(coid)
        if record is not None and record.status.is_terminal and record.filled != order.filled:
            problems.append(
                f"order {coid} ended {record.status}, {record.filled} filled, not {order.filled}"
            )
    return problems


def ledger_orders_match_exchange(observed: Observed) -> list[str]:
    problems = []
    ledger = {order.client_order_id: order for order in observed.ledger_orders}
    for order in observed.exchange_orders:
        row = ledger.get(order.client_order_id)
        if row is None:
            problems.append(f"exchange order {order.client_order_id} is not in the orders ledger")
        elif (row.status, row.filled) != (order.status, order.filled):
            problems.append(
                f"orders ledger has {order.client_order_id} {row.status} filled {row.filled}, "
                f"the exchange {order.status} filled {order.filled}"
            )
    on_exchange = {order.client_order_id for order in observed.exchange_orders}
    for row in observed.ledger_orders:
        if row.exchange_order_id and row.client_order_id not in on_exchange:
            problems.append(f"orders ledger has {row.client_order_id}, the exchange does not")
    return problems


def positions_replay_fills_and_match_exchange(observed: Observed) -> list[str]:
    problems = []
    by_position: dict[tuple[str, str, str], list[Fill]] = defaultdict(list)
    for fill in observed.fills:
        by_position[(fill.account, fill.strategy, fill.symbol)].append(fill)
    stored = {(p.account, p.strategy, p.symbol): p for p in observed.positions}
    for key in sorted(set(stored) | set(by_position)):
        position = stored.get(key) or Position(account=key[0], strategy=key[1], symbol=key[2])
        replayed = replay(by_position.get(key, []), *key)
        if (position.quantity, position.fees) != (replayed.quantity, replayed.fees):
            problems.append(
                f"position {'/'.join(key)} is {position.quantity} (fees {position.fees}), its "
                f"fills replay to {replayed.quantity} (fees {replayed.fees})"
            )
        elif abs(position.realized_pnl - replayed.realized_pnl) > PNL_TOLERANCE:
            problems.append(
                f"position {'/'.join(key)} realized {position.realized_pnl}, its fills "
                f"replay to {replayed.realized_pnl}"
            )
    net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for position in observed.positions:
        net[(position.account, position.symbol)] += position.quantity
    for account, symbol in sorted(set(net) | set(observed.exchange_positions)):
        ledger = net.get((account, symbol), ZERO)
        exchange = observed.exchange_positions.get((account, symbol), ZERO)
        if ledger != exchange:
            problems.append(
                f"{account} {symbol}: the ledger nets {ledger}, the exchange {exchange}"
            )
    return problems


def no_reservation_held_by_a_final_order(observed: Observed) -> list[str]:
    live = {r.request.request_id for r in observed.documents if not r.status.is_terminal}
    final = {r.request.request_id: r.status for r in observed.documents if r.status.is_terminal}
    problems = []
    for request_id in sorted(observed.held_reservations - live):
        status = final.get(request_id)
        what = f"a {status} order" if status else "a request that never became an order"
        problems.append(f"the quota reservation of {request_id} is still held by {what}")
    return problems


def reconciliation_is_clean(observed: Observed) -> list[str]:
    report = observed.reconcile_report
    if report is None:
        return []
    problems = [f"reconcile failed for {a}: {why}" for a, why in report.get("failed", {}).items()]
    for account, found in sorted(report.get("accounts", {}).items()):
        for item in ("lost_orders", "unknown_orders", "drifts"):
            if found.get(item):
                problems.append(f"reconcile found {item} on {account}: {found[item]}")
    return problems


def _leg(request_id: str) -> int:
    tail = request_id.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0


CHECKS: list[Check] = [
    one_exchange_order_per_leg,
    every_signal_has_one_outcome,
    every_fill_applied_once,
    ledger_orders_match_exchange,
    positions_replay_fills_and_match_exchange,
    no_reservation_held_by_a_final_order,
    reconciliation_is_clean,
]


def summary(observed: Observed, found: Mapping[str, list[str]], shown: int = 8) -> str:
    """A failure message: what the run did, then the violations by check (the first
    `shown` of each)."""
    lines = list(observed.notes)
    for name, problems in found.items():
        lines.append(f"{name}: {len(problems)} violation(s)")
        lines.extend(f"  - {problem}" for problem in problems[:shown])
        if len(problems) > shown:
            lines.append(f"  ... and {len(problems) - shown} more")
    if not found:
        lines.append("no violation")
    return "\n".join(lines)
