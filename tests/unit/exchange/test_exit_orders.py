"""Protective exits below the Venue port on the paper venues: which venues keep them,
how a gateway places them either way, and reconcile following a resting one like any
order (neither unknown, nor stale, nor drift) until it fires."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from stratus.adapters.ccxt_errors import map_error
from stratus.adapters.clock import ManualClock
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.venues import PaperVenues
from stratus.config import Settings
from stratus.domain import errors
from stratus.domain.common import Side
from stratus.domain.orders import ExitKind, OrderRecord, OrderRequest, OrderStatus, OrderType
from stratus.service.bootstrap import build
from stratus.service.reconciliation import reconcile_account
from stratus.service.services import Services

BTC = "BTC/USDT:USDT"
# The packaged feed's BTC mark: 60000 at its start, 60049.6 four minutes in, 60214.3 at
# twelve minutes: a take profit at 60200 waits, then fires.
TARGET = "60200"


def request(
    clock: ManualClock, rid: str, side: Side = Side.BUY, exit_kind: ExitKind | None = None
) -> OrderRequest:
    return OrderRequest(
        request_id=rid,
        signal_id=rid,
        leg=0,
        account="acct",
        strategy="trend",
        symbol=BTC,
        side=side,
        order_type=OrderType.MARKET,
        quantity=Decimal("0.01"),
        reduce_only=exit_kind is not None,
        exit_kind=exit_kind,
        trigger_price=Decimal(TARGET) if exit_kind else None,
        created_at=clock.now(),
    )


@pytest.fixture
def stack(clock: ManualClock, feed: PriceFeed) -> Services:
    """The embedded stack on paper venues whose working orders go stale after a minute."""
    return build(
        Settings(database_url="sqlite://", stale_order_seconds=60),
        clock=clock,
        exchanges=PaperVenues(clock, feed),
        sleep=lambda _seconds: None,
    )


def test_paper_venues_keep_exits_unless_told_they_have_none(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PaperVenues(clock).for_account("a").conditional_orders
    assert not PaperVenues(clock, conditional_orders=False).for_account("a").conditional_orders
    monkeypatch.setenv("STRATUS_PAPER_CONDITIONAL_ORDERS", "false")
    services = build(Settings(database_url="sqlite://"), clock=clock, sleep=lambda _s: None)
    assert not services.exchanges.for_account("a").conditional_orders


def test_an_exit_rests_on_a_venue_with_conditional_orders(clock: ManualClock) -> None:
    venue = PaperVenues(clock).for_account("acct")
    venue.place(request(clock, "entry"))
    placed = venue.place(request(clock, "target", Side.SELL, ExitKind.TAKE_PROFIT))
    assert (placed.status, placed.filled) == (OrderStatus.OPEN, Decimal(0))
    [resting] = venue.open_orders()
    assert resting.trigger_price == Decimal(TARGET)


def test_without_conditional_orders_an_exit_is_placed_as_the_market_order_it_now_is(
    clock: ManualClock,
) -> None:
    """Stratus watched the trigger; once it fired, place sends a reduce-only market order."""
    venue = PaperVenues(clock, conditional_orders=False).for_account("acct")
    venue.place(request(clock, "entry"))
    placed = venue.place(request(clock, "target", Side.SELL, ExitKind.TAKE_PROFIT))
    assert (placed.status, placed.filled) == (OrderStatus.FILLED, Decimal("0.01"))
    assert venue.positions() == []


def test_an_order_the_venue_does_not_support_is_rejected_not_retried() -> None:
    from ccxt.base.errors import ArgumentsRequired, NotSupported

    for error in (NotSupported("no trigger orders"), ArgumentsRequired("triggerDirection")):
        assert isinstance(map_error(error), errors.OrderRejected)


def test_reconcile_follows_a_resting_exit_like_any_order_until_it_fires(
    stack: Services, clock: ManualClock
) -> None:
    venue = stack.exchanges.for_account("acct")
    bus = stack.bus
    assert isinstance(bus, LocalBus)
    entry = request(clock, "entry")
    target = request(clock, "target", Side.SELL, ExitKind.TAKE_PROFIT)
    for req in (entry, target):
        assert stack.state.create_order(OrderRecord.intent(req, clock.now()))
        venue.place(req)
    clock.advance(timedelta(minutes=4))  # past the stale timeout, short of the target
    waiting = reconcile_account(stack, "acct")
    bus.drain()
    assert (waiting.unknown_orders, waiting.canceled_stale, waiting.drifts) == ([], [], [])
    record = stack.state.get_order(target.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.OPEN
    assert [o.trigger_price for o in venue.open_orders()] == [Decimal(TARGET)]

    clock.advance(timedelta(minutes=8))  # the mark reached the target
    fired = reconcile_account(stack, "acct")
    bus.drain()
    assert (fired.adopted_fills, fired.drifts, fired.unknown_orders) == (1, [], [])
    record = stack.state.get_order(target.client_order_id)
    assert record is not None
    assert (record.status, record.filled) == (OrderStatus.FILLED, Decimal("0.01"))
    assert venue.positions() == []
    assert reconcile_account(stack, "acct").clean


class Recorder:
    """A ccxt-like client that records what create_order was given."""

    def __init__(self, id: str, has: dict[str, bool]) -> None:
        self.id = id
        self.has = has
        self.created: list[tuple[str, dict[str, object]]] = []

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, object] | None = None,
    ) -> dict[str, object]:
        self.created.append((type, dict(params or {})))
        return {"id": "1", "status": "open", "filled": 0, "type": type, "timestamp": 1}


@pytest.mark.parametrize(
    ("exit_kind", "key"),
    [(ExitKind.STOP_LOSS, "stopLossPrice"), (ExitKind.TAKE_PROFIT, "takeProfitPrice")],
)
def test_bybit_gets_ccxts_unified_exit_params_triggered_by_the_mark(
    clock: ManualClock, exit_kind: ExitKind, key: str
) -> None:
    both = {"createStopLossOrder": True, "createTakeProfitOrder": True}
    client = Recorder("bybit", both)
    gateway = ExchangeGateway(client)  # type: ignore[arg-type]
    assert gateway.conditional_orders
    gateway.place(request(clock, "x", Side.SELL, exit_kind))
    [(kind, params)] = client.created
    assert (kind, params) == (
        "market",
        {
            "clientOrderId": request(clock, "x", Side.SELL, exit_kind).client_order_id,
            "reduceOnly": True,
            key: float(TARGET),
            "triggerBy": "MarkPrice",
        },
    )
    one_kind = Recorder("bybit", {"createStopLossOrder": True})
    assert not ExchangeGateway(one_kind).conditional_orders  # type: ignore[arg-type]
