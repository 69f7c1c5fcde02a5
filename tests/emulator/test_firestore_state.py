"""The StateStore contract, run against the SQL store and the Firestore emulator alike."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from tests.conftest import open_accounts
from tests.emulator.helpers import empty_firestore
from tests.integration.pipeline.chaos import ChaosBus, FaultyVenues, Stack
from tests.integration.pipeline.invariants import violations, world_of

from stratus.adapters.clock import ManualClock
from stratus.adapters.firestore_state import FirestoreStateStore
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.state import SqlStateStore
from stratus.config import Settings
from stratus.domain.common import Side
from stratus.domain.errors import ConcurrentUpdate
from stratus.domain.exits import ExitPlan
from stratus.domain.orders import OrderRecord, OrderRequest, OrderStatus, OrderType
from stratus.domain.risk import TradingState
from stratus.ports import StateStore
from stratus.service.bootstrap import build
from stratus.service.dispatch import deliver
from stratus.service.reconciliation import reconcile_account

T = TypeVar("T")
PROJECT = "stratus-emulator-test"
T0 = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(params=["sql", "firestore"])
def store(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[StateStore]:
    clock = ManualClock(T0)
    if request.param == "sql":
        # A file, not sqlite://: the in-memory database is one connection, not thread-safe.
        yield SqlStateStore(Database.from_url(f"sqlite:///{tmp_path}/state.db"), clock)
        return
    host = request.getfixturevalue("firestore_emulator")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
    empty_firestore(host, PROJECT)
    yield FirestoreStateStore(PROJECT, clock)


def record(request_id: str = "s1-0", account: str = "a", minutes: int = 0) -> OrderRecord:
    order = OrderRequest(
        request_id=request_id,
        signal_id="s1",
        leg=0,
        account=account,
        strategy="st",
        symbol="BTC/USDT:USDT",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        quantity=D("0.5"),
        created_at=T0,
    )
    return OrderRecord.intent(order, T0 + timedelta(minutes=minutes))


def test_done_keys(store: StateStore) -> None:
    assert not store.is_done("on_signal:s1")
    store.mark_done("on_signal:s1")
    store.mark_done("on_signal:s1")  # a redelivered copy finishing second is fine
    assert store.is_done("on_signal:s1")


def concurrently(times: int, call: Callable[[], T]) -> list[T]:
    """What `call` returned, run `times` times at once in threads."""
    results: list[T] = []
    threads = [threading.Thread(target=lambda: results.append(call())) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_claims_are_won_once_even_concurrently(store: StateStore) -> None:
    wins = concurrently(6, lambda: store.claim("webhook:x/y:sig", 300))
    assert sorted(wins) == [False] * 5 + [True]
    assert store.claim("webhook:x/y:other", 300)


def test_counters_count_every_hit_once_even_concurrently(store: StateStore) -> None:
    counts = concurrently(8, lambda: store.increment("rate:x/y:0", 120))
    assert sorted(counts) == list(range(1, 9))
    assert store.increment("rate:x/y:0", 120) == 9
    assert store.increment("rate:x/y:60", 120) == 1  # another key starts at one


def test_order_documents_compare_and_set(store: StateStore) -> None:
    intent = record()
    assert store.create_order(intent)
    assert not store.create_order(intent)  # the intent exists once
    assert store.get_order(intent.client_order_id) == intent
    opened = store.save_order(intent.transition(OrderStatus.OPEN, T0))
    assert opened.version == 1
    with pytest.raises(ConcurrentUpdate):
        store.save_order(intent.transition(OrderStatus.CANCELED, T0))  # stale version
    assert store.get_order(intent.client_order_id) == opened
    assert store.get_order("stx-missing") is None


def test_concurrent_writers_of_one_version_have_one_winner(store: StateStore) -> None:
    intent = record()
    store.create_order(intent)
    outcomes: list[str] = []

    def write(status: OrderStatus) -> None:
        try:
            store.save_order(intent.transition(status, T0))
            outcomes.append("saved")
        except ConcurrentUpdate:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(OrderStatus.OPEN,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["saved"]


def test_orders_filter_by_account_and_liveness_oldest_first(store: StateStore) -> None:
    late, early, other = record("s1-1", minutes=5), record("s1-0"), record("s2-0", account="b")
    for item in (late, early, other):
        store.create_order(item)
    store.save_order(late.transition(OrderStatus.FILLED, T0))
    assert [r.request.request_id for r in store.orders("a")] == ["s1-0", "s1-1"]
    assert [r.request.request_id for r in store.orders("a", live=True)] == ["s1-0"]
    assert len(store.orders(live=True)) == 2


def test_orders_filter_by_owed_effects(store: StateStore) -> None:
    settled, owing, other = record("s1-0"), record("s1-1", minutes=1), record("s2-0", account="b")
    for item in (settled, owing, other):
        store.create_order(item)
    assert store.orders(owed=True) == []  # an intent owes nothing
    store.save_order(settled.transition(OrderStatus.CANCELED, T0).settled())
    store.save_order(owing.transition(OrderStatus.CANCELED, T0))
    store.save_order(other.transition(OrderStatus.OPEN, T0))
    assert [r.request.request_id for r in store.orders(owed=True)] == ["s2-0", "s1-1"]
    assert [r.request.request_id for r in store.orders("a", owed=True)] == ["s1-1"]
    assert [r.request.request_id for r in store.orders(live=True, owed=True)] == ["s2-0"]


def test_exit_plans_are_kept_per_position_and_replaced(store: StateStore) -> None:
    def plan(strategy: str, signal_id: str, symbol: str = "BTC/USDT:USDT") -> ExitPlan:
        return ExitPlan(
            account="a", strategy=strategy, symbol=symbol, direction=Side.BUY,
            stop_loss_distance=D("500"), take_profit_price=D("70000.5"),
            signal_id=signal_id, set_at=T0,
        )  # fmt: skip

    assert store.exit_plan("a", "st", "BTC/USDT:USDT") is None
    assert store.exit_plans() == []
    store.save_exit_plan(plan("st", "s-1"))
    store.save_exit_plan(plan("other", "s-2", symbol="ETH/USDT:USDT"))
    store.save_exit_plan(plan("st", "s-3"))  # replaces s-1's
    assert store.exit_plan("a", "st", "BTC/USDT:USDT") == plan("st", "s-3")
    assert [p.signal_id for p in store.exit_plans()] == ["s-2", "s-3"]
    cleared = plan("st", "s-4").model_copy(
        update={"stop_loss_distance": None, "take_profit_price": None}
    )
    store.save_exit_plan(cleared)  # a new position without exits: kept, with none
    assert store.exit_plan("a", "st", "BTC/USDT:USDT") == cleared
    assert [p.signal_id for p in store.exit_plans()] == ["s-2"]  # only plans with exits


def test_kill_switch_scopes(store: StateStore) -> None:
    scopes = ["global", "account:a", "strategy:st"]
    assert store.trading_state(scopes) == {}
    store.set_trading_state("account:a", TradingState.REDUCING, "drawdown")
    store.set_trading_state("global", TradingState.HALTED, "exchange incident")
    store.set_trading_state("global", TradingState.ACTIVE, "resolved")
    assert store.trading_state(scopes) == {
        "global": TradingState.ACTIVE,
        "account:a": TradingState.REDUCING,
    }


def test_the_pipeline_is_exactly_once_on_firestore_under_concurrent_redelivery(
    firestore_emulator: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    empty_firestore(firestore_emulator, PROJECT)
    feed = PriceFeed.default()
    clock = ManualClock(feed.start)
    bus, venues = ChaosBus(clock, seed=11, concurrent_rate=0.7), FaultyVenues(clock, feed)
    services = build(
        Settings(database_url=f"sqlite:///{tmp_path}/ledger.db"),
        clock=clock, bus=bus, exchanges=venues, state=FirestoreStateStore(PROJECT, clock),
        sleep=lambda _s: None,
    )  # fmt: skip
    bus.attach(partial(deliver, services))
    open_accounts(services, "acct")
    stack = Stack(services, bus, venues, clock)
    venue = stack.venue()
    first_leg = OrderRequest.model_validate(
        {"request_id": "fs-2-0", "signal_id": "fs-2", "leg": 0, "account": "acct",
         "strategy": "st", "symbol": "BTC/USDT:USDT", "side": "buy", "order_type": "market",
         "quantity": "1", "created_at": T0}
    ).client_order_id  # fmt: skip
    venue.crash_after_booking.add(first_leg)
    for number, action in enumerate(["buy", "buy", "sell", "close"]):
        clock.advance(timedelta(minutes=1))
        stack.signal(f"fs-{number}", action=action, quantity="" if action == "close" else "0.2")
    orders = services.state.orders()
    assert len(orders) == 4
    assert sorted(venue.sent) == sorted(r.client_order_id for r in orders)
    fills = services.ledger.fills()
    assert len({f.fill_id for f in fills}) == len(fills) == sum(len(r.fills) for r in orders)
    assert services.ledger.position("acct", "st", "BTC/USDT:USDT").quantity == 0
    assert bus.deliveries > sum(len(v) for v in bus.history.values())
    report = reconcile_account(services, "acct")
    bus.drain()
    placed = Counter(venue.placed)
    assert violations(world_of(services, bus.messages, placed, [report])) == []
