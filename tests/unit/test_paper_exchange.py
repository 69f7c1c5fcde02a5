"""The paper exchange: fills, fees, slippage, resting orders, errors, balances, positions."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ccxt.base.errors import (
    BadSymbol,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)

import stratus
from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.feed import PriceFeed, Quote
from stratus.ports import Exchange

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
TAKER, MAKER = 0.00055, 0.0002

# minute -> (bid, ask, volume) for BTC: falls for four minutes, then recovers
BTC_TICKS = {
    0: ("60000.0", "60001.0", "2"),
    1: ("59990.0", "59991.0", "2"),
    2: ("59980.0", "59981.0", "1.5"),
    3: ("59970.0", "59971.0", "2"),
    4: ("59990.0", "59991.0", "0"),
    5: ("60100.0", "60101.0", "3"),
}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def make_feed(ticks: dict[int, tuple[str, str, str]] = BTC_TICKS) -> PriceFeed:
    quotes = [
        Quote(BTC, at(m), Decimal(bid), Decimal(ask), Decimal(bid), Decimal(volume))
        for m, (bid, ask, volume) in ticks.items()
    ]
    quotes.append(Quote(ETH, at(0), Decimal(100), Decimal("100.1"), Decimal(100), Decimal(50)))
    return PriceFeed(quotes)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(0.5))


@pytest.fixture
def exchange(clock: ManualClock) -> PaperExchange:
    return PaperExchange(make_feed(), clock)


def usdt(exchange: PaperExchange) -> dict[str, float]:
    balance: dict[str, float] = exchange.fetch_balance()["USDT"]
    return balance


def position(exchange: PaperExchange, symbol: str = BTC) -> dict[str, Any]:
    (found,) = exchange.fetch_positions([symbol])
    return found


# --- markets and tickers ----------------------------------------------------------------


def test_markets_are_ccxt_shaped_linear_perpetuals(exchange: PaperExchange) -> None:
    markets = exchange.load_markets()
    assert set(markets) == {BTC, ETH}  # the feed's symbols that the venue lists
    btc = markets[BTC]
    assert btc["id"] == "BTCUSDT"
    assert (btc["base"], btc["quote"], btc["settle"], btc["type"]) == (
        "BTC",
        "USDT",
        "USDT",
        "swap",
    )
    assert btc["swap"]
    assert btc["linear"]
    assert btc["contract"]
    assert btc["active"]
    assert not btc["spot"]
    assert btc["contractSize"] == 1
    assert btc["precision"] == {"amount": 0.001, "price": 0.1}
    assert btc["limits"]["amount"]["min"] == 0.001
    assert btc["limits"]["cost"]["min"] == 5
    assert (btc["maker"], btc["taker"]) == (MAKER, TAKER)
    assert exchange.load_markets() is markets
    assert exchange.load_markets(reload=True) is not markets


def test_ticker_shows_the_latest_tick(exchange: PaperExchange, clock: ManualClock) -> None:
    clock.set(at(1.2))
    ticker = exchange.fetch_ticker(BTC)
    assert (ticker["bid"], ticker["ask"], ticker["last"]) == (59990.0, 59991.0, 59990.0)
    assert ticker["baseVolume"] == 2.0
    assert ticker["timestamp"] == int(at(1).timestamp() * 1000)
    assert ticker["datetime"] == "2026-01-05T00:01:00.000Z"


def test_before_the_feed_starts_there_is_no_price() -> None:
    exchange = PaperExchange(make_feed(), ManualClock(at(-1)))
    with pytest.raises(ExchangeError, match="no price"):
        exchange.fetch_ticker(BTC)


# --- market orders ----------------------------------------------------------------------


def test_market_buy_fills_at_the_ask_with_taker_fee(exchange: PaperExchange) -> None:
    order = exchange.create_order(BTC, "market", "buy", 0.01)
    assert order["id"] == "paper-000001"
    assert (order["status"], order["filled"], order["remaining"]) == ("closed", 0.01, 0.0)
    assert order["average"] == 60001.0
    assert order["fee"] == {"cost": pytest.approx(60001.0 * 0.01 * TAKER), "currency": "USDT"}
    (trade,) = order["trades"]
    assert trade["id"] == "paper-t-000001"
    assert trade["order"] == "paper-000001"
    assert (trade["takerOrMaker"], trade["price"], trade["amount"]) == ("taker", 60001.0, 0.01)
    assert trade["timestamp"] == order["timestamp"] == int(at(0.5).timestamp() * 1000)


def test_market_sell_fills_at_the_bid(exchange: PaperExchange) -> None:
    order = exchange.create_order(BTC, "market", "sell", 0.01)
    assert order["average"] == 60000.0
    assert order["trades"][0]["takerOrMaker"] == "taker"


@pytest.mark.parametrize(
    ("amount", "price"),
    [
        (0.1, 60001.0),  # impact 0.5 * 0.1 / 2 = 0.025 rounds to no tick at all
        (0.4, 60001.1),  # 0.1
        (2.0, 60001.5),  # 0.5: a tick's whole volume costs half the spread
        (8.0, 60003.0),  # 2.0
    ],
)
def test_slippage_grows_with_size_relative_to_tick_volume(
    clock: ManualClock, amount: float, price: float
) -> None:
    exchange = PaperExchange(make_feed(), clock, {"USDT": Decimal(10**6)})
    assert exchange.create_order(BTC, "market", "buy", amount)["average"] == price


def test_slippage_is_capped_at_one_percent(clock: ManualClock) -> None:
    clock.set(at(4))  # a tick with no volume at all
    exchange = PaperExchange(make_feed(), clock)
    order = exchange.create_order(BTC, "market", "sell", 0.01)
    assert order["average"] == pytest.approx(59990.0 - 599.9)


# --- limit orders -----------------------------------------------------------------------


def test_marketable_limit_fills_at_once_as_taker_at_the_better_price(
    exchange: PaperExchange,
) -> None:
    order = exchange.create_order(BTC, "limit", "buy", 0.01, 60050.0)
    assert (order["status"], order["average"], order["price"]) == ("closed", 60001.0, 60050.0)
    assert order["trades"][0]["takerOrMaker"] == "taker"


def test_limit_rests_then_fills_at_its_price_as_maker(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    order = exchange.create_order(BTC, "limit", "buy", 0.5, 59985.0)
    assert (order["status"], order["filled"], order["remaining"]) == ("open", 0.0, 0.5)
    assert [o["id"] for o in exchange.fetch_open_orders(BTC)] == [order["id"]]
    assert usdt(exchange)["used"] == pytest.approx(0.5 * 59985 / 10)

    clock.set(at(1.5))  # ask 59991 has not come down to 59985 yet
    assert exchange.advance() == []
    clock.set(at(2))
    (trade,) = exchange.advance()
    assert (trade["price"], trade["amount"], trade["takerOrMaker"]) == (59985.0, 0.5, "maker")
    assert trade["fee"]["cost"] == pytest.approx(59985 * 0.5 * MAKER)
    assert trade["datetime"] == "2026-01-05T00:02:00.000Z"
    filled = exchange.fetch_order(order["id"])
    assert (filled["status"], filled["filled"], filled["average"]) == ("closed", 0.5, 59985.0)
    assert exchange.fetch_open_orders() == []


def test_a_sell_limit_fills_when_the_bid_rises_to_it(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    order = exchange.create_order(BTC, "limit", "sell", 0.2, 60050.0)
    clock.set(at(10))
    assert exchange.fetch_order(order["id"])["average"] == 60050.0


def test_big_limit_fills_over_several_ticks_up_to_each_ticks_volume(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    order = exchange.create_order(BTC, "limit", "buy", 4.0, 59991.0)
    clock.set(at(1))
    exchange.advance()
    partial = exchange.fetch_order(order["id"])
    assert (partial["status"], partial["filled"], partial["remaining"]) == ("open", 2.0, 2.0)
    clock.set(at(2))
    assert exchange.fetch_order(order["id"])["filled"] == 3.5  # this tick traded 1.5
    clock.set(at(3))
    done = exchange.fetch_order(order["id"])
    assert (done["status"], done["filled"], len(done["trades"])) == ("closed", 4.0, 3)
    assert [t["amount"] for t in done["trades"]] == [2.0, 1.5, 0.5]


def test_older_orders_take_a_ticks_volume_first(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    first = exchange.create_order(BTC, "limit", "buy", 1.5, 59991.0)
    second = exchange.create_order(BTC, "limit", "buy", 1.5, 59995.0)
    clock.set(at(1))
    assert exchange.fetch_order(first["id"])["filled"] == 1.5
    assert exchange.fetch_order(second["id"])["filled"] == 0.5


# --- cancel and lookups -----------------------------------------------------------------


def test_cancel_releases_the_order_and_its_margin(exchange: PaperExchange) -> None:
    order = exchange.create_order(BTC, "limit", "buy", 1.0, 59000.0)
    canceled = exchange.cancel_order(order["id"], BTC)
    assert (canceled["status"], canceled["remaining"]) == ("canceled", 0.0)
    assert exchange.fetch_open_orders() == []
    assert usdt(exchange)["used"] == 0
    with pytest.raises(OrderNotFound):
        exchange.cancel_order(order["id"])


def test_cancel_after_a_partial_fill_keeps_the_filled_part(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    order = exchange.create_order(BTC, "limit", "buy", 3.0, 59991.0)
    clock.set(at(1))
    canceled = exchange.cancel_order(order["id"])
    assert (canceled["status"], canceled["filled"]) == ("canceled", 2.0)
    assert position(exchange)["contracts"] == 2.0


def test_cancelling_a_filled_order_raises_order_not_found(exchange: PaperExchange) -> None:
    order = exchange.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(OrderNotFound, match="closed"):
        exchange.cancel_order(order["id"])


def test_unknown_order_ids_raise_order_not_found(exchange: PaperExchange) -> None:
    order = exchange.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(OrderNotFound):
        exchange.fetch_order("paper-999999")
    with pytest.raises(OrderNotFound):
        exchange.fetch_order(order["id"], ETH)  # exists, but not on that symbol
    with pytest.raises(OrderNotFound):
        exchange.fetch_order("", params={"clientOrderId": "never-sent"})


def test_open_orders_filter_by_symbol_since_and_limit(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    exchange.create_order(BTC, "limit", "buy", 0.1, 59000.0)
    clock.set(at(0.75))
    later = exchange.create_order(BTC, "limit", "buy", 0.1, 59001.0)
    exchange.create_order(ETH, "limit", "buy", 1.0, 90.0)
    assert len(exchange.fetch_open_orders()) == 3
    assert len(exchange.fetch_open_orders(BTC)) == 2
    assert exchange.fetch_open_orders(BTC, since=later["timestamp"]) == [later]
    assert len(exchange.fetch_open_orders(limit=1)) == 1


# --- clientOrderId ----------------------------------------------------------------------


def test_duplicate_client_order_id_raises_invalid_order(exchange: PaperExchange) -> None:
    placed = exchange.create_order(BTC, "limit", "buy", 0.1, 59000.0, {"clientOrderId": "s1-42"})
    assert placed["clientOrderId"] == "s1-42"
    with pytest.raises(InvalidOrder, match="duplicate clientOrderId"):
        exchange.create_order(BTC, "market", "buy", 0.1, None, {"clientOrderId": "s1-42"})
    found = exchange.fetch_order("", params={"clientOrderId": "s1-42"})
    assert found["id"] == placed["id"]
    assert len(exchange.fetch_open_orders()) == 1


def test_a_rejected_order_does_not_use_up_its_client_order_id(exchange: PaperExchange) -> None:
    with pytest.raises(InsufficientFunds):
        exchange.create_order(BTC, "market", "buy", 100.0, None, {"clientOrderId": "c-1"})
    order = exchange.create_order(BTC, "market", "buy", 1.0, None, {"clientOrderId": "c-1"})
    assert order["status"] == "closed"


@pytest.mark.parametrize("client_id", ["has space", "x" * 37, 42])
def test_client_order_ids_follow_bybits_format(exchange: PaperExchange, client_id: Any) -> None:
    with pytest.raises(InvalidOrder, match="invalid clientOrderId"):
        exchange.create_order(BTC, "market", "buy", 0.1, None, {"clientOrderId": client_id})


# --- validation and funds ---------------------------------------------------------------


def test_unknown_symbol_raises_bad_symbol(exchange: PaperExchange) -> None:
    with pytest.raises(BadSymbol):
        exchange.create_order("DOGE/USDT:USDT", "market", "buy", 1.0)
    with pytest.raises(BadSymbol):
        exchange.fetch_ticker("BTC/USDT")  # spot symbol, not the perpetual
    with pytest.raises(BadSymbol):
        exchange.fetch_positions(["DOGE/USDT:USDT"])


@pytest.mark.parametrize(
    ("type_", "amount", "price", "error"),
    [
        ("market", 0.0001, None, "not a multiple of 0.001"),  # the minimum is one step
        ("market", 0.0015, None, "not a multiple of 0.001"),
        ("market", -1.0, None, "positive"),
        ("market", 5000.0, None, "outside"),  # above the maximum amount
        ("limit", 0.1, None, "price must be a positive number"),
        ("limit", 0.1, 59000.05, "not a multiple of 0.1"),
        ("stop", 0.1, 59000.0, "unsupported order"),
    ],
)
def test_invalid_orders_raise_invalid_order(
    exchange: PaperExchange, type_: str, amount: float, price: float | None, error: str
) -> None:
    with pytest.raises(InvalidOrder, match=error):
        exchange.create_order(BTC, type_, "buy", amount, price)


def test_order_cost_below_the_minimum_is_refused(exchange: PaperExchange) -> None:
    with pytest.raises(InvalidOrder, match="cost below minimum"):
        exchange.create_order(ETH, "market", "buy", 0.01)  # about 1 USDT at 100


def test_insufficient_margin_raises_insufficient_funds(clock: ManualClock) -> None:
    exchange = PaperExchange(make_feed(), clock, {"USDT": Decimal(1000)})
    with pytest.raises(InsufficientFunds, match="order needs"):
        exchange.create_order(BTC, "market", "buy", 0.2)  # 1200 USDT of margin at 10x
    assert exchange.create_order(BTC, "market", "buy", 0.1)["status"] == "closed"
    with pytest.raises(InsufficientFunds):  # resting orders reserve margin too
        exchange.create_order(BTC, "limit", "buy", 0.1, 59000.0)
    levered = PaperExchange(make_feed(), clock, {"USDT": Decimal(1000)}, leverage=50)
    assert levered.create_order(BTC, "market", "buy", 0.2)["status"] == "closed"


def test_closing_needs_no_new_margin(clock: ManualClock) -> None:
    exchange = PaperExchange(make_feed(), clock, {"USDT": Decimal(1000)})
    exchange.create_order(BTC, "market", "buy", 0.15)
    assert exchange.create_order(BTC, "market", "sell", 0.15)["status"] == "closed"


# --- reduce-only ------------------------------------------------------------------------


def test_reduce_only_cannot_open_or_grow_a_position(exchange: PaperExchange) -> None:
    reduce = {"reduceOnly": True}
    with pytest.raises(InvalidOrder, match="reduce-only order would increase position"):
        exchange.create_order(BTC, "market", "sell", 0.1, None, reduce)
    exchange.create_order(BTC, "market", "buy", 0.1)
    with pytest.raises(InvalidOrder, match="reduce-only"):
        exchange.create_order(BTC, "market", "buy", 0.1, None, reduce)  # same side
    with pytest.raises(InvalidOrder, match="reduce-only"):
        exchange.create_order(BTC, "market", "sell", 0.2, None, reduce)  # would flip
    closed = exchange.create_order(BTC, "market", "sell", 0.1, None, reduce)
    assert closed["reduceOnly"] is True
    assert exchange.fetch_positions() == []


def test_resting_reduce_only_is_canceled_when_nothing_is_left_to_reduce(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    exchange.create_order(BTC, "market", "buy", 0.1)
    take_profit = exchange.create_order(BTC, "limit", "sell", 0.1, 60050.0, {"reduceOnly": True})
    exchange.create_order(BTC, "market", "sell", 0.1)  # closed by hand meanwhile
    clock.set(at(5))
    assert exchange.fetch_order(take_profit["id"])["status"] == "canceled"
    assert exchange.fetch_positions() == []


# --- balances and positions -------------------------------------------------------------


def test_round_trip_realizes_price_difference_minus_fees(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    start = usdt(exchange)["total"]
    buy = exchange.create_order(BTC, "market", "buy", 0.1)
    held = position(exchange)
    assert (held["side"], held["contracts"], held["entryPrice"]) == ("long", 0.1, 60001.0)
    assert held["markPrice"] == 60000.5
    assert held["unrealizedPnl"] == pytest.approx(-0.05)
    assert usdt(exchange)["used"] == pytest.approx(0.1 * 60001.0 / 10)

    clock.set(at(5))
    sell = exchange.create_order(BTC, "market", "sell", 0.1)
    assert exchange.fetch_positions() == []
    fees = buy["fee"]["cost"] + sell["fee"]["cost"]
    expected = (sell["average"] - buy["average"]) * 0.1 - fees
    balance = usdt(exchange)
    assert balance["total"] - start == pytest.approx(expected)
    assert (balance["used"], balance["free"]) == (0.0, balance["total"])
    assert expected == pytest.approx((60100.0 - 60001.0) * 0.1 - fees)


def test_adding_averages_the_entry_and_flipping_reopens_at_the_fill(
    exchange: PaperExchange, clock: ManualClock
) -> None:
    exchange.create_order(BTC, "market", "buy", 0.1)  # at 60001
    clock.set(at(1))
    exchange.create_order(BTC, "market", "buy", 0.1)  # at 59991
    assert position(exchange)["entryPrice"] == pytest.approx(59996.0)
    total = usdt(exchange)["total"]

    flip = exchange.create_order(BTC, "market", "sell", 0.3)  # 59990 less a tick of impact
    short = position(exchange)
    assert (short["side"], short["contracts"]) == ("short", pytest.approx(0.1))
    assert short["entryPrice"] == flip["average"] == 59989.9
    assert short["notional"] == pytest.approx(5999.05)
    assert short["leverage"] == 10
    realized = (59989.9 - 59996.0) * 0.2 - flip["fee"]["cost"]
    assert usdt(exchange)["total"] - total == pytest.approx(realized)


def test_balance_is_ccxt_shaped_and_other_currencies_pass_through(clock: ManualClock) -> None:
    exchange = PaperExchange(make_feed(), clock, {"USDT": Decimal(500), "BTC": Decimal("0.5")})
    balance = exchange.fetch_balance()
    assert balance["USDT"] == {"free": 500.0, "used": 0.0, "total": 500.0}
    assert balance["BTC"] == {"free": 0.5, "used": 0.0, "total": 0.5}
    assert balance["free"] == {"USDT": 500.0, "BTC": 0.5}
    assert set(balance["total"]) == set(balance["used"]) == {"USDT", "BTC"}
    assert PaperExchange(make_feed(), clock).fetch_balance()["total"] == {"USDT": 100000.0}


# --- the port, determinism and import cost ----------------------------------------------


def test_implements_every_method_of_the_exchange_port(exchange: PaperExchange) -> None:
    assert exchange.id == "paper"
    for name, member in inspect.getmembers(Exchange, inspect.isfunction):
        if name.startswith("_"):
            continue
        ours = getattr(exchange, name)
        expected = list(inspect.signature(member).parameters)[1:]
        assert list(inspect.signature(ours).parameters) == expected, name


def test_the_same_calls_give_the_same_results() -> None:
    def session() -> list[Any]:
        clock = ManualClock(at(0.5))
        exchange = PaperExchange(PriceFeed.default(), clock)
        results: list[Any] = [exchange.create_order(BTC, "market", "buy", 1.0)]
        results.append(exchange.create_order(BTC, "limit", "sell", 1.0, 60400.0))
        clock.set(at(170))
        return [*results, exchange.fetch_open_orders(), exchange.fetch_balance()]

    assert session() == session()


def test_importing_the_paper_exchange_does_not_import_ccxt() -> None:
    code = "import sys, stratus.adapters.paper.exchange; sys.exit('ccxt' in sys.modules)"
    shared = str(Path(stratus.__file__).resolve().parents[1])
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": shared}
    )


def test_calls_from_many_threads_are_serialized(exchange: PaperExchange) -> None:
    def place(n: int) -> str:
        params = {"clientOrderId": f"t-{n}"}
        return str(exchange.create_order(BTC, "limit", "buy", 0.01, 59000.0, params)["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(place, range(64)))
    assert len(set(ids)) == 64
    assert len(exchange.fetch_open_orders()) == 64
    assert usdt(exchange)["used"] == pytest.approx(64 * 0.01 * 59000 / 10)
