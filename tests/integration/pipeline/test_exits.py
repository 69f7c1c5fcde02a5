"""Protective exits through the pipeline (docs/exits.md), on SQLite and PostgreSQL.

On a venue that keeps conditional orders the exits rest on the exchange, sized to the
whole strategy position; on one that does not the watcher checks marks and closes the
position once. Most tests pin the venue's kind with small wrappers over the paper
exchange (one that holds each exit until a mark set by the test crosses its trigger, one
without conditional orders); the last two run on the paper exchange's own conditional
orders and on its mode without them, moved by its price feed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal as D
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus import migrations
from stratus.adapters.clock import ManualClock
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.venues import PaperVenues
from stratus.adapters.polled_tickers import PolledTickers
from stratus.adapters.sql.db import make_engine
from stratus.config import Settings
from stratus.domain.common import Side
from stratus.domain.errors import OrderNotFound, OrderRejected, PermanentError
from stratus.domain.exits import EXIT_SOURCE, ExitPlan
from stratus.domain.market import Mark, Marks
from stratus.domain.orders import (
    ExchangeOrder,
    ExitKind,
    Liquidity,
    OrderRecord,
    OrderRequest,
    OrderStatus,
)
from stratus.manager.app import create_app
from stratus.manager.control import Controls
from stratus.manager.store import Store
from stratus.ports import VenueOrder
from stratus.service import exits
from stratus.service.bootstrap import build
from stratus.service.outbox import UNDELIVERED
from stratus.service.reconciliation import follow_orders, reconcile_account
from stratus.service.services import Services
from stratus.service.sweep import sweep
from stratus.service.watcher import Watcher
from stratus.topology import topology
from tests.conftest import fresh_database, open_accounts
from tests.integration.manager.conftest import DEV_TOKEN
from tests.integration.pipeline.test_risk_flow import signal

BTC = "BTC/USDT:USDT"
SL, TP = ExitKind.STOP_LOSS, ExitKind.TAKE_PROFIT


@dataclass
class ConditionalVenue:
    """The paper exchange with the venue's own conditional orders: an exit waits here
    until `mark` crosses its trigger, then goes to the paper exchange as a reduce-only
    market order under the same clientOrderId."""

    inner: ExchangeGateway
    clock: ManualClock
    waiting: dict[str, OrderRequest] = field(default_factory=dict)
    canceled: set[str] = field(default_factory=set)
    placed: list[str] = field(default_factory=list)
    refusing: bool = False  # refuse every conditional order

    conditional_orders = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def place(self, request: OrderRequest) -> ExchangeOrder:
        if request.trigger_price is None:
            return self.inner.place(request)
        if self.refusing:
            raise OrderRejected("trigger_refused", "the exchange refuses this trigger")
        self.placed.append(request.client_order_id)
        self.waiting[request.client_order_id] = request
        return self._resting(request.client_order_id, OrderStatus.OPEN)

    def _resting(self, coid: str, status: OrderStatus) -> ExchangeOrder:
        return ExchangeOrder(
            exchange_order_id=f"cond-{coid}", status=status, filled=D(0), cost=D(0), fee=D(0),
            fee_currency="USDT", liquidity=Liquidity.TAKER, updated_at=self.clock.now(),
        )  # fmt: skip

    def lookup(self, client_order_id: str, symbol: str) -> ExchangeOrder | None:
        if client_order_id in self.canceled:
            return self._resting(client_order_id, OrderStatus.CANCELED)
        if client_order_id in self.waiting:
            return self._resting(client_order_id, OrderStatus.OPEN)
        return self.inner.lookup(client_order_id, symbol)

    def cancel(self, exchange_order_id: str, symbol: str) -> None:
        coid = exchange_order_id.removeprefix("cond-")
        if coid not in self.waiting:
            if exchange_order_id.startswith("cond-"):
                raise OrderNotFound(exchange_order_id)
            self.inner.cancel(exchange_order_id, symbol)
            return
        del self.waiting[coid]
        self.canceled.add(coid)

    def open_orders(self) -> list[VenueOrder]:
        resting = [
            VenueOrder(coid, r.symbol, self.clock.now(), self._resting(coid, OrderStatus.OPEN),
                       r.trigger_price)
            for coid, r in self.waiting.items()
        ]  # fmt: skip
        return [*self.inner.open_orders(), *resting]

    def mark(self, price: D) -> list[str]:
        """The mark reaches `price`: the exits it crosses go to the exchange."""
        fired = [coid for coid, r in self.waiting.items() if r.fires_at(price)]
        for coid in fired:
            request = self.waiting.pop(coid)
            self.inner.place(request.model_copy(update={"exit_kind": None, "trigger_price": None}))
        return fired


@dataclass
class PlainVenue:
    """The paper exchange as a venue without conditional orders (whatever the paper
    exchange itself may keep)."""

    inner: ExchangeGateway

    conditional_orders = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Venues:
    def __init__(self, clock: ManualClock, feed: PriceFeed, conditional: bool) -> None:
        self.paper = PaperVenues(clock, feed)
        self.clock = clock
        self.conditional = conditional
        self.venues: dict[str, ConditionalVenue] = {}

    def for_account(self, account: str) -> Any:
        if not self.conditional:
            return PlainVenue(self.paper.for_account(account))
        if account not in self.venues:
            self.venues[account] = ConditionalVenue(self.paper.for_account(account), self.clock)
        return self.venues[account]

    def accounts(self) -> list[str]:
        return self.paper.accounts()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/stratus.db"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) without a server
    with fresh_database("stratus_exits") as url:
        engine = make_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        yield url


def stack(url: str, clock: ManualClock, feed: PriceFeed, conditional: bool) -> Services:
    services = build(
        Settings(database_url=url),
        clock=clock, exchanges=Venues(clock, feed, conditional), sleep=lambda _s: None,
    )  # fmt: skip
    open_accounts(services, "acct")
    return services


@pytest.fixture
def on_exchange(database_url: str, clock: ManualClock, feed: PriceFeed) -> Services:
    return stack(database_url, clock, feed, conditional=True)


@pytest.fixture
def watched(database_url: str, clock: ManualClock, feed: PriceFeed) -> Services:
    return stack(database_url, clock, feed, conditional=False)


def bus_of(services: Services) -> LocalBus:
    assert isinstance(services.bus, LocalBus)
    return services.bus


def send(services: Services, signal_id: str, **fields: object) -> None:
    signal(bus_of(services), services, signal_id, **fields)


def exit_orders(services: Services, live: bool = True) -> dict[ExitKind, OrderRecord]:
    found = {
        r.request.exit_kind: r
        for r in services.state.orders("acct", live=live)
        if r.request.exit_kind is not None and (not live or not r.status.is_terminal)
    }
    return {kind: record for kind, record in found.items() if kind is not None}


def position(services: Services) -> Any:
    return services.ledger.position("acct", "st", BTC)


def mid(services: Services) -> D:
    return services.exchanges.for_account("acct").quote(BTC).mid


def venue(services: Services) -> ConditionalVenue:
    found = services.exchanges.for_account("acct")
    assert isinstance(found, ConditionalVenue)
    return found


def rounded(services: Services, price: D, side: Any) -> D:
    return services.exchanges.for_account("acct").market(BTC).round_price(price, side)


def redeliver_everything(services: Services) -> None:
    """A copy of every message ever published, delivered again."""
    bus = bus_of(services)
    for topic, envelopes in list(bus.history.items()):
        for envelope in list(envelopes):
            bus.publish(topic, envelope.data, envelope.attributes)
    bus.drain()


def world(services: Services) -> tuple[object, ...]:
    records = sorted((r.client_order_id, r.status, r.filled) for r in services.state.orders())
    held = position(services)
    return (records, held.quantity, held.average_entry, len(services.ledger.fills()))


def test_exits_rest_on_the_exchange_sized_to_the_position_and_follow_it(
    on_exchange: Services,
) -> None:
    services = on_exchange
    far = mid(services) * 2
    send(services, "e-1", quantity="0.1", stop_loss_distance="1000", take_profit_price=str(far))
    held = position(services)
    assert held.quantity == D("0.1")
    first = exit_orders(services)
    assert {k: (r.status, r.request.quantity) for k, r in first.items()} == {
        SL: (OrderStatus.OPEN, D("0.1")),
        TP: (OrderStatus.OPEN, D("0.1")),
    }
    # Distance: from the average entry, on the market's price step.
    expected_stop = rounded(services, held.average_entry - 1000, first[SL].request.side)
    assert first[SL].request.trigger_price == expected_stop
    assert first[TP].request.trigger_price == rounded(services, far, first[TP].request.side)
    assert all(r.request.reduce_only and r.request.signal_id == "e-1" for r in first.values())

    # A second entry without exits keeps the plan; the exits grow to the whole position.
    send(services, "e-2", quantity="0.2")
    held = position(services)
    assert held.quantity == D("0.3")
    second = exit_orders(services)
    assert {k: r.request.quantity for k, r in second.items()} == {SL: D("0.3"), TP: D("0.3")}
    assert second[SL].request.trigger_price == rounded(
        services, held.average_entry - 1000, second[SL].request.side
    )
    for old in first.values():
        final = services.state.get_order(old.client_order_id)
        assert final is not None
        assert final.status is OrderStatus.CANCELED
    # Reconciliation follows working exits like any order: nothing drifts, nothing moves.
    assert reconcile_account(services, "acct").drifts == []
    bus_of(services).drain()
    ids = {kind: (r.client_order_id, r.status) for kind, r in second.items()}
    assert {kind: (r.client_order_id, r.status) for kind, r in exit_orders(services).items()} == ids

    # The stop fires on the exchange: the position closes, the take profit is canceled.
    trigger = second[SL].request.trigger_price
    assert trigger is not None
    assert venue(services).mark(trigger) == [second[SL].client_order_id]
    follow_orders(services, "acct")
    bus_of(services).drain()
    assert position(services).quantity == 0
    assert exit_orders(services) == {}
    stop = services.state.get_order(second[SL].client_order_id)
    take = services.state.get_order(second[TP].client_order_id)
    assert stop is not None
    assert take is not None
    assert (stop.status, stop.filled) == (OrderStatus.FILLED, D("0.3"))
    assert take.status is OrderStatus.CANCELED
    assert venue(services).waiting == {}

    # Every message again changes nothing; the sweep and reconcile find nothing to do.
    before, placed = world(services), list(venue(services).placed)
    redeliver_everything(services)
    sweep(services)
    report = reconcile_account(services, "acct")
    bus_of(services).drain()
    assert world(services) == before
    assert venue(services).placed == placed
    assert report.drifts == []


def test_a_later_signal_with_exits_replaces_them_and_a_new_position_without_drops_them(
    on_exchange: Services,
) -> None:
    services = on_exchange
    low = mid(services) / 2
    send(services, "r-1", quantity="0.1", stop_loss_price=str(low))
    send(services, "r-2", quantity="0.1", stop_loss_price=str(low - 100))
    [stop] = exit_orders(services).values()
    assert (stop.request.quantity, stop.request.signal_id) == (D("0.2"), "r-2")
    assert stop.request.trigger_price == rounded(services, low - 100, stop.request.side)
    send(services, "r-3", action="close")
    assert position(services).quantity == 0
    assert exit_orders(services) == {}
    send(services, "r-4", quantity="0.1")  # a new position, no exits asked
    cleared = services.state.exit_plan("acct", "st", BTC)
    assert cleared is not None
    assert (cleared.has_exits, cleared.signal_id) == (False, "r-4")
    assert exit_orders(services) == {}


def test_a_lost_protect_is_finished_by_the_sweep(
    on_exchange: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = on_exchange

    def down(*_args: object) -> None:
        raise PermanentError("down", "the control function is down")

    with monkeypatch.context() as patched:
        patched.setattr("stratus.service.handlers.control.protect", down)
        send(services, "l-1", quantity="0.1", stop_loss_distance="1000")
    assert position(services).quantity == D("0.1")
    assert exit_orders(services) == {}  # its protect went to the dead-letter topic
    sweep(services)
    bus_of(services).drain()
    [stop] = exit_orders(services).values()
    assert (stop.status, stop.request.quantity) == (OrderStatus.OPEN, D("0.1"))
    sweep(services)  # again: nothing more
    bus_of(services).drain()
    assert len(venue(services).placed) == 1


def test_an_exit_the_exchange_refuses_is_tried_a_bounded_number_of_times(
    on_exchange: Services,
) -> None:
    services = on_exchange
    venue(services).refusing = True
    send(services, "t-1", quantity="0.1", stop_loss_distance="1000")
    for _ in range(8):  # the sweep asks again every minute
        sweep(services)
        bus_of(services).drain()
    tried = [r for r in services.state.orders("acct") if r.request.exit_kind is not None]
    assert len(tried) == exits.SUCCESSORS
    assert {(r.status, r.reason) for r in tried} == {(OrderStatus.REJECTED, "trigger_refused")}
    base = min((r.request.request_id for r in tried), key=len)
    assert {r.request.request_id for r in tried} == {base} | {
        f"{base}-{n}" for n in range(2, exits.SUCCESSORS + 1)
    }
    venue(services).refusing = False
    send(services, "t-2", quantity="0.1")  # a new position state: asked afresh
    [stop] = exit_orders(services).values()
    assert (stop.status, stop.request.quantity) == (OrderStatus.OPEN, D("0.2"))


def test_a_venue_without_conditional_orders_never_gets_an_exit(watched: Services) -> None:
    services = watched
    send(services, "w-0", quantity="0.1", stop_loss_distance="1000")
    assert position(services).quantity == D("0.1")
    assert [r for r in services.state.orders() if r.request.exit_kind is not None] == []
    exit_request = OrderRequest.model_validate(
        {"request_id": "w-x-0", "signal_id": "w-x", "leg": 0, "account": "acct",
         "strategy": "st", "symbol": BTC, "side": "sell", "order_type": "market",
         "quantity": "0.1", "reduce_only": True, "exit_kind": "stop_loss",
         "trigger_price": "1", "created_at": services.clock.now()}
    )  # fmt: skip
    exits.place_exit(services, exit_request)  # as if a conditional venue were swapped out
    bus_of(services).drain()
    record = services.state.get_order(exit_request.client_order_id)
    assert record is not None
    assert (record.status, record.reason) == (
        OrderStatus.REJECTED,
        "conditional_orders_unsupported",
    )
    assert position(services).quantity == D("0.1")


class SetMarks:
    """Tickers whose marks the test sets."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.price: D | None = None

    def follow(self, symbols: object) -> None:
        pass

    def marks(self) -> list[Marks]:
        if self.price is None:
            return []
        return [
            Marks(exchange="paper", marks=[Mark(symbol=BTC, price=self.price, at=self.clock.now())])
        ]

    def close(self) -> None:
        pass


def watcher_of(services: Services, clock: ManualClock) -> tuple[Watcher, SetMarks]:
    ticks = count(step=1000)  # every job is due at every step
    tickers = SetMarks(clock)
    return Watcher(services, tickers, monotonic=lambda: float(next(ticks))), tickers


def exit_signals(services: Services) -> list[str]:
    found = [json.loads(e.data) for e in bus_of(services).messages("signals")]
    return [s["signal_id"] for s in found if s["source"] == EXIT_SOURCE]


def test_watched_exits_close_the_position_once_however_many_marks_cross(
    watched: Services, clock: ManualClock
) -> None:
    services = watched
    now = mid(services)
    send(
        services, "m-1", quantity="0.1", stop_loss_price=str(now - 500), take_profit_distance="500"
    )
    held = position(services)
    assert held.quantity == D("0.1")
    watcher, tickers = watcher_of(services, clock)
    tickers.price = now  # between the triggers: nothing
    watcher.step()
    bus_of(services).drain()
    assert exit_signals(services) == []
    assert position(services).quantity == D("0.1")
    tickers.price = held.average_entry + 600  # past the take profit, for several rounds
    for _ in range(3):
        watcher.step()
    [sent] = exit_signals(services)
    assert sent.startswith("exit-take_profit-")
    bus_of(services).drain()
    assert position(services).quantity == 0
    # Another watcher (a restart) sees the same crossing: the same signal id, no new close.
    again, its_tickers = watcher_of(services, clock)
    its_tickers.price = tickers.price
    before = world(services)
    redeliver_everything(services)
    again.step()
    bus_of(services).drain()
    assert world(services) == before
    assert set(exit_signals(services)) == {sent}


def test_a_trigger_already_crossed_when_the_entry_fills_exits_at_once(
    watched: Services,
) -> None:
    services = watched
    above = mid(services) * 2  # a long's stop above the market has been crossed already
    send(services, "x-1", quantity="0.1", stop_loss_price=str(above))
    assert position(services).quantity == 0
    [sent] = exit_signals(services)
    assert sent.startswith("exit-stop_loss-")
    fills = services.ledger.fills("acct")
    assert [f.side.value for f in fills] == ["buy", "sell"]


def test_the_exits_of_a_closed_position_do_not_protect_the_next_one(
    watched: Services, clock: ManualClock
) -> None:
    services = watched
    send(services, "n-1", quantity="0.1", take_profit_distance="500")
    send(services, "n-2", action="close")
    send(services, "n-3", quantity="0.1")  # opens anew without exits: the plan goes
    watcher, tickers = watcher_of(services, clock)
    tickers.price = position(services).average_entry + 10_000
    watcher.step()
    bus_of(services).drain()
    assert exit_signals(services) == []
    assert position(services).quantity == D("0.1")


def shown(services: Services) -> tuple[dict[str, Any], str]:
    """The strategy position as GET /api/v1/positions answers, and the console's page."""
    with TestClient(create_app(services)) as client:
        headers = {"Authorization": f"Bearer {DEV_TOKEN}"}
        body = client.get("/api/v1/positions", headers=headers, params={"status": "open"})
        page = client.get("/console/positions", headers=headers)
    assert body.status_code == 200, body.text
    assert page.status_code == 200, page.text
    [item] = body.json()["items"]
    return item, page.text


@pytest.mark.parametrize("conditional", [True, False], ids=["exchange", "watched"])
def test_positions_show_their_exits_and_how_they_are_held(
    database_url: str, clock: ManualClock, feed: PriceFeed, conditional: bool
) -> None:
    services = stack(database_url, clock, feed, conditional)
    far = (mid(services) * 2).quantize(D(1))
    send(services, "v-1", quantity="0.1", stop_loss_distance="1000", take_profit_price=str(far))
    item, page = shown(services)
    held = "exchange" if conditional else "watched"
    entry = position(services).average_entry
    assert item["stop_loss"]["held"] == held
    assert item["stop_loss"]["asked"] == "entry - 1000"
    assert D(item["stop_loss"]["trigger_price"]) == pytest.approx(entry - 1000, abs=D(1))
    assert (item["take_profit"]["asked"], D(item["take_profit"]["trigger_price"])) == (
        str(far),
        far,
    )
    assert (item["stop_loss"]["client_order_id"] is not None) is conditional
    assert "asked: entry - 1000" in page
    assert held in page
    send(services, "v-2", action="close")
    with TestClient(create_app(services)) as client:
        headers = {"Authorization": f"Bearer {DEV_TOKEN}"}
        closed = client.get("/api/v1/positions", headers=headers, params={"status": "closed"})
    [item] = closed.json()["items"]
    assert (item["stop_loss"], item["take_profit"]) == (None, None)


def test_a_kept_positions_page_never_hides_a_changed_exit(
    database_url: str, clock: ManualClock, feed: PriceFeed
) -> None:
    """PostgreSQL's kept page is keyed on what was read of the exits too: a plan that
    changes while the position does not is shown at once."""
    services = stack(database_url, clock, feed, conditional=False)
    send(services, "k-1", quantity="0.1", stop_loss_distance="1000")
    headers = {"Authorization": f"Bearer {DEV_TOKEN}"}
    params = {"status": "open"}
    with TestClient(create_app(services)) as client:
        first = client.get("/api/v1/positions", headers=headers, params=params).json()
        again = client.get("/api/v1/positions", headers=headers, params=params).json()
        plan = services.state.exit_plan("acct", "st", BTC)
        assert plan is not None
        services.state.save_exit_plan(plan.model_copy(update={"stop_loss_distance": D(2000)}))
        changed = client.get("/api/v1/positions", headers=headers, params=params).json()
    assert first == again
    assert first["items"][0]["stop_loss"]["asked"] == "entry - 1000"
    assert changed["items"][0]["stop_loss"]["asked"] == "entry - 2000"


def test_an_exit_whose_order_message_was_lost_is_placed_by_a_successor(
    on_exchange: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, bus = on_exchange, bus_of(on_exchange)
    publish = bus.publish
    lost: list[bytes] = []

    def losing(topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        if topic == "orders" and b"stop_loss" in data and not lost:
            lost.append(data)  # the exit's intent is saved, its message never arrives
            return
        publish(topic, data, attributes)

    monkeypatch.setattr(bus, "publish", losing)
    send(services, "o-1", quantity="0.1", stop_loss_distance="1000")
    [pending] = exit_orders(services).values()
    assert (pending.status, len(lost)) == (OrderStatus.PENDING, 1)
    clock.advance(topology().retry.delivery_window + timedelta(minutes=1))
    sweep(services)  # closes it undelivered, then protects the position again
    bus.drain()
    gone = services.state.get_order(pending.client_order_id)
    assert gone is not None
    assert (gone.status, gone.reason) == (OrderStatus.CANCELED, UNDELIVERED)
    [stop] = exit_orders(services).values()
    assert stop.status is OrderStatus.OPEN
    assert stop.request.request_id == pending.request.request_id + "-2"
    sweep(services)
    bus.drain()
    assert exit_orders(services) == {SL: services.state.get_order(stop.client_order_id)}
    assert venue(services).placed == [stop.client_order_id]


ETH = "ETH/USDT:USDT"


def test_on_the_paper_exchanges_own_conditional_orders_the_feed_fires_the_stop(
    database_url: str, clock: ManualClock, feed: PriceFeed
) -> None:
    """The combined path: the paper exchange keeps the exits itself and fires the stop
    when its feed falls to it; the position closes and the take profit is canceled."""
    services = build(
        Settings(database_url=database_url),
        clock=clock, exchanges=PaperVenues(clock, feed), sleep=lambda _s: None,
    )  # fmt: skip
    open_accounts(services, "acct")
    paper = services.exchanges.for_account("acct")
    assert paper.conditional_orders
    clock.advance(timedelta(minutes=2))  # from here the shipped feed dips within 45 minutes
    now = clock.now()
    low = min(t.bid for t in feed.ticks(ETH, now, now + timedelta(minutes=45)))
    here = paper.quote(ETH).mid
    assert low < here, "the feed must dip within the window"
    stop = ((here + low) / 2).quantize(D("0.01"))
    send(services, "p-1", symbol=ETH, quantity="1", stop_loss_price=str(stop),
         take_profit_distance="1000")  # fmt: skip
    held = services.ledger.position("acct", "st", ETH)
    assert held.quantity == D(1)
    working = {r.request.exit_kind: r for r in services.state.orders("acct", live=True)}
    assert set(working) == {SL, TP}
    listed = {o.client_order_id: o.trigger_price for o in paper.open_orders()}
    assert listed == {r.client_order_id: r.request.trigger_price for r in working.values()}
    for _ in range(45):
        clock.advance(timedelta(minutes=1))
        follow_orders(services, "acct")  # as the watcher and reconcile do
        bus_of(services).drain()
        if services.ledger.position("acct", "st", ETH).quantity == 0:
            break
    assert services.ledger.position("acct", "st", ETH).quantity == 0
    final = {
        r.request.exit_kind: r.status for r in services.state.orders("acct") if r.request.exit_kind
    }
    assert final == {SL: OrderStatus.FILLED, TP: OrderStatus.CANCELED}
    assert paper.open_orders() == []
    before = world(services)
    redeliver_everything(services)
    assert reconcile_account(services, "acct").drifts == []
    assert world(services) == before


def test_on_paper_venues_without_conditional_orders_the_watcher_fires_the_stop_once(
    database_url: str, clock: ManualClock, feed: PriceFeed
) -> None:
    """The combined path the other way: nothing rests on the paper exchange; the
    watcher's marks, from the feed, cross the stop and the position closes once."""
    venues = PaperVenues(clock, feed, conditional_orders=False)
    services = build(
        Settings(database_url=database_url), clock=clock, exchanges=venues, sleep=lambda _s: None
    )
    open_accounts(services, "acct")
    paper = services.exchanges.for_account("acct")
    assert not paper.conditional_orders
    clock.advance(timedelta(minutes=2))
    now = clock.now()
    low = min(t.bid for t in feed.ticks(ETH, now, now + timedelta(minutes=45)))
    here = paper.quote(ETH).mid
    stop = ((here + low) / 2).quantize(D("0.01"))
    send(services, "q-1", symbol=ETH, quantity="1", stop_loss_price=str(stop))
    assert services.ledger.position("acct", "st", ETH).quantity == D(1)
    assert [r for r in services.state.orders("acct") if r.request.exit_kind] == []
    ticks = count(step=1000)
    watcher = Watcher(
        services, PolledTickers(services.exchanges, clock), monotonic=lambda: float(next(ticks))
    )
    for _ in range(45):
        clock.advance(timedelta(minutes=1))
        watcher.step()
        watcher.step()  # a second round on the same marks sends nothing more
        bus_of(services).drain()
    assert services.ledger.position("acct", "st", ETH).quantity == 0
    [sent] = exit_signals(services)
    assert sent.startswith("exit-stop_loss-")


def test_flatten_closes_a_protected_position_and_its_exits_go_with_it(
    on_exchange: Services,
) -> None:
    services = on_exchange
    send(services, "f-1", quantity="0.1", stop_loss_distance="1000", take_profit_distance="1000")
    assert set(exit_orders(services)) == {SL, TP}
    controls = Controls(services, Store.of(services))
    first = controls.flatten("acct", "tester")
    assert (first.canceling, first.waiting) == ([], [])  # the exits stand: they only reduce
    assert [c.signal_id for c in first.closing] != []
    bus_of(services).drain()
    assert position(services).quantity == 0
    assert exit_orders(services) == {}  # the close's fill made it flat: its protect canceled
    assert controls.flatten("acct", "tester").done


def test_exits_follow_the_partial_fills_of_an_entry(on_exchange: Services) -> None:
    """An entry filling in parts (as a resting limit order does): after each part the
    exits cover what is held, and a copy of a part changes nothing."""
    services, bus = on_exchange, bus_of(on_exchange)
    now = services.clock.now()
    plan = ExitPlan(account="acct", strategy="st", symbol=BTC, direction=Side.BUY,
                    stop_loss_distance=D(1000), signal_id="pf-1", set_at=now)  # fmt: skip
    services.state.save_exit_plan(plan)
    sizes = []
    for part, quantity in enumerate(["0.04", "0.06"], start=1):
        fill = {
            "fill_id": f"pf-1-{part}", "client_order_id": "stx-pf", "exchange_order_id": "e-pf",
            "request_id": "pf-1-0", "account": "acct", "strategy": "st", "symbol": BTC,
            "side": "buy", "quantity": quantity, "price": "60000", "fee": "0",
            "fee_currency": "USDT", "liquidity": "maker", "executed_at": now.isoformat(),
        }  # fmt: skip
        for _copy in range(2):
            bus.publish("executions", json.dumps(fill).encode(), {})
        bus.drain()
        [stop] = exit_orders(services).values()
        sizes.append((stop.request.quantity, stop.request.trigger_price))
    assert sizes == [(D("0.04"), D(59000)), (D("0.1"), D(59000))]
    assert len(venue(services).placed) == 2
    assert len(venue(services).waiting) == 1
