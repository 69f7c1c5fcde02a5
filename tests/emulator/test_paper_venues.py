"""The PaperVenueStore contract on every store (memory, SQLite, PostgreSQL, the Firestore
emulator), and many writers on one account's durable venue losing no update."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.emulator.helpers import empty_firestore

from stratus.adapters.clock import ManualClock
from stratus.adapters.firestore_paper_venues import FirestoreVenueStore
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.memory_store import MemoryVenueStore
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.paper_venues import SqlVenueStore
from stratus.domain.errors import ConcurrentUpdate
from stratus.ports import FinishedOrder, PaperVenueStore, StoredVenue

PROJECT = "stratus-paper-venues-test"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + timedelta(seconds=30))


@pytest.fixture(params=["memory", "sqlite", "postgres", "firestore"])
def store(
    request: pytest.FixtureRequest,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[PaperVenueStore]:
    if request.param == "memory":
        yield MemoryVenueStore()
    elif request.param == "sqlite":
        # A file, not sqlite://: the in-memory database is one connection for all threads.
        yield SqlVenueStore(Database.from_url(f"sqlite:///{tmp_path}/paper.db"), clock)
    elif request.param == "postgres":
        database = Database.from_url(request.getfixturevalue("database_url"))
        with database.engine.begin() as connection:  # the session's database: start empty
            for table in ("paper_orders", "paper_venues"):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        yield SqlVenueStore(database, clock)
        database.engine.dispose()
    else:
        host = request.getfixturevalue("firestore_emulator")
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
        empty_firestore(host, PROJECT)
        yield FirestoreVenueStore(PROJECT)


def finished(order_id: str, client_id: str | None = None, minutes: int = 60) -> FinishedOrder:
    expires = T0 + timedelta(minutes=minutes)
    return FinishedOrder(order_id, client_id, expires, f'{{"id": "{order_id}"}}')


def test_a_venue_is_created_once_then_compare_and_set(store: PaperVenueStore) -> None:
    assert store.load("a/1") is None
    store.save("a/1", 0, "v1", [])
    with pytest.raises(ConcurrentUpdate):
        store.save("a/1", 0, "created twice", [])
    assert store.load("a/1") == StoredVenue(1, "v1")
    store.save("a/1", 1, "v2", [])
    with pytest.raises(ConcurrentUpdate):
        store.save("a/1", 1, "from a stale read", [finished("paper-000009")])
    assert store.load("a/1") == StoredVenue(2, "v2")
    assert store.finished_orders("a/1") == []  # the losing save wrote nothing at all
    store.save("b", 0, "other", [])
    assert store.accounts() == ["a/1", "b"]


def test_finished_orders_are_saved_with_the_venue_and_found_by_id(
    store: PaperVenueStore,
) -> None:
    store.save("a", 0, "v1", [finished("paper-000001", "c-1"), finished("paper-000002")])
    store.save("a", 1, "v2", [finished("paper-000003", "c-3")])
    store.save("b", 0, "v1", [finished("paper-000001", "c-1")])
    assert sorted(store.finished_orders("a")) == [
        '{"id": "paper-000001"}',
        '{"id": "paper-000002"}',
        '{"id": "paper-000003"}',
    ]
    assert store.finished_orders("a", order_id="paper-000002") == ['{"id": "paper-000002"}']
    assert store.finished_orders("a", client_order_id="c-3") == ['{"id": "paper-000003"}']
    assert store.finished_orders("a", "paper-000001", "c-1") == ['{"id": "paper-000001"}']
    assert store.finished_orders("a", "paper-000001", "c-3") == []
    assert store.finished_orders("a", order_id="paper-000404") == []
    assert store.finished_orders("nobody") == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sql_forgets_finished_orders_once_expired(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    clock = ManualClock(T0)
    url = (
        f"sqlite:///{tmp_path}/expiry.db"
        if backend == "sqlite"
        else request.getfixturevalue("database_url")
    )
    sql = SqlVenueStore(Database.from_url(url), clock)
    account = f"expiry-{backend}-{tmp_path.name}"
    sql.save(account, 0, "v1", [finished("paper-000001", minutes=10), finished("paper-000002")])
    clock.set(T0 + timedelta(minutes=30))
    sql.save(account, 1, "v2", [finished("paper-000003")])
    assert sorted(sql.finished_orders(account)) == [
        '{"id": "paper-000002"}',
        '{"id": "paper-000003"}',
    ]


def test_many_writers_on_one_account_lose_no_update(
    store: PaperVenueStore, clock: ManualClock
) -> None:
    """Six writers, each its own PaperExchange (as processes are), 48 orders at once."""
    feed = PriceFeed.default()
    writers, each = 6, 8
    start = Decimal(100000)

    def trade(writer: int) -> list[str]:
        venue = PaperExchange(feed, clock, store=store, account="shared")
        placed = []
        for n in range(each):
            symbol, side = (BTC, "buy") if (writer + n) % 3 else (ETH, "sell")
            amount = 0.01 if symbol == BTC else 0.5
            params = {"clientOrderId": f"w{writer}-{n}"}
            placed.append(venue.create_order(symbol, "market", side, amount, None, params)["id"])
        return placed

    barrier = threading.Barrier(writers)

    def started(writer: int) -> list[str]:
        barrier.wait()
        return trade(writer)

    with ThreadPoolExecutor(max_workers=writers) as pool:
        placed = [order for orders in pool.map(started, range(writers)) for order in orders]

    reader = PaperExchange(feed, clock, store=store, account="shared")
    assert len(set(placed)) == writers * each
    trades = reader.trades()
    assert sorted(t.order_id for t in trades) == sorted(placed)
    net: dict[str, Decimal] = defaultdict(Decimal)
    for t in trades:
        net[t.symbol] += t.amount if t.side == "buy" else -t.amount
    held = {p["symbol"]: Decimal(str(p["contracts"])) for p in reader.fetch_positions()}
    assert held == {symbol: abs(quantity) for symbol, quantity in net.items()}
    wallet = start + sum((t.realized_pnl - t.fee for t in trades), Decimal(0))
    total = Decimal(str(reader.fetch_balance()["USDT"]["total"]))
    assert total == pytest.approx(wallet, abs=Decimal("1e-6"))
    for writer in range(writers):
        for n in range(each):
            found = reader.fetch_order("", None, {"clientOrderId": f"w{writer}-{n}"})
            assert found["status"] == "closed"
