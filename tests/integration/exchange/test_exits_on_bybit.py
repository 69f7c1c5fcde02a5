"""Protective exits end to end: signals through the whole pipeline (on_signal ->
check_risk -> execute_order -> update_position -> protect) with real ccxt.bybit against
the served paper Bybit v5, on SQLite and PostgreSQL (docs/exits.md).

The exits rest on the exchange as Bybit conditional orders, sized to the position as it
grows; the served venue fires the stop when its feed falls through it; the watcher's
order follow or reconciliation finds the fill, and that fill's protect cancels the take
profit. The last two tests are races: a protect that sees the stop crossed before
anything followed the stop Bybit fired must not close the position a second time."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus import migrations
from stratus.adapters.clock import ManualClock
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.bybit_http import ServedBybit
from stratus.adapters.paper.feed import PriceFeed, Quote
from stratus.adapters.polled_tickers import PolledTickers
from stratus.adapters.sql.db import make_engine
from stratus.config import Settings
from stratus.domain.common import Side
from stratus.domain.exits import EXIT_SOURCE
from stratus.domain.orders import ExitKind, OrderRecord, OrderStatus
from stratus.manager.app import create_app
from stratus.service.reconciliation import reconcile_account
from stratus.service.services import Services
from stratus.service.sweep import sweep
from stratus.service.watcher import Watcher
from tests.conftest import fresh_database
from tests.integration.exchange.conftest import ACCOUNT
from tests.integration.manager.conftest import DEV_TOKEN
from tests.integration.pipeline.test_exits import redeliver_everything
from tests.integration.pipeline.test_risk_flow import rejections, signal

BTC = "BTC/USDT:USDT"
SL, TP = ExitKind.STOP_LOSS, ExitKind.TAKE_PROFIT
T0 = datetime(2026, 1, 5, tzinfo=UTC)
# minute -> BTC bid (ask one dollar above): flat, up 500 at 0:03, down to 58,000 at 0:05
BIDS = {0: 60000, 1: 60000, 2: 60000, 3: 60500, 4: 60500, 5: 58000, 6: 58000}
TARGET = "62000"  # the take profit: never reached

ETH = "ETH/USDT:USDT"
# minute -> ETH (bid, volume): down 50 at 0:03 with thin volume, so a resting buy at
# 2,960 fills 0.4 there and the rest of its 1.0 at 0:04
ETH_TICKS = {0: ("3000", "50"), 1: ("3000", "50"), 2: ("3000", "50"), 3: ("2950", "0.4"),
             4: ("2950", "0.6"), 5: ("2950", "50")}  # fmt: skip


@pytest.fixture
def feed() -> PriceFeed:
    btc = [
        Quote(BTC, T0 + timedelta(minutes=m), D(bid), D(bid + 1), D(bid), D(5))
        for m, bid in BIDS.items()
    ]
    eth = [
        Quote(ETH, T0 + timedelta(minutes=m), D(bid), D(bid) + D("0.1"), D(bid), D(volume))
        for m, (bid, volume) in ETH_TICKS.items()
    ]
    return PriceFeed(btc + eth)


@pytest.fixture(params=["sqlite", "postgres"])
def settings(
    request: pytest.FixtureRequest, served: ServedBybit, tmp_path: Any
) -> Iterator[Settings]:
    """The conftest's settings (ccxt against the served Bybit) on either database."""

    def on(url: str) -> Settings:
        return Settings(
            database_url=url,
            exchange="ccxt",
            exchange_api_url=served.url,
            exchange_rate_limit=False,  # ccxt would sleep between calls
            exchange_timeout_ms=1000,
        )

    if request.param == "sqlite":
        yield on(f"sqlite:///{tmp_path}/stratus.db")
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) without a server
    with fresh_database("stratus_bybit_exits") as url:
        engine = make_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        yield on(url)


def send(services: Services, signal_id: str, **fields: object) -> None:
    bus = services.bus
    assert isinstance(bus, LocalBus)
    signal(bus, services, signal_id, **{"account": ACCOUNT, "symbol": BTC, **fields})
    assert rejections(bus) == []


def drain(services: Services) -> None:
    bus = services.bus
    assert isinstance(bus, LocalBus)
    bus.drain()


def gateway(services: Services) -> ExchangeGateway:
    found = services.exchanges.for_account(ACCOUNT)
    assert isinstance(found, ExchangeGateway)
    return found


def working_exits(services: Services) -> dict[ExitKind, OrderRecord]:
    """The position's exits as the state store has them, by kind (one of each)."""
    found = [
        r
        for r in services.state.orders(ACCOUNT, live=True)
        if r.request.exit_kind is not None and not r.status.is_terminal
    ]
    by_kind = {r.request.exit_kind: r for r in found if r.request.exit_kind is not None}
    assert len(by_kind) == len(found), found
    return by_kind


def on_bybit(services: Services, symbol: str = BTC) -> dict[str, dict[str, Any]]:
    """Bybit's conditional orders waiting on the exchange, by orderLinkId, as ccxt.bybit
    reads them off the wire (/v5/order/realtime)."""
    client: Any = gateway(services).client
    listed = client.fetch_open_orders(symbol, None, None, {"trigger": True})
    return {o["clientOrderId"]: o for o in listed}


def bybit_history(services: Services, symbol: str = BTC) -> dict[str, str]:
    """Bybit's final conditional orders (/v5/order/history): orderLinkId -> orderStatus."""
    client: Any = gateway(services).client
    listed = client.fetch_canceled_and_closed_orders(symbol, None, None, {"trigger": True})
    return {o["clientOrderId"]: o["info"]["orderStatus"] for o in listed}


def writes(served: ServedBybit) -> list[tuple[str, str]]:
    """The requests that change anything on the served Bybit."""
    return [r for r in served.app.requests if r[0] != "GET"]


def held(services: Services) -> D:
    return services.ledger.position(ACCOUNT, "st", BTC).quantity


def api(services: Services) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """GET /api/v1/positions' open position (None when flat) and GET /api/v1/orders."""
    headers = {"Authorization": f"Bearer {DEV_TOKEN}"}
    with TestClient(create_app(services)) as client:
        positions = client.get("/api/v1/positions", headers=headers, params={"status": "open"})
        orders = client.get("/api/v1/orders", headers=headers, params={"limit": 100})
    assert positions.status_code == 200, positions.text
    assert orders.status_code == 200, orders.text
    items = positions.json()["items"]
    assert len(items) <= 1
    return (items[0] if items else None), {o["client_order_id"]: o for o in orders.json()["items"]}


# Bybit's triggerDirection (1 rise, 2 fall) by the exit's side and kind
DIRECTION = {("sell", SL): 2, ("sell", TP): 1, ("buy", SL): 1, ("buy", TP): 2}


def assert_exits_rest_on_bybit(services: Services, quantity: D) -> dict[ExitKind, OrderRecord]:
    """Both exits rest on the exchange as Bybit conditional orders, sized to the whole
    position (`quantity`, signed) and reduce-only, and every view of them agrees: the state
    store, the gateway's open orders, the wire, the API, and reconciliation."""
    size, side = abs(quantity), "sell" if quantity > 0 else "buy"
    exits = working_exits(services)
    assert set(exits) == {SL, TP}
    assert {k: (r.status, r.request.quantity) for k, r in exits.items()} == {
        SL: (OrderStatus.OPEN, size),
        TP: (OrderStatus.OPEN, size),
    }
    assert all(r.request.reduce_only for r in exits.values())
    triggers = {r.client_order_id: r.request.trigger_price for r in exits.values()}
    assert {  # the gateway: what reconciliation and the watcher read
        o.client_order_id: o.trigger_price
        for o in gateway(services).open_orders()
        if o.trigger_price is not None
    } == triggers
    wire = on_bybit(services)
    assert set(wire) == set(triggers)
    for record in exits.values():
        order = wire[record.client_order_id]
        assert order["id"] == record.exchange_order_id
        assert (D(str(order["amount"])), order["reduceOnly"], order["side"]) == (
            size,
            True,
            side,
        )
        kind = record.request.exit_kind
        assert kind is not None
        assert (order["info"]["orderStatus"], order["info"]["triggerDirection"]) == (
            "Untriggered",
            DIRECTION[side, kind],
        )
        unified = "stopLossPrice" if kind is SL else "takeProfitPrice"
        assert D(str(order[unified])) == record.request.trigger_price
    position, orders = api(services)
    assert position is not None
    assert D(position["quantity"]) == quantity
    for field, kind in (("stop_loss", SL), ("take_profit", TP)):
        shown = position[field]
        assert (shown["held"], shown["client_order_id"]) == (
            "exchange",
            exits[kind].client_order_id,
        )
        assert D(shown["trigger_price"]) == exits[kind].request.trigger_price
    for record in exits.values():
        entry = orders[record.client_order_id]
        assert (entry["status"], D(entry["quantity"])) == ("open", size)
        assert entry["exchange_order_id"] == record.exchange_order_id
    report = reconcile_account(services, ACCOUNT)
    drain(services)
    assert (report.drifts, report.unknown_orders, report.lost_orders) == ([], [], [])
    assert report.canceled_stale == []
    # Nothing moved (each follow saves the document again: only its version changes).
    after = {k: r.model_copy(update={"version": 0}) for k, r in working_exits(services).items()}
    assert after == {k: r.model_copy(update={"version": 0}) for k, r in exits.items()}
    return exits


def test_exits_rest_on_bybit_and_the_stop_fires_there(
    live: Services, clock: ManualClock, served: ServedBybit
) -> None:
    services = live
    send(services, "b-1", quantity="0.01", stop_loss_distance="1000", take_profit_price=TARGET)
    position = services.ledger.position(ACCOUNT, "st", BTC)
    assert position.quantity == D("0.01")
    exits = assert_exits_rest_on_bybit(services, D("0.01"))
    market = gateway(services).market(BTC)
    assert exits[SL].request.trigger_price == market.round_price(
        position.average_entry - 1000, exits[SL].request.side
    )
    assert exits[TP].request.trigger_price == D(TARGET)

    # While the exits wait, the watcher's order follow reads Bybit's open orders once a
    # round and looks nothing up.
    ticks = count(step=1000)  # every job is due at every step
    watcher = Watcher(
        services, PolledTickers(services.exchanges, clock), monotonic=lambda: float(next(ticks))
    )
    before = len(served.app.requests)
    watcher.step()
    orders_read = [r for r in served.app.requests[before:] if r[1].startswith("/v5/order/")]
    assert orders_read == [("GET", "/v5/order/realtime")]

    # The feed falls through the stop: Bybit fires it. The watcher's order follow sees
    # the stop leave Bybit's open orders and follows it to its fill; that fill's protect
    # cancels the target.
    clock.set(T0 + timedelta(minutes=5, seconds=30))
    watcher.step()
    drain(services)
    assert (watcher.rounds, watcher.last_error) == (2, "")
    assert held(services) == 0
    assert gateway(services).positions() == []
    assert working_exits(services) == {}
    stop = services.state.get_order(exits[SL].client_order_id)
    take = services.state.get_order(exits[TP].client_order_id)
    assert stop is not None
    assert take is not None
    assert (stop.status, stop.filled) == (OrderStatus.FILLED, D("0.01"))
    assert (take.status, take.filled) == (OrderStatus.CANCELED, D(0))
    assert on_bybit(services) == {}
    assert bybit_history(services) == {
        exits[SL].client_order_id: "Filled",
        exits[TP].client_order_id: "Deactivated",
    }
    sold = [f for f in services.ledger.fills(ACCOUNT) if f.client_order_id == stop.client_order_id]
    assert [(f.side.value, f.quantity, f.price) for f in sold] == [("sell", D("0.01"), D(58000))]
    position_now, orders = api(services)
    assert position_now is None
    assert orders[stop.client_order_id]["status"] == "filled"
    assert orders[take.client_order_id]["status"] == "canceled"

    # Reconciliation finds it clean; every message again, the sweep and the watcher
    # send nothing more to Bybit.
    report = reconcile_account(services, ACCOUNT)
    drain(services)
    assert report.clean, report
    sent = writes(served)
    redeliver_everything(services)
    sweep(services)
    watcher.step()
    drain(services)
    assert writes(served) == sent
    assert held(services) == 0
    assert reconcile_account(services, ACCOUNT).clean


def test_a_second_entry_resizes_the_exits_on_bybit(live: Services, clock: ManualClock) -> None:
    services = live
    send(services, "s-1", quantity="0.01", stop_loss_distance="1000", take_profit_price=TARGET)
    first = assert_exits_rest_on_bybit(services, D("0.01"))

    clock.set(T0 + timedelta(minutes=3, seconds=30))  # up 500: the average entry moves
    send(services, "s-2", quantity="0.02")  # no exits asked: the plan stays
    position = services.ledger.position(ACCOUNT, "st", BTC)
    assert position.quantity == D("0.03")
    second = assert_exits_rest_on_bybit(services, D("0.03"))
    assert {r.client_order_id for r in second.values()}.isdisjoint(
        r.client_order_id for r in first.values()
    )
    market = gateway(services).market(BTC)
    assert second[SL].request.trigger_price == market.round_price(
        position.average_entry - 1000, second[SL].request.side
    )
    assert second[SL].request.trigger_price != first[SL].request.trigger_price
    assert second[TP].request.trigger_price == D(TARGET)
    # The old ones were canceled on the exchange before they could fire.
    assert bybit_history(services) == {r.client_order_id: "Deactivated" for r in first.values()}
    for old in first.values():
        record = services.state.get_order(old.client_order_id)
        assert record is not None
        assert (record.status, record.filled) == (OrderStatus.CANCELED, D(0))

    # The resized stop closes the whole position when it fires.
    clock.set(T0 + timedelta(minutes=5, seconds=30))
    reconcile_account(services, ACCOUNT)
    drain(services)
    assert held(services) == 0
    assert on_bybit(services) == {}
    final = bybit_history(services)
    assert (final[second[SL].client_order_id], final[second[TP].client_order_id]) == (
        "Filled",
        "Deactivated",
    )
    assert reconcile_account(services, ACCOUNT).clean


def test_a_short_is_protected_by_buy_exits_and_its_take_profit_fires(
    live: Services, clock: ManualClock
) -> None:
    services = live
    send(
        services,
        "h-1",
        action="sell",
        quantity="0.01",
        stop_loss_distance="1000",
        take_profit_distance="1500",
    )
    position = services.ledger.position(ACCOUNT, "st", BTC)
    assert position.quantity == D("-0.01")
    exits = assert_exits_rest_on_bybit(services, D("-0.01"))
    market = gateway(services).market(BTC)
    assert {k: r.request.trigger_price for k, r in exits.items()} == {
        SL: market.round_price(position.average_entry + 1000, Side.BUY),
        TP: market.round_price(position.average_entry - 1500, Side.BUY),
    }

    clock.set(T0 + timedelta(minutes=3, seconds=30))  # up 500: short of the stop
    assert reconcile_account(services, ACCOUNT).clean
    drain(services)
    assert working_exits(services).keys() == {SL, TP}
    clock.set(T0 + timedelta(minutes=5, seconds=30))  # down to 58,000: the target fires
    report = reconcile_account(services, ACCOUNT)
    drain(services)
    assert (report.drifts, report.adopted_fills) == ([], 1)
    assert held(services) == 0
    assert gateway(services).positions() == []
    assert bybit_history(services) == {
        exits[TP].client_order_id: "Filled",
        exits[SL].client_order_id: "Deactivated",
    }
    bought = [
        f for f in services.ledger.fills(ACCOUNT) if f.client_order_id == exits[TP].client_order_id
    ]
    assert [(f.side, f.quantity, f.price) for f in bought] == [(Side.BUY, D("0.01"), D(58001))]
    assert reconcile_account(services, ACCOUNT).clean


def test_a_stop_bybit_refuses_as_already_crossed_still_closes_the_position(
    live: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mark falls through the stop between protect's check and Bybit's create: Bybit
    refuses it (110093, expect Falling). The next protect (the sweep's) sees the mark past
    the stop and closes the position at once; the target goes with it."""
    services = live
    bus = services.bus
    assert isinstance(bus, LocalBus)
    publish = bus.publish

    def falling(topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        if topic == "orders" and b'"stop_loss"' in data:
            clock.set(T0 + timedelta(minutes=5, seconds=30))  # the feed falls to 58,000
        publish(topic, data, attributes)

    monkeypatch.setattr(bus, "publish", falling)
    entry = {"quantity": "0.01", "stop_loss_distance": "1000", "take_profit_price": TARGET}
    signal(bus, services, "f-1", account=ACCOUNT, symbol=BTC, **entry)
    monkeypatch.undo()
    assert held(services) == D("0.01")
    [refused] = [r for r in services.state.orders(ACCOUNT) if r.request.exit_kind is SL]
    assert (refused.status, refused.reason, refused.exchange_order_id) == (
        OrderStatus.REJECTED,
        "exchange_rejected",
        None,
    )
    assert "110093" in refused.detail
    assert set(on_bybit(services)) == {working_exits(services)[TP].client_order_id}

    sweep(services)
    drain(services)
    assert held(services) == 0
    assert gateway(services).positions() == []
    assert working_exits(services) == {}
    assert on_bybit(services) == {}
    signals = [json.loads(e.data) for e in bus.messages("signals")]
    [close] = [s["signal_id"] for s in signals if s["source"] == EXIT_SOURCE]
    assert close.startswith("exit-stop_loss-")
    assert reconcile_account(services, ACCOUNT).clean


def test_exits_follow_the_partial_fills_of_a_resting_entry_on_bybit(
    live: Services, clock: ManualClock
) -> None:
    """A limit entry resting on Bybit fills in two parts; reconciliation finds each, and
    after each the exits on Bybit cover what is held (the first pair deactivated)."""
    services = live
    send(services, "pf-1", symbol=ETH, quantity="1", limit_price="2960",
         stop_loss_distance="100", take_profit_price="3100")  # fmt: skip
    assert services.ledger.position(ACCOUNT, "st", ETH).quantity == 0
    assert working_exits(services) == {}  # nothing held: nothing to protect yet
    sizes = []
    for minute in (3, 4):
        clock.set(T0 + timedelta(minutes=minute, seconds=30))
        report = reconcile_account(services, ACCOUNT)
        drain(services)
        assert (report.drifts, report.adopted_fills) == ([], 1)
        exits = working_exits(services)
        assert set(exits) == {SL, TP}
        listed = {
            o.client_order_id: (o.order.status, o.trigger_price)
            for o in gateway(services).open_orders()
            if o.trigger_price is not None
        }
        assert listed == {
            r.client_order_id: (OrderStatus.OPEN, r.request.trigger_price) for r in exits.values()
        }
        wire = on_bybit(services, ETH)
        assert {k: D(str(wire[r.client_order_id]["amount"])) for k, r in exits.items()} == {
            SL: services.ledger.position(ACCOUNT, "st", ETH).quantity,
            TP: services.ledger.position(ACCOUNT, "st", ETH).quantity,
        }
        sizes.append((exits[SL].request.quantity, exits[SL].request.trigger_price))
    assert sizes == [(D("0.4"), D(2860)), (D(1), D(2860))]
    assert len(bybit_history(services, ETH)) == 2  # the first pair, deactivated
    assert set(bybit_history(services, ETH).values()) == {"Deactivated"}
    assert reconcile_account(services, ACCOUNT).clean


def test_a_sweep_before_the_fired_stop_is_followed_opens_nothing(
    live: Services, clock: ManualClock
) -> None:
    """Bybit fired the stop, and the sweep's protect runs before anything followed it
    (the watcher is between rounds, or down). The mark is past the stop, but protect
    asks Bybit first and finds the stop filled: no close of its own, which Bybit, flat
    already, would have taken as a sell opening a short (reduceOnly is only sent where
    the exchange's position covers the close)."""
    services = live
    send(services, "r-1", quantity="0.01", stop_loss_distance="1000", take_profit_price=TARGET)
    exits = working_exits(services)
    clock.set(T0 + timedelta(minutes=5, seconds=30))
    sweep(services)
    drain(services)
    bus = services.bus
    assert isinstance(bus, LocalBus)
    sources = {json.loads(e.data)["source"] for e in bus.messages("signals")}
    assert EXIT_SOURCE not in sources
    fills = [(f.client_order_id, f.side) for f in services.ledger.fills(ACCOUNT)]
    assert fills[1:] == [(exits[SL].client_order_id, Side.SELL)]
    report = reconcile_account(services, ACCOUNT)
    drain(services)
    assert (report.drifts, report.adopted_fills) == ([], 0)  # the sweep found the fill
    assert held(services) == 0
    assert gateway(services).positions() == []
    assert on_bybit(services) == {}
    assert bybit_history(services) == {
        exits[SL].client_order_id: "Filled",
        exits[TP].client_order_id: "Deactivated",
    }
    assert reconcile_account(services, ACCOUNT).clean


def test_an_entry_after_an_unseen_fired_stop_is_protected_not_closed(
    live: Services, clock: ManualClock
) -> None:
    """Bybit fired the stop, unseen yet, and a second entry fills. The ledger, not
    knowing, averages both entries and finds that average's stop crossed; protect asks
    Bybit first and books the old stop's fill instead of closing. In time order the stop
    closed the first position and the entry opened a new one: that one is protected on
    Bybit at its own price, and nothing was sold twice into a short."""
    services = live
    send(services, "u-1", quantity="0.01", stop_loss_distance="1000", take_profit_price=TARGET)
    first = working_exits(services)
    clock.set(T0 + timedelta(minutes=5, seconds=30))
    send(services, "u-2", quantity="0.01")
    position = services.ledger.position(ACCOUNT, "st", BTC)
    assert (position.quantity, position.average_entry) == (D("0.01"), D(58001))
    [on_exchange] = gateway(services).positions()
    assert on_exchange.quantity == D("0.01")
    stop = services.state.get_order(first[SL].client_order_id)
    assert stop is not None
    assert (stop.status, stop.filled) == (OrderStatus.FILLED, D("0.01"))
    bus = services.bus
    assert isinstance(bus, LocalBus)
    assert EXIT_SOURCE not in {json.loads(e.data)["source"] for e in bus.messages("signals")}
    now = assert_exits_rest_on_bybit(services, D("0.01"))
    assert (now[SL].request.trigger_price, now[TP].request.trigger_price) == (D(57001), D(TARGET))
