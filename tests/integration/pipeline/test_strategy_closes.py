"""Strategy positions are sub-ledgers of one account position on the exchange: every
strategy's close executes, sized to what that strategy will hold once its in-flight
orders finish, and reduceOnly goes to the exchange only when the account shrinks too."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.feed import PriceFeed
from stratus.domain.common import Side
from stratus.domain.orders import OrderStatus
from stratus.domain.risk import TradingState
from stratus.domain.sizing import SizingPolicy
from stratus.service.reconciliation import follow_orders
from stratus.service.services import Services
from tests.integration.pipeline.test_risk_flow import account, rejections, signal

ETH = "ETH/USDT:USDT"
BTC = "BTC/USDT:USDT"
WINDOW = timedelta(minutes=45)

__all__ = ["account"]  # the autouse fixture opening "acct", shared with test_risk_flow


@pytest.fixture(autouse=True)
def _start(clock: ManualClock) -> None:
    """From here the shipped feed both dips and rises within WINDOW (BTC only rises
    from its first tick)."""
    clock.advance(timedelta(minutes=2))


def paper(services: Services) -> PaperExchange:
    gateway = services.exchanges.for_account("acct")
    assert isinstance(gateway, ExchangeGateway)
    assert isinstance(gateway.client, PaperExchange)
    return gateway.client


def exchange_net(services: Services, symbol: str) -> D:
    positions = services.exchanges.for_account("acct").positions()
    return sum((p.quantity for p in positions if p.symbol == symbol), D(0))


def held(services: Services, strategy: str, symbol: str) -> D:
    return services.ledger.position("acct", strategy, symbol).quantity


def sent(services: Services, signal_id: str) -> dict[str, Any]:
    """The exchange's own record of the order placed for a signal's first leg."""
    [record] = [r for r in services.state.orders() if r.request.signal_id == signal_id]
    client = paper(services)
    return client.fetch_order("", record.request.symbol, {"clientOrderId": record.client_order_id})


def quantity_of(services: Services, signal_id: str) -> tuple[Side, D]:
    [record] = [r for r in services.state.orders() if r.request.signal_id == signal_id]
    return record.request.side, record.request.quantity


def resting_price(services: Services, feed: PriceFeed, symbol: str, side: Side) -> D:
    """A limit price that rests now and that the feed crosses within WINDOW: when the
    order fills is then the test's choice, not the random walk's."""
    now = services.clock.now()
    touch = services.exchanges.for_account("acct").quote(symbol)
    ticks = list(feed.ticks(symbol, now, now + WINDOW))
    if side is Side.BUY:
        best = min(t.ask for t in ticks)
        assert best < touch.bid, "the feed must dip within the window"
        return best
    best = max(t.bid for t in ticks)
    assert best > touch.ask, "the feed must rise within the window"
    return best


def settle(services: Services, clock: ManualClock, bus: LocalBus) -> None:
    """Let WINDOW pass and reconciliation follow the working orders to their fills."""
    clock.advance(WINDOW)
    follow_orders(services, "acct")
    bus.drain()


def test_hold_long_and_hedge_short_in_one_account_both_close(
    services: Services, bus: LocalBus
) -> None:
    signal(bus, services, "hh-1", strategy="hold", symbol=ETH, quantity="2")
    signal(bus, services, "hh-2", strategy="hedge", symbol=ETH, action="sell", quantity="3")
    assert exchange_net(services, ETH) == D(-1)

    signal(bus, services, "hh-3", strategy="hold", symbol=ETH, action="close")
    assert held(services, "hold", ETH) == 0
    assert exchange_net(services, ETH) == D(-3) == held(services, "hedge", ETH)
    signal(bus, services, "hh-4", strategy="hedge", symbol=ETH, action="close")

    assert rejections(bus) == []
    assert not bus.messages("order-requests-dead-letter")
    assert held(services, "hold", ETH) == held(services, "hedge", ETH) == 0
    assert services.exchanges.for_account("acct").positions() == []
    # The hold close grew the account's short (-1 -> -3): reduceOnly would be refused.
    assert sent(services, "hh-3")["reduceOnly"] is False
    assert sent(services, "hh-4")["reduceOnly"] is True  # -3 -> 0 shrinks the account


@pytest.mark.parametrize("in_flight", [Side.SELL, Side.BUY])
def test_a_close_is_sized_to_what_will_be_open_once_in_flight_orders_finish(
    services: Services, bus: LocalBus, feed: PriceFeed, clock: ManualClock, in_flight: Side
) -> None:
    signal(bus, services, "f-1", quantity="0.3")
    price = resting_price(services, feed, BTC, in_flight)
    signal(bus, services, "f-2", action=in_flight.value, quantity="0.1", limit_price=str(price))
    working = services.state.orders("acct", live=True)
    assert [r.request.signal_id for r in working] == ["f-2"]

    signal(bus, services, "f-3", action="close")  # while f-2 still works on the exchange

    assert rejections(bus) == []
    will_hold = D("0.3") + D("0.1") * in_flight.sign
    assert quantity_of(services, "f-3") == (Side.SELL, will_hold)
    settle(services, clock, bus)
    [f2] = [r for r in services.state.orders() if r.request.signal_id == "f-2"]
    assert f2.status is OrderStatus.FILLED
    assert held(services, "st", BTC) == 0
    assert services.exchanges.for_account("acct").positions() == []


def test_a_resting_close_survives_other_strategies_trades(
    services: Services, bus: LocalBus, feed: PriceFeed, clock: ManualClock
) -> None:
    """reduceOnly is never put on a limit close: the exchange re-checks it on every fill,
    so another strategy shrinking the account meanwhile would cancel this one's close."""
    signal(bus, services, "r-1", strategy="hold", symbol=ETH, quantity="2")
    price = resting_price(services, feed, ETH, Side.SELL)
    signal(bus, services, "r-2", strategy="hold", symbol=ETH, action="close",
           limit_price=str(price))  # fmt: skip
    assert sent(services, "r-2")["reduceOnly"] is False
    signal(bus, services, "r-3", strategy="hedge", symbol=ETH, action="sell", quantity="3")
    assert exchange_net(services, ETH) == D(-1)

    settle(services, clock, bus)

    assert sent(services, "r-2")["status"] == "closed"
    assert held(services, "hold", ETH) == 0
    assert exchange_net(services, ETH) == D(-3) == held(services, "hedge", ETH)


def test_kill_switch_reducing_lets_every_strategy_wind_down_its_own_position(
    services: Services, bus: LocalBus
) -> None:
    signal(bus, services, "k-1", strategy="hold", symbol=ETH, quantity="2")
    signal(bus, services, "k-2", strategy="hedge", symbol=ETH, action="sell", quantity="3")
    services.state.set_trading_state("account:acct", TradingState.REDUCING, "drawdown")

    signal(bus, services, "k-3", strategy="hold", symbol=ETH, quantity="0.5")  # grows hold
    signal(bus, services, "k-4", strategy="hedge", symbol=ETH, action="sell", quantity="1")
    signal(bus, services, "k-5", strategy="fresh", symbol=ETH, action="buy", quantity="1")
    # A partial exit shrinks hold although the account's short grows (-1 -> -1.5).
    signal(bus, services, "k-6", strategy="hold", symbol=ETH, action="sell", quantity="0.5")
    signal(bus, services, "k-7", strategy="hold", symbol=ETH, action="close")  # -1.5 -> -3
    signal(bus, services, "k-8", strategy="hedge", symbol=ETH, action="close")

    assert rejections(bus) == [
        ("k-3-0", "kill_switch_reducing"),
        ("k-4-0", "kill_switch_reducing"),
        ("k-5-0", "kill_switch_reducing"),
    ]
    assert held(services, "hold", ETH) == held(services, "hedge", ETH) == 0
    assert services.exchanges.for_account("acct").positions() == []


def test_a_close_is_never_refused_by_the_strategys_quota(
    services: Services, bus: LocalBus, feed: PriceFeed, clock: ManualClock
) -> None:
    signal(bus, services, "q-1", quantity="0.2")
    price = resting_price(services, feed, BTC, Side.BUY)
    signal(bus, services, "q-2", quantity="0.1", limit_price=str(price))  # holds the quota
    services.quotas.put("acct", "st", {"max_open_orders": 1})  # type: ignore[attr-defined]
    signal(bus, services, "q-3", quantity="0.1")
    signal(bus, services, "q-4", action="close")
    assert rejections(bus) == [("q-3-0", "quota_max_open_orders")]
    assert quantity_of(services, "q-4") == (Side.SELL, D("0.3"))
    settle(services, clock, bus)
    assert held(services, "st", BTC) == 0
    assert services.quotas.held("acct", "st") == 0  # type: ignore[attr-defined]


def test_a_second_close_racing_the_first_has_nothing_to_close(
    services: Services, bus: LocalBus
) -> None:
    """Both closes are planned before risk saw either: risk, which takes one account's
    requests in order, cuts the second to what is left, here nothing."""
    signal(bus, services, "n-1", quantity="0.2")
    for signal_id in ("n-2", "n-3"):
        record = {
            "signal_id": signal_id, "source": "test", "account": "acct", "strategy": "st",
            "symbol": BTC, "action": "close", "created_at": services.clock.now().isoformat(),
        }  # fmt: skip
        bus.publish("signals", json.dumps(record).encode(), {"trace_id": signal_id})
    bus.drain()
    assert rejections(bus) == [("n-3-0", "nothing_to_close")]
    assert held(services, "st", BTC) == 0
    assert services.exchanges.for_account("acct").positions() == []


def test_a_close_with_cancel_opposite_counts_only_what_survives_the_cancel(
    services: Services, bus: LocalBus, feed: PriceFeed
) -> None:
    services.settings = services.settings.model_copy(
        update={"sizing": SizingPolicy(cancel_opposite=True)}
    )
    signal(bus, services, "c-1", quantity="0.3")
    price = resting_price(services, feed, BTC, Side.BUY)
    signal(bus, services, "c-2", quantity="0.2", limit_price=str(price))
    signal(bus, services, "c-3", action="close")  # cancels c-2, then closes 0.3
    by_signal = {r.request.signal_id: r for r in services.state.orders()}
    assert by_signal["c-2"].status is OrderStatus.CANCELED
    assert quantity_of(services, "c-3") == (Side.SELL, D("0.3"))
    assert held(services, "st", BTC) == 0


def test_closing_a_flat_strategy_plans_nothing(services: Services, bus: LocalBus) -> None:
    signal(bus, services, "z-1", action="close")
    assert bus.messages("order-requests") == []
    assert rejections(bus) == []
    assert not bus.messages("signals-dead-letter")
