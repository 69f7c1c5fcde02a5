"""Protective exits as Bybit's own conditional orders: real ccxt.bybit, through the
ExchangeGateway, against the served paper Bybit v5 on a feed that rises then falls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from stratus.adapters.ccxt_exchange import CcxtExchanges
from stratus.adapters.clock import ManualClock
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.paper.bybit_http import ServedBybit
from stratus.adapters.paper.feed import PriceFeed, Quote
from stratus.domain import errors
from stratus.domain.common import Side
from stratus.domain.orders import ExitKind, OrderRequest, OrderStatus, OrderType
from tests.integration.exchange.conftest import ACCOUNT, order_request

BTC = "BTC/USDT:USDT"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
# minute -> BTC bid (ask one dollar above): flat, up 200 at 0:03, down 400 at 0:04
BIDS = {0: 60000, 1: 60000, 2: 60000, 3: 60200, 4: 59800, 5: 60000}


@pytest.fixture
def feed() -> PriceFeed:
    quotes = [
        Quote(
            BTC, T0 + timedelta(minutes=m), Decimal(bid), Decimal(bid + 1), Decimal(bid), Decimal(5)
        )
        for m, bid in BIDS.items()
    ]
    quotes.append(
        Quote("ETH/USDT:USDT", T0, Decimal(3000), Decimal("3000.1"), Decimal(3000), Decimal(50))
    )
    return PriceFeed(quotes)


def exit_request(name: str, kind: ExitKind, trigger: str, side: Side = Side.SELL) -> OrderRequest:
    return OrderRequest(
        request_id=name,
        signal_id=name,
        leg=0,
        account=ACCOUNT,
        strategy="trend",
        symbol=BTC,
        side=side,
        order_type=OrderType.MARKET,
        quantity=Decimal("0.01"),
        reduce_only=True,
        exit_kind=kind,
        trigger_price=Decimal(trigger),
        created_at=T0,
    )


def test_bybit_has_conditional_orders(exchanges: CcxtExchanges) -> None:
    assert exchanges.for_account(ACCOUNT).conditional_orders


def test_a_stop_loss_and_a_take_profit_rest_fire_and_cancel_on_bybit(
    exchanges: CcxtExchanges, served: ServedBybit, clock: ManualClock
) -> None:
    venue = exchanges.for_account(ACCOUNT)
    venue.place(order_request("entry", "0.01"))
    stop = exit_request("stop", ExitKind.STOP_LOSS, "59900")
    target = exit_request("target", ExitKind.TAKE_PROFIT, "60100")
    for request in (stop, target):
        placed = venue.place(request)
        assert (placed.status, placed.filled) == (OrderStatus.OPEN, Decimal(0))
    working = {o.client_order_id: o for o in venue.open_orders()}
    assert {k: o.trigger_price for k, o in working.items()} == {
        stop.client_order_id: Decimal("59900"),
        target.client_order_id: Decimal("60100"),
    }
    assert all(o.order.status is OrderStatus.OPEN for o in working.values())

    clock.set(T0 + timedelta(minutes=3, seconds=30))  # the mark rose to 60200.5
    fired = venue.lookup(target.client_order_id, BTC)
    assert fired is not None
    assert (fired.status, fired.filled) == (OrderStatus.FILLED, Decimal("0.01"))
    assert fired.exchange_order_id == working[target.client_order_id].order.exchange_order_id
    assert fired.cost == Decimal("602.00")  # sold at the bid, 60200
    assert fired.fee == fired.cost * Decimal("0.00055")
    assert venue.positions() == []
    [resting] = venue.open_orders()
    assert (resting.client_order_id, resting.trigger_price) == (
        stop.client_order_id,
        Decimal("59900"),
    )

    venue.cancel(resting.order.exchange_order_id, BTC)
    canceled = venue.lookup(stop.client_order_id, BTC)
    assert canceled is not None
    assert (canceled.status, canceled.filled) == (OrderStatus.CANCELED, Decimal(0))
    clock.set(T0 + timedelta(minutes=4, seconds=30))  # the mark fell through the stop
    assert venue.positions() == []  # canceled: it never sold into a short
    assert venue.open_orders() == []


def test_ccxt_sends_bybits_conditional_wire(
    exchanges: CcxtExchanges, served: ServedBybit, clock: ManualClock
) -> None:
    """What ccxt.bybit sends and reads: triggerDirection from the side and the kind,
    triggerBy MarkPrice, the Untriggered -> Filled and Deactivated statuses, and the
    orderFilter that lists conditional orders alone."""
    venue = exchanges.for_account(ACCOUNT)
    client = venue.client
    venue.place(order_request("entry", "0.02"))
    resting = order_request("resting", "0.01", limit="50000").client_order_id
    venue.place(order_request("resting", "0.01", limit="50000"))
    stop = exit_request("stop", ExitKind.STOP_LOSS, "59900")
    target = exit_request("target", ExitKind.TAKE_PROFIT, "60100")
    venue.place(stop)
    venue.place(target)
    listed = client.fetch_open_orders(BTC)
    info = {o["clientOrderId"]: o["info"] for o in listed}
    assert {k: (i["orderStatus"], i["triggerDirection"]) for k, i in info.items()} == {
        resting: ("New", 0),
        stop.client_order_id: ("Untriggered", 2),  # a long's stop waits for a fall
        target.client_order_id: ("Untriggered", 1),  # its target for a rise
    }
    assert {i["triggerBy"] for k, i in info.items() if k != resting} == {"MarkPrice"}
    conditional = client.fetch_open_orders(BTC, None, None, {"trigger": True})
    assert sorted(o["clientOrderId"] for o in conditional) == sorted(
        [stop.client_order_id, target.client_order_id]
    )
    by_kind = {o["clientOrderId"]: (o["stopLossPrice"], o["takeProfitPrice"]) for o in conditional}
    assert by_kind[stop.client_order_id] == (59900.0, None)
    assert by_kind[target.client_order_id] == (None, 60100.0)
    plain = client.fetch_open_orders(BTC, None, None, {"orderFilter": "Order"})
    assert [o["clientOrderId"] for o in plain] == [resting]

    clock.set(T0 + timedelta(minutes=3, seconds=30))
    venue.cancel(venue.lookup(stop.client_order_id, BTC).exchange_order_id, BTC)  # type: ignore[union-attr]
    history = client.fetch_canceled_and_closed_orders(BTC, None, None, {"trigger": True})
    statuses = {o["clientOrderId"]: (o["status"], o["info"]["orderStatus"]) for o in history}
    assert statuses == {
        target.client_order_id: ("closed", "Filled"),
        stop.client_order_id: ("canceled", "Deactivated"),
    }
    assert {o["info"]["stopOrderType"] for o in history} == {"Stop"}


def test_a_trigger_the_mark_already_reached_is_rejected(
    exchanges: CcxtExchanges, served: ServedBybit
) -> None:
    venue = exchanges.for_account(ACCOUNT)
    venue.place(order_request("entry", "0.01"))
    with pytest.raises(errors.OrderRejected, match="110093"):
        venue.place(exit_request("late-stop", ExitKind.STOP_LOSS, "60100"))  # mark 60000.5
    assert venue.open_orders() == []


def test_an_exit_with_nothing_to_reduce_is_canceled_when_it_fires(
    exchanges: CcxtExchanges, served: ServedBybit, clock: ManualClock
) -> None:
    venue = exchanges.for_account(ACCOUNT)
    venue.place(order_request("short", "0.01", side=Side.SELL))
    cover = exit_request("cover", ExitKind.TAKE_PROFIT, "59900", side=Side.BUY)
    venue.place(cover)
    venue.place(order_request("flat", "0.01"))  # closed by hand meanwhile
    clock.set(T0 + timedelta(minutes=4, seconds=30))
    seen = venue.lookup(cover.client_order_id, BTC)
    assert seen is not None
    assert (seen.status, seen.filled) == (OrderStatus.CANCELED, Decimal(0))
    assert venue.positions() == []


def test_binance_exits_are_watched_not_placed(binance_exchanges: CcxtExchanges) -> None:
    """ccxt.binance can create them, but through the algo-order API this gateway does
    not follow: Stratus watches marks there."""
    gateway: ExchangeGateway = binance_exchanges.for_account("binance-main")
    assert gateway.client.has["createStopLossOrder"]  # type: ignore[attr-defined]
    assert not gateway.conditional_orders
