"""Exactly once under at-least-once delivery: duplicates, concurrent copies, crashes and
timeouts after the exchange booked the order."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta
from decimal import Decimal as D
from typing import NoReturn

import pytest

from stratus.domain.orders import OrderRequest, OrderStatus, request_id_for
from stratus.domain.positions import replay
from stratus.domain.sizing import SizingPolicy
from stratus.service.handlers.execution import execute_order
from stratus.service.reconciliation import reconcile_account
from tests.integration.pipeline.chaos import Crash, Stack
from tests.integration.pipeline.invariants import violations, world_of

SIGNALS: list[tuple[str, dict[str, object]]] = [
    ("f-01", {"quantity": "0.9"}),  # 3 legs at max_leg_notional 20,000
    ("f-02", {"symbol": "ETH/USDT:USDT", "quantity": "4"}),
    ("f-03", {"action": "sell", "quantity": "0.3"}),
    ("f-04", {"symbol": "SOL/USDT:USDT", "action": "sell", "quantity": "150"}),  # 2 legs
    ("f-05", {"symbol": "ETH/USDT:USDT", "action": "close"}),
    ("f-06", {"quantity": "0.2"}),
    ("f-07", {"action": "close"}),
    ("f-08", {"symbol": "SOL/USDT:USDT", "action": "buy", "quantity": "40"}),
]


def coid(signal_id: str, leg: int) -> str:
    return "stx-" + hashlib.sha256(request_id_for(signal_id, leg).encode()).hexdigest()[:32]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_leg_is_one_exchange_order_and_every_fill_counts_once(
    stack: Stack, seed: int
) -> None:
    services, bus, venue = stack.services, stack.bus, stack.venue()
    bus._random.seed(seed)
    services.settings = services.settings.model_copy(
        update={"sizing": SizingPolicy(max_leg_notional=D(20_000))}
    )
    venue.crash_after_booking |= {coid("f-01", 1), coid("f-04", 0), coid("f-07", 0)}
    venue.timeout_after_booking |= {coid("f-01", 2), coid("f-02", 0), coid("f-06", 0)}
    for signal_id, fields in SIGNALS:
        stack.clock.advance(timedelta(minutes=1))
        stack.signal(signal_id, **fields)

    orders = services.state.orders()
    legs = Counter(record.request.signal_id for record in orders)
    assert legs == {"f-01": 3, "f-02": 1, "f-03": 1, "f-04": 2, "f-05": 1, "f-06": 1,
                    "f-07": 3, "f-08": 1}  # fmt: skip
    placed = Counter(venue.placed)
    assert set(placed) == {record.client_order_id for record in orders}
    assert max(placed.values()) == 1, "one exchange order per signal leg"
    assert Counter(venue.sent) == placed, "never sent twice, even where the exchange dedups"
    assert all(record.status is OrderStatus.FILLED for record in orders)

    fills = services.ledger.fills()
    assert len({fill.fill_id for fill in fills}) == len(fills)
    assert sorted(f.fill_id for f in fills) == sorted(
        f.fill_id for record in orders for f in record.fills
    ), "every fill the executor saw reached the ledger, once"
    for record in orders:
        own = sum(f.quantity for f in fills if f.client_order_id == record.client_order_id)
        assert own == record.filled == record.request.quantity
    for position in services.ledger.positions():
        mine = [f for f in fills if (f.strategy, f.symbol) == (position.strategy, position.symbol)]
        again = replay(mine, position.account, position.strategy, position.symbol)
        assert (again.quantity, again.average_entry, again.realized_pnl, again.fees) == (
            position.quantity, position.average_entry, position.realized_pnl, position.fees,
        )  # fmt: skip
    closed = {p.symbol: p.quantity for p in services.ledger.positions()}
    assert closed["ETH/USDT:USDT"] == 0
    assert closed["BTC/USDT:USDT"] == 0

    published = sum(len(envelopes) for envelopes in bus.history.values())
    assert bus.deliveries > published, "the run really delivered duplicates"
    assert not [t for t in bus.history if t.endswith("dead-letter")]
    report = reconcile_account(services, "acct")
    bus.drain()
    assert violations(world_of(services, bus.messages, placed, [report])) == []


def test_concurrent_copies_of_a_poison_message_make_one_dead_letter(stack: Stack) -> None:
    stack.bus.copies, stack.bus.concurrent_rate = (3,), 1.0
    stack.signal("poison-1", symbol="DOGE/USDT:USDT", quantity="1")
    [letter] = stack.bus.messages("signals-dead-letter")
    assert (letter.attributes["reason"], letter.attributes["function"]) == (
        "unknown_symbol",
        "on_signal",
    )
    assert stack.bus.deliveries >= 3


def _request(stack: Stack) -> OrderRequest:
    now = stack.clock.now()
    return OrderRequest.model_validate(
        {"request_id": "d-1-0", "signal_id": "d-1", "leg": 0, "account": "acct",
         "strategy": "st", "symbol": "BTC/USDT:USDT", "side": "buy", "order_type": "market",
         "quantity": "0.1", "created_at": now}
    )  # fmt: skip


def test_a_copy_that_died_before_the_exchange_answered_is_resent_after_its_lease(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    request, venue = _request(stack), stack.venue()

    def die_before_booking(_request: OrderRequest) -> NoReturn:
        raise Crash("died while the request was on the wire")

    monkeypatch.setattr(venue.inner, "place", die_before_booking)
    with pytest.raises(Crash):
        execute_order(stack.services, request)
    monkeypatch.undo()  # place() reaches the exchange again
    with pytest.raises(Exception, match="being sent by another copy"):
        execute_order(stack.services, request)  # within the lease: maybe still sending
    assert venue.placed == []
    stack.clock.advance(timedelta(seconds=61))
    execute_order(stack.services, request)
    execute_order(stack.services, request)
    assert venue.placed == [request.client_order_id]
    record = stack.services.state.get_order(request.client_order_id)
    assert record is not None
    assert (record.status, record.attempts) == (OrderStatus.FILLED, 2)
