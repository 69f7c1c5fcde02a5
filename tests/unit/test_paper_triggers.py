"""The paper exchange's conditional orders: they rest untriggered, fire as market orders
when the mark reaches the trigger in their direction, reduce no more than the position
left, cancel, persist in the venue store, and a venue may have none at all."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from ccxt.base.errors import ArgumentsRequired, InvalidOrder, NotSupported

from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.book import decode
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.memory_store import MemoryVenueStore
from tests.unit.test_paper_exchange import BTC, TAKER, at, make_feed

# The feed's BTC mark (mid): 60000.5 at 0:00, 59990.5 at 0:01, 59980.5 at 0:02,
# 59970.5 at 0:03, 59990.5 at 0:04 (a tick without volume), 60100.5 at 0:05.
BIDS = {1: 59990, 2: 59980, 3: 59970, 5: 60100}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(0.5))


@pytest.fixture
def exchange(clock: ManualClock) -> PaperExchange:
    return PaperExchange(make_feed(), clock)


def held(exchange: PaperExchange) -> float:
    """The signed BTC position."""
    found = exchange.fetch_positions([BTC])
    if not found:
        return 0.0
    size: float = found[0]["contracts"]
    return size if found[0]["side"] == "long" else -size


def exit_order(
    exchange: PaperExchange, side: str, kind: str, trigger: float, amount: float = 0.01
) -> dict[str, Any]:
    params = {f"{kind}Price": trigger, "clientOrderId": f"x-{kind}-{side}", "reduceOnly": True}
    return exchange.create_order(BTC, "market", side, amount, None, params)


def test_an_untriggered_stop_loss_rests_open_and_is_found_like_any_order(
    exchange: PaperExchange,
) -> None:
    exchange.create_order(BTC, "market", "buy", 0.01)
    free = exchange.fetch_balance()["USDT"]["free"]
    placed = exit_order(exchange, "sell", "stopLoss", 59985)
    assert (placed["status"], placed["filled"], placed["type"]) == ("open", 0.0, "market")
    assert (placed["triggerPrice"], placed["stopLossPrice"], placed["takeProfitPrice"]) == (
        59985.0,
        59985.0,
        None,
    )
    assert placed["reduceOnly"] is True
    assert [o["id"] for o in exchange.fetch_open_orders(BTC)] == [placed["id"]]
    assert [o["id"] for o in exchange.fetch_open_orders(BTC, params={"trigger": True})] == [
        placed["id"]
    ]
    assert exchange.fetch_order(placed["id"], BTC)["triggerPrice"] == 59985.0
    by_client = exchange.fetch_order("", BTC, {"clientOrderId": "x-stopLoss-sell"})
    assert by_client["id"] == placed["id"]
    assert exchange.fetch_balance()["USDT"]["free"] == free  # reduce-only: no margin
    assert held(exchange) == 0.01


def test_only_conditional_orders_are_listed_with_the_trigger_flag(
    exchange: PaperExchange,
) -> None:
    exchange.create_order(BTC, "limit", "buy", 0.01, 50000)
    assert len(exchange.fetch_open_orders(BTC)) == 1
    assert exchange.fetch_open_orders(BTC, params={"trigger": True}) == []


@pytest.mark.parametrize(
    ("position", "side", "kind", "trigger", "fires_at"),
    [
        ("buy", "sell", "stopLoss", 59985, 2),  # a long's stop: the mark falls to it
        ("buy", "sell", "takeProfit", 60050, 5),  # a long's target: the mark rises to it
        ("sell", "buy", "stopLoss", 60050, 5),  # a short's stop: the mark rises to it
        ("sell", "buy", "takeProfit", 59975, 3),  # a short's target: the mark falls to it
    ],
)
def test_an_exit_fires_when_the_mark_reaches_its_trigger_in_its_direction(
    exchange: PaperExchange,
    clock: ManualClock,
    position: str,
    side: str,
    kind: str,
    trigger: float,
    fires_at: int,
) -> None:
    exchange.create_order(BTC, "market", position, 0.01)
    placed = exit_order(exchange, side, kind, trigger)
    clock.set(at(fires_at - 0.5))
    assert exchange.fetch_order(placed["id"], BTC)["status"] == "open"
    clock.set(at(fires_at + 0.5))
    fired = exchange.fetch_order("", BTC, {"clientOrderId": placed["clientOrderId"]})
    assert (fired["id"], fired["status"], fired["filled"]) == (placed["id"], "closed", 0.01)
    (trade,) = fired["trades"]
    touch = BIDS[fires_at] + (1 if side == "buy" else 0)  # small: no price impact
    assert (trade["takerOrMaker"], trade["price"]) == ("taker", touch)
    assert trade["timestamp"] == int(at(fires_at).timestamp() * 1000)
    assert fired["fee"]["cost"] == pytest.approx(touch * 0.01 * TAKER)
    assert held(exchange) == 0
    assert exchange.fetch_open_orders(BTC) == []


def test_triggering_is_part_of_every_advance(exchange: PaperExchange, clock: ManualClock) -> None:
    exchange.create_order(BTC, "market", "buy", 0.01)
    placed = exit_order(exchange, "sell", "stopLoss", 59985)
    clock.set(at(2.5))
    (trade,) = exchange.advance()
    assert trade["order"] == placed["id"]


def test_nothing_left_to_reduce_cancels_the_exit_when_it_fires(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    exchange.create_order(BTC, "market", "buy", 0.01)
    placed = exit_order(exchange, "sell", "stopLoss", 59985)
    exchange.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    clock.set(at(2.5))
    fired = exchange.fetch_order(placed["id"], BTC)
    assert (fired["status"], fired["filled"], fired["trades"]) == ("canceled", 0.0, [])
    assert held(exchange) == 0  # it did not open a short


def test_an_exit_larger_than_the_position_fills_the_position_and_cancels_the_rest(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    exchange.create_order(BTC, "market", "buy", 0.02)
    placed = exit_order(exchange, "sell", "stopLoss", 59985, amount=0.02)
    exchange.create_order(BTC, "market", "sell", 0.015, None, {"reduceOnly": True})
    clock.set(at(2.5))
    fired = exchange.fetch_order(placed["id"], BTC)
    assert (fired["status"], fired["filled"]) == ("canceled", 0.005)
    assert held(exchange) == 0


def test_a_canceled_exit_never_fires(exchange: PaperExchange, clock: ManualClock) -> None:
    exchange.create_order(BTC, "market", "buy", 0.01)
    placed = exit_order(exchange, "sell", "stopLoss", 59985)
    assert exchange.cancel_order(placed["id"], BTC)["status"] == "canceled"
    clock.set(at(3.5))
    assert exchange.fetch_order(placed["id"], BTC)["trades"] == []
    assert held(exchange) == 0.01
    with pytest.raises(InvalidOrder):  # OrderNotFound: too late to cancel
        exchange.cancel_order(placed["id"], BTC)


def test_a_trigger_the_mark_already_reached_is_refused(exchange: PaperExchange) -> None:
    exchange.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(InvalidOrder, match="expect Falling"):
        exit_order(exchange, "sell", "stopLoss", 60010)  # the mark is 60000.5
    with pytest.raises(InvalidOrder, match="expect Rising"):
        exit_order(exchange, "sell", "takeProfit", 59990)
    assert exchange.fetch_open_orders() == []


def test_plain_trigger_orders_take_a_direction_and_must_reduce_only(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    exchange.create_order(BTC, "market", "buy", 0.01)
    plain = {"triggerPrice": 60050, "reduceOnly": True}
    with pytest.raises(ArgumentsRequired, match="triggerDirection"):
        exchange.create_order(BTC, "market", "sell", 0.01, None, plain)
    with pytest.raises(NotSupported, match="reduce-only"):
        exchange.create_order(BTC, "market", "sell", 0.01, None, {**plain, "reduceOnly": False})
    with pytest.raises(NotSupported, match="market"):
        exchange.create_order(BTC, "limit", "sell", 0.01, 60060, plain)
    placed = exchange.create_order(
        BTC, "market", "sell", 0.01, None, {**plain, "triggerDirection": "above"}
    )
    assert placed["takeProfitPrice"] == 60050.0  # a sell waiting for a rise
    clock.set(at(5.5))
    assert exchange.fetch_order(placed["id"], BTC)["status"] == "closed"


def test_an_exit_survives_a_reload_of_the_venue(clock: ManualClock) -> None:
    store = MemoryVenueStore()
    first = PaperExchange(make_feed(), clock, store=store)
    first.create_order(BTC, "market", "buy", 0.01)
    placed = exit_order(first, "sell", "stopLoss", 59985)
    reloaded = PaperExchange(make_feed(), clock, store=store)
    assert reloaded.fetch_open_orders()[0]["triggerPrice"] == 59985.0
    clock.set(at(2.5))
    assert reloaded.fetch_order(placed["id"], BTC)["status"] == "closed"
    assert first.fetch_order(placed["id"], BTC)["filled"] == 0.01
    assert held(first) == 0


def test_a_venue_without_conditional_orders_refuses_them(clock: ManualClock) -> None:
    exchange = PaperExchange(make_feed(), clock, conditional_orders=False)
    assert not exchange.has["createStopLossOrder"]
    assert not exchange.has["createTakeProfitOrder"]
    exchange.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(NotSupported):
        exit_order(exchange, "sell", "stopLoss", 59985)
    assert exchange.fetch_open_orders() == []
    assert PaperExchange(make_feed(), clock).has["createStopLossOrder"]


def test_attached_stop_loss_is_refused_rather_than_ignored(exchange: PaperExchange) -> None:
    with pytest.raises(NotSupported):
        exchange.create_order(BTC, "market", "buy", 0.01, None, {"stopLoss": 59000})
    assert held(exchange) == 0


def test_trigger_prices_keep_to_the_price_step(exchange: PaperExchange) -> None:
    exchange.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(InvalidOrder, match="multiple"):
        exit_order(exchange, "sell", "stopLoss", 59985.05)
    assert Decimal(str(exit_order(exchange, "sell", "stopLoss", 59985.1)["triggerPrice"])) == (
        Decimal("59985.1")
    )


def test_a_book_stored_before_conditional_orders_still_loads(clock: ManualClock) -> None:
    """Venue stores outlive releases: orders saved without the trigger fields load as
    ordinary orders."""
    store = MemoryVenueStore()
    PaperExchange(make_feed(), clock, store=store).create_order(BTC, "limit", "buy", 0.01, 50000)
    stored = store.load("paper")
    assert stored is not None
    document = json.loads(stored.document)
    for order in document["working"].values():
        for name in ("trigger_price", "trigger_direction", "triggered_at"):
            del order[name]
    [order] = decode(json.dumps(document)).working.values()
    assert (order.trigger_price, order.waiting, order.price) == (None, False, Decimal(50000))
