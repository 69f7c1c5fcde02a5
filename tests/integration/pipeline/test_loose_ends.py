"""Issue 12: whatever a crash or a lost message leaves undone is finished from durable
state, by the next copy of any message about it, by reconcile or by the sweep; a
disagreement reconciliation cannot explain is corrected once per episode; a message is
dead-lettered once, and what it owns is finished with the reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.sql.audit import Page
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.portfolio import LedgerFilter, SqlPortfolio
from stratus.adapters.sql.state import SqlStateStore
from stratus.contracts import codec
from stratus.domain.errors import ExchangeUnavailable
from stratus.domain.orders import (
    ExchangeOrder,
    Liquidity,
    OrderRecord,
    OrderRequest,
    OrderStatus,
)
from stratus.domain.reconciliation import RECONCILIATION_STRATEGY
from stratus.domain.records import OrderEntry
from stratus.service.dispatch import deliver
from stratus.service.handlers import operations
from stratus.service.handlers.execution import execute_order
from stratus.service.handlers.risk import check_risk
from stratus.service.reconciliation import reconcile_account
from stratus.service.services import Services
from stratus.topology import topology
from tests.conftest import open_accounts
from tests.integration.pipeline.chaos import Crash
from tests.integration.pipeline.faults import FaultPoints

BTC = "BTC/USDT:USDT"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
LATER = topology().retry.delivery_window + timedelta(minutes=1)


def request(services: Services, request_id: str = "l-1-0", **fields: object) -> OrderRequest:
    return OrderRequest.model_validate(
        {"request_id": request_id, "signal_id": request_id.rsplit("-", 1)[0], "leg": 0,
         "account": "acct", "strategy": "st", "symbol": BTC, "side": "buy",
         "order_type": "market", "quantity": "0.1", "created_at": services.clock.now(),
         **fields}
    )  # fmt: skip


def approved(services: Services, order: OrderRequest) -> OrderRequest:
    """What check_risk leaves: a PENDING document and a held reservation (its `orders`
    message is the caller's to deliver, or to lose)."""
    assert services.state.create_order(OrderRecord.intent(order, services.clock.now()))
    assert services.quotas.reserve(order, D(1000)) is None
    return order


def held(services: Services) -> int:
    return services.quotas.held("acct", "st")  # type: ignore[attr-defined, no-any-return]


def ledger_order(services: Services, order: OrderRequest) -> OrderEntry | None:
    """What GET /orders shows for the order."""
    database = services.ledger.database  # type: ignore[attr-defined]
    where = LedgerFilter(account=order.account)
    entries, _ = SqlPortfolio(database, services.clock).orders(where, Page(1000))
    return next((e for e in entries if e.client_order_id == order.client_order_id), None)


def net(services: Services, symbol: str = BTC) -> D:
    return sum((p.quantity for p in services.ledger.positions("acct") if p.symbol == symbol), D(0))


def on_exchange(services: Services, symbol: str = BTC) -> D:
    held_there = {p.symbol: p.quantity for p in services.exchanges.for_account("acct").positions()}
    return held_there.get(symbol, D(0))


def crash_executor(services: Services, order: OrderRequest, after: int) -> FaultPoints:
    faults = FaultPoints()
    faults.install(services)
    faults.arm("execute_order", after)
    with pytest.raises(Crash):
        faults.run("execute_order", execute_order, services, order)
    return faults


# Defect 1: fills saved on the document, the process dies, the message is acked.


def test_fills_saved_but_never_published_are_booked_by_reconcile(
    services: Services, bus: LocalBus
) -> None:
    order = approved(services, request(services))
    crash_executor(services, order, after=3)  # send lease, exchange order, fills saved
    saved = services.state.get_order(order.client_order_id)
    assert saved is not None
    assert (saved.status, saved.published) == (OrderStatus.FILLED, 0)

    report = reconcile_account(services, "acct")  # the orders message is gone for good
    bus.drain()

    assert net(services) == on_exchange(services) == D("0.1")
    assert report.drifts == []
    assert [f.client_order_id for f in services.ledger.fills("acct")] == [order.client_order_id]
    assert held(services) == 0
    assert reconcile_account(services, "acct").clean


def test_the_sweep_finishes_a_document_whose_message_was_acked(
    services: Services, bus: LocalBus
) -> None:
    order = approved(services, request(services))
    crash_executor(services, order, after=3)
    result = operations.sweep(services, {}, b"")
    bus.drain()
    assert (result.status, result.body["finished"], result.body["closed"]) == (200, 1, [])
    assert net(services) == D("0.1")
    entry = ledger_order(services, order)
    assert entry is not None
    assert (entry.status, held(services)) == ("filled", 0)
    assert services.state.orders(owed=True) == []


# Defect 2: a death between saving a final document and telling the ledger and quotas.


@pytest.mark.parametrize("after", [3, 4], ids=["before-the-ledger", "before-the-quota"])
def test_a_redelivery_finishes_an_order_saved_final(
    services: Services, bus: LocalBus, after: int
) -> None:
    order = approved(services, request(services))
    crash_executor(services, order, after)
    execute_order(services, order)  # Pub/Sub redelivers the orders message
    bus.drain()
    entry = ledger_order(services, order)
    assert entry is not None, "the order is in GET /orders"
    assert (entry.status, entry.filled) == ("filled", D("0.1"))
    assert held(services) == 0, "its reservation is given back"
    assert net(services) == D("0.1")


# Defect 5: drift corrected once per episode of disagreement.


def test_a_recurring_identical_disagreement_is_corrected_each_time(
    services: Services, bus: LocalBus
) -> None:
    venue = services.exchanges.for_account("acct")

    def outside_trade(number: int, side: str) -> None:
        venue.place(request(services, f"manual-{number}-0", side=side, quantity="0.02"))

    outside_trade(1, "buy")
    first = reconcile_account(services, "acct")
    again = reconcile_account(services, "acct")  # before the correction is applied
    bus.drain()
    outside_trade(2, "sell")
    reconcile_account(services, "acct")
    bus.drain()
    outside_trade(3, "buy")  # ledger 0, exchange 0.02: the very first disagreement again
    recurring = reconcile_account(services, "acct")
    bus.drain()

    assert again.drifts[0].correction_fill_id == first.drifts[0].correction_fill_id
    assert (recurring.drifts[0].ledger_quantity, recurring.drifts[0].exchange_quantity) == (
        first.drifts[0].ledger_quantity,
        first.drifts[0].exchange_quantity,
    )
    assert recurring.drifts[0].correction_fill_id != first.drifts[0].correction_fill_id
    assert net(services) == on_exchange(services) == D("0.02")
    corrections = [
        f for f in services.ledger.fills("acct") if f.strategy == RECONCILIATION_STRATEGY
    ]
    assert len(corrections) == 3
    assert reconcile_account(services, "acct").clean


def test_a_correction_named_again_with_another_size_is_applied_once_then_completed(
    services: Services, bus: LocalBus
) -> None:
    venue = services.exchanges.for_account("acct")
    venue.place(request(services, "manual-1-0", quantity="0.02"))
    first = reconcile_account(services, "acct")
    venue.place(request(services, "manual-2-0", quantity="0.03"))  # before it was applied
    second = reconcile_account(services, "acct")
    bus.drain()
    assert second.drifts[0].correction_fill_id == first.drifts[0].correction_fill_id
    assert net(services) == D("0.02")  # one of the two copies was applied
    reconcile_account(services, "acct")
    bus.drain()
    assert net(services) == on_exchange(services) == D("0.05")


# Defect 7: a message is dead-lettered once, not once per copy.


def test_every_copy_of_a_poison_message_makes_one_dead_letter(
    services: Services, bus: LocalBus
) -> None:
    open_accounts(services, "acct")  # known, so the symbol is what poisons it
    poison = json.dumps(
        {"signal_id": "p-1", "source": "t", "account": "acct", "strategy": "st",
         "symbol": "DOGE/USDT:USDT", "action": "buy", "quantity": "1",
         "created_at": services.clock.now().isoformat()}
    ).encode()  # fmt: skip
    for _copy in range(3):
        deliver(services, "on_signal", poison, {"trace_id": "t"}, services.clock.now())
    for _copy in range(2):
        deliver(services, "on_signal", b"not json", {}, services.clock.now())
    dead = bus.messages("signals-dead-letter")
    assert [e.attributes["reason"] for e in dead] == ["unknown_symbol", "malformed_json"]
    assert all(e.attributes["detail"] for e in dead)


# Issue item 3 (the handlers' half): what a dead letter owns is finished with its reason.


class Unreachable:
    """A venue whose creates never get through (before booking), lookups optional."""

    def __init__(self, inner: object, lookups_fail: bool = False) -> None:
        self.inner, self.lookups_fail, self.creates = inner, lookups_fail, 0

    def place(self, order: OrderRequest) -> ExchangeOrder:
        self.creates += 1
        raise ExchangeUnavailable("connect timeout")

    def lookup(self, client_order_id: str, symbol: str) -> ExchangeOrder | None:
        if self.lookups_fail:
            raise ExchangeUnavailable("read timeout")
        return self.inner.lookup(client_order_id, symbol)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_an_order_given_up_on_its_last_attempt_is_closed_with_the_reason(
    services: Services, bus: LocalBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = Unreachable(services.exchanges.for_account("acct"))
    monkeypatch.setattr(services.exchanges, "for_account", lambda _account: venue)
    order = request(services)
    check_risk(services, order)
    assert held(services) == 1
    bus.drain()  # every delivery fails: the last one gives up

    record = services.state.get_order(order.client_order_id)
    assert record is not None
    assert (record.status, held(services)) == (OrderStatus.LOST, 0)
    assert record.reason == "max_delivery_attempts"
    assert "connect timeout" in record.detail
    entry = ledger_order(services, order)
    assert entry is not None
    assert entry.detail.startswith("max_delivery_attempts: attempt 5")
    [dead] = bus.messages("orders-dead-letter")
    assert (dead.attributes["reason"], dead.attributes["function"]) == (
        "max_delivery_attempts",
        "execute_order",
    )
    assert "connect timeout" in dead.attributes["detail"]
    attempts = topology().retry.max_delivery_attempts
    assert dead.attributes["delivery_attempt"] == str(attempts)
    assert venue.creates == attempts * 4  # four tries per delivery, never after giving up


def test_an_order_the_exchange_cannot_be_asked_about_is_not_declared_dead(
    services: Services, bus: LocalBus, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services.exchanges.for_account("acct")
    venue = Unreachable(real, lookups_fail=True)
    monkeypatch.setattr(services.exchanges, "for_account", lambda _account: venue)
    order = request(services)
    check_risk(services, order)
    real.place(order)  # the first create did reach the exchange; no answer came back
    bus.drain()

    record = services.state.get_order(order.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.PENDING, "the exchange may hold it: not dead"
    assert held(services) == 1
    [dead] = bus.messages("orders-dead-letter")
    assert dead.attributes["reason"] == "max_delivery_attempts"

    venue.lookups_fail = False  # the exchange answers again
    clock.advance(topology().retry.delivery_window)
    assert operations.sweep(services, {}, b"").body["closed"] == [order.client_order_id]
    bus.drain()
    adopted = services.state.get_order(order.client_order_id)
    assert adopted is not None
    assert (adopted.status, held(services), net(services)) == (OrderStatus.FILLED, 0, D("0.1"))


def test_a_request_given_up_before_its_order_existed_gives_its_reservation_back(
    services: Services, bus: LocalBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(_record: OrderRecord) -> bool:
        raise ConnectionError("state store unreachable")

    monkeypatch.setattr(services.state, "create_order", unavailable)
    order = request(services)
    services.publish("order-requests", order)
    bus.drain()
    assert held(services) == 0
    [dead] = bus.messages("order-requests-dead-letter")
    assert dead.attributes["reason"] == "max_delivery_attempts"
    monkeypatch.undo()
    check_risk(services, order)  # a late copy decides nothing again
    assert (services.state.get_order(order.client_order_id), held(services)) == (None, 0)


def test_a_pending_order_whose_message_died_is_closed_after_the_delivery_window(
    services: Services, bus: LocalBus, clock: ManualClock
) -> None:
    order = approved(services, request(services))  # its orders message never arrives
    assert operations.sweep(services, {}, b"").body["closed"] == []
    clock.advance(topology().retry.delivery_window + timedelta(seconds=1))
    assert operations.sweep(services, {}, b"").body["closed"] == [order.client_order_id]
    record = services.state.get_order(order.client_order_id)
    assert record is not None
    assert (record.status, record.reason, held(services)) == (
        OrderStatus.CANCELED,
        "undelivered",
        0,
    )
    execute_order(services, order)  # a copy arriving after all sends nothing
    assert services.exchanges.for_account("acct").lookup(order.client_order_id, BTC) is None


def test_a_rejection_saved_before_a_crash_is_still_announced(
    services: Services, bus: LocalBus
) -> None:
    dust = approved(services, request(services, quantity="0.0000001"))
    faults = FaultPoints()
    faults.install(services)
    faults.arm("execute_order", after=1)  # REJECTED saved; nothing announced yet
    with pytest.raises(Crash):
        faults.run("execute_order", execute_order, services, dust)
    execute_order(services, dust)  # the redelivery
    [rejection] = [json.loads(e.data) for e in bus.messages("order-rejections")]
    assert rejection["reason"] == "below_min_amount"
    assert held(services) == 0


def test_an_embedded_database_from_before_finds_its_loose_ends_too(tmp_path: Path) -> None:
    """State made before `owed` existed: the column is added, computed per document."""
    url = f"sqlite:///{tmp_path}/old.db"
    order = OrderRequest.model_validate(
        {"request_id": "old-1-0", "signal_id": "old-1", "leg": 0, "account": "acct",
         "strategy": "st", "symbol": BTC, "side": "buy", "order_type": "market",
         "quantity": "0.1", "created_at": T0}
    )  # fmt: skip
    seen = ExchangeOrder(
        exchange_order_id="x", status=OrderStatus.FILLED, filled=D("0.1"), cost=D(9000),
        fee=D(0), fee_currency="USDT", liquidity=Liquidity.TAKER, updated_at=T0,
    )  # fmt: skip
    stranded = OrderRecord.intent(order, T0).observe(seen, T0)  # saved, never published
    with create_engine(url).begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE state_orders (client_order_id VARCHAR(64) PRIMARY KEY, "
                "account VARCHAR(128), status VARCHAR(20), version INTEGER, "
                "created_at DATETIME, document TEXT)"
            )
        )
        connection.execute(
            text("INSERT INTO state_orders VALUES (:id, 'acct', 'filled', 1, :at, :doc)"),
            {"id": order.client_order_id, "at": T0, "doc": stranded.model_dump_json()},
        )
    store = SqlStateStore(Database.from_url(url), ManualClock(T0))
    assert [r.client_order_id for r in store.orders(owed=True)] == [order.client_order_id]


def test_a_last_attempt_meeting_a_copy_still_sending_leaves_the_order_to_it(
    services: Services, bus: LocalBus, clock: ManualClock
) -> None:
    order = approved(services, request(services))
    record = services.state.get_order(order.client_order_id)
    assert record is not None
    services.state.save_order(record.sending(clock.now(), timedelta(seconds=60)))  # copy A
    data = codec.encode("orders", order)
    deliver(services, "execute_order", data, {}, clock.now(), attempt=5)  # copy B gives up
    assert bus.messages("orders-dead-letter") == [], "the order is copy A's to finish"
    assert held(services) == 1
    clock.advance(LATER)  # copy A died: the sweep finds nothing on the exchange
    assert operations.sweep(services, {}, b"").body["closed"] == [order.client_order_id]
    closed = services.state.get_order(order.client_order_id)
    assert closed is not None
    assert (closed.status, closed.reason, held(services)) == (OrderStatus.LOST, "undelivered", 0)


def test_a_stack_retrying_faster_sets_its_own_delivery_window(
    services: Services, clock: ManualClock
) -> None:
    services.settings = services.settings.model_copy(update={"delivery_window_seconds": 30})
    order = approved(services, request(services))
    clock.advance(timedelta(seconds=31))
    assert operations.sweep(services, {}, b"").body["closed"] == [order.client_order_id]
