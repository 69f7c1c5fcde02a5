"""invariants.py can fail: a clean run keeps every promise, and each promise broken in a
copy of that run's world is reported."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal as D

from stratus.domain.orders import OrderStatus
from stratus.domain.reconciliation import Drift
from stratus.service.reconciliation import reconcile_account
from tests.integration.pipeline.chaos import Stack
from tests.integration.pipeline.invariants import DeadLetter, World, violations, world_of

BTC = "BTC/USDT:USDT"


def clean_world(stack: Stack) -> World:
    stack.signal("inv-1", quantity="0.1")
    stack.signal("inv-2", action="sell", quantity="0.04")
    stack.signal("inv-3", symbol="DOGE/USDT:USDT", quantity="1")  # dead-lettered: no symbol
    report = reconcile_account(stack.services, "acct")
    placed = Counter(stack.venue().placed)
    return world_of(stack.services, stack.bus.messages, placed, [report])


def test_a_clean_run_keeps_every_promise_and_each_broken_one_is_reported(stack: Stack) -> None:
    world = clean_world(stack)
    assert violations(world) == []
    assert len(world.documents) == 2
    assert [d.attributes["reason"] for d in world.dead_letters] == ["unknown_symbol"]

    first, second = world.documents
    fill = world.ledger_fills[0]
    letter = world.dead_letters[0]
    unclean = world.reports[0].model_copy(
        update={"drifts": [Drift(symbol=BTC, ledger_quantity=D(0), exchange_quantity=D(1),
                                 correction_fill_id="recon-x")]}
    )  # fmt: skip
    broken = {
        "a leg placed twice": replace(world, exchange_orders={first.client_order_id: 2}),
        "a fill applied twice": replace(world, ledger_fills=[*world.ledger_fills, fill]),
        "a fill never applied": replace(world, ledger_fills=world.ledger_fills[1:]),
        "an order missing from the ledger": replace(world, ledger_orders=world.ledger_orders[1:]),
        "a reservation outliving its order": replace(
            world, held=frozenset({first.request.request_id})
        ),
        "a position off the exchange": replace(world, exchange_positions={"acct": {BTC: D(1)}}),
        "an order left pending": replace(
            world,
            exchange_orders={},
            documents=[first.model_copy(update={"status": OrderStatus.PENDING}), second],
        ),
        "a signal with no outcome": replace(world, dead_letters=[]),
        "a dead letter without reason": replace(
            world, dead_letters=[DeadLetter(letter.topic, letter.data, {"detail": "x"})]
        ),
        "a message dead-lettered twice": replace(world, dead_letters=[letter, letter]),
        "a report not clean": replace(world, reports=[unclean]),
    }
    for promise, world_broken in broken.items():
        assert violations(world_broken), f"not reported: {promise}"


def test_a_close_of_a_flat_strategy_needs_no_outcome(stack: Stack) -> None:
    world = clean_world(stack)
    close = world.signals[0].model_copy(update={"signal_id": "inv-close", "action": "close"})
    unsettled = replace(world, signals=[*world.signals, close])

    assert violations(unsettled) == ["signal inv-close: no order, rejection nor reasoned refusal"]
    assert violations(replace(unsettled, nothing_to_close=frozenset({"inv-close"}))) == []


def test_a_position_rounded_as_the_ledger_stores_it_still_replays(stack: Stack) -> None:
    world = clean_world(stack)
    stored = world.ledger_positions[0]
    rounded = stored.model_copy(update={"realized_pnl": stored.realized_pnl + D("3e-18")})
    off = stored.model_copy(update={"realized_pnl": stored.realized_pnl + D("0.01")})

    assert violations(replace(world, ledger_positions=[rounded])) == []
    assert violations(replace(world, ledger_positions=[off]))
