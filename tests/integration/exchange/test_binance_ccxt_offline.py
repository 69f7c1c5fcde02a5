"""ccxt.binance's own signing, request building and parsing, against the paper Binance
USDⓈ-M futures server: the order path and its failure modes, offline.

Most orders sent through execute_order carry a limit price above the ask, so they fill
at once as takers; market orders are priced by the book ticker (test_a_quote_has_the_touch).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from stratus.adapters.ccxt_exchange import CcxtExchanges, make_client
from stratus.adapters.clock import ManualClock
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.paper.binance_http import ServedBinance
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.sql.market_cache import SqlMarketCache
from stratus.config import Settings
from stratus.domain import errors
from stratus.domain.common import Side
from stratus.domain.orders import Liquidity, OrderRecord, OrderRequest, OrderStatus
from stratus.ports import ExchangeAccount
from stratus.service.handlers.execution import execute_order
from stratus.service.services import Services
from tests.integration.exchange.conftest import API_KEY, BINANCE_ACCOUNT, SECRET, Directory

BTC = "BTC/USDT:USDT"
ORDER = "/fapi/v1/order"
TRADES = "/fapi/v1/userTrades"
START = Decimal(100000)  # the paper account's USDT


def paper(served: ServedBinance) -> PaperExchange:
    return next(iter(served.app.accounts.values())).venue


def creates(served: ServedBinance) -> int:
    return served.app.requests.count(("POST", ORDER))


def venue_orders(served: ServedBinance) -> list[dict[str, Any]]:
    venue = paper(served)
    return venue.fetch_open_orders() + venue.fetch_canceled_and_closed_orders()


def marketable(served: ServedBinance) -> str:
    """A buy limit 1% above the ask: fills at once, as a taker."""
    ask = Decimal(str(paper(served).fetch_ticker(BTC)["ask"]))
    return str((ask * Decimal("1.01")).quantize(Decimal("0.1")))


def gateway(exchanges: CcxtExchanges) -> ExchangeGateway:
    return exchanges.for_account(BINANCE_ACCOUNT)


def charged(served: ServedBinance, client_order_id: str) -> list[tuple[Decimal, str]]:
    """(fee, taker or maker) of each trade the paper venue recorded for an order."""
    venue = paper(served)
    order_id = venue.fetch_order("", BTC, {"clientOrderId": client_order_id})["id"]
    return [(t.fee, t.taker_or_maker) for t in venue.trades() if t.order_id == order_id]


def signed_get(served: ServedBinance, path: str, secret: str = SECRET, **params: Any) -> Any:
    """A GET signed as ccxt.binance signs it (timestamp last, then the signature)."""
    query = urlencode({**params, "timestamp": time.time_ns() // 1_000_000})
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    target = f"{path}?{query}&signature={signature}"
    return served.app.handle("GET", target, b"", {"x-mbx-apikey": API_KEY})


def test_markets_load_from_the_futures_exchange_info_alone(
    binance_exchanges: CcxtExchanges, binance_served: ServedBinance
) -> None:
    market = gateway(binance_exchanges).market(BTC)
    assert (market.amount_step, market.price_step) == (Decimal("0.001"), Decimal("0.1"))
    assert market.min_cost == Decimal(5)
    assert binance_served.app.requests == [("GET", "/fapi/v1/exchangeInfo")]


def test_a_market_order_is_signed_placed_parsed_and_filled(
    binance_exchanges: CcxtExchanges,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    venue = gateway(binance_exchanges)
    ask = Decimal(str(paper(binance_served).fetch_ticker(BTC)["ask"]))
    placed = venue.place(make_binance_request("r-1", "0.01"))
    assert placed.status is OrderStatus.FILLED
    assert placed.filled == Decimal("0.01")
    assert placed.cost / placed.filled >= ask
    assert [p.quantity for p in venue.positions()] == [Decimal("0.01")]
    assert venue.balances()["USDT"] < START  # the taker fee (and the spread) paid
    free = Decimal(str(venue.client.fetch_balance()["USDT"]["free"]))
    assert free <= START - placed.cost / 10  # initial margin at the paper's 10x
    assert ("GET", "/fapi/v3/positionRisk") in binance_served.app.requests
    assert ("GET", "/fapi/v3/account") in binance_served.app.requests


def test_a_wrong_secret_fails_the_signature_check(
    binance_settings: Settings, binance_served: ServedBinance, market_cache: SqlMarketCache
) -> None:
    forged_account = ExchangeAccount(BINANCE_ACCOUNT, "binance", API_KEY, "not-the-secret")
    forged = make_client(forged_account, binance_settings)
    forged.load_markets()  # public: no signature needed
    with pytest.raises(Exception, match="-1022") as raised:
        forged.fetch_balance()
    assert type(raised.value).__name__ == "AuthenticationError"
    exchanges = CcxtExchanges(binance_settings, Directory(forged_account), market_cache)
    with pytest.raises(errors.ExchangeMisconfigured, match="Signature for this request"):
        gateway(exchanges).balances()


def test_an_unknown_api_key_is_refused(
    binance_settings: Settings, binance_served: ServedBinance
) -> None:
    stranger = make_client(ExchangeAccount("x", "binance", "nobody", "whatever"), binance_settings)
    with pytest.raises(Exception, match="-2015") as raised:
        stranger.fetch_balance()
    assert type(raised.value).__name__ == "AuthenticationError"


def test_a_request_without_an_api_key_is_refused(binance_served: ServedBinance) -> None:
    status, answer = binance_served.app.handle("GET", "/fapi/v3/account?timestamp=1", b"", {})
    assert (status, answer["code"]) == (401, -2014)


def test_a_signature_covers_the_query_followed_directly_by_the_body(
    binance_served: ServedBinance,
) -> None:
    """Binance's rule for parameters split between both (ccxt sends them in one)."""
    query = "symbol=BTCUSDT&side=BUY&type=MARKET"
    body = f"quantity=0.01&newClientOrderId=split&timestamp={time.time_ns() // 1_000_000}"

    def post(signed: str) -> tuple[int, Any]:
        signature = hmac.new(SECRET.encode(), signed.encode(), hashlib.sha256).hexdigest()
        target = f"{ORDER}?{query}"
        data = f"{body}&signature={signature}".encode()
        return binance_served.app.handle("POST", target, data, {"x-mbx-apikey": API_KEY})

    assert post(f"{query}&{body}")[1]["code"] == -1022
    status, order = post(query + body)
    assert (status, order["status"], order["clientOrderId"]) == (200, "FILLED", "split")


def test_too_many_requests_per_key_answer_429(
    binance_exchanges: CcxtExchanges, binance_served: ServedBinance
) -> None:
    venue = gateway(binance_exchanges)
    binance_served.app.requests_per_second = 1
    venue.balances()
    with pytest.raises(errors.RateLimited, match="-1003"):
        venue.balances()


def test_a_timestamp_outside_the_recv_window_is_refused(
    binance_settings: Settings, binance_served: ServedBinance
) -> None:
    late = make_client(ExchangeAccount("x", "binance", API_KEY, SECRET), binance_settings)
    late.options["timeDifference"] = 120_000  # signs with a clock two minutes behind
    with pytest.raises(Exception, match="-1021") as raised:
        late.fetch_balance()
    assert type(raised.value).__name__ == "InvalidNonce"  # a NetworkError: retried


def test_new_client_order_id_makes_creation_idempotent(
    binance_exchanges: CcxtExchanges,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    venue = gateway(binance_exchanges)
    request = make_binance_request("r-dup", "0.01", limit="50000")
    first = venue.place(request)
    with pytest.raises(errors.DuplicateOrder):  # -4116 "ClientOrderId is duplicated."
        venue.place(request)
    found = venue.lookup(request.client_order_id, BTC)
    assert found is not None
    assert found.exchange_order_id == first.exchange_order_id
    assert found.status is OrderStatus.OPEN
    assert creates(binance_served) == 2
    assert len(venue_orders(binance_served)) == 1


def test_lookup_asks_by_client_order_id_and_finds_none_for_unknown_ids(
    binance_exchanges: CcxtExchanges,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    venue = gateway(binance_exchanges)
    request = make_binance_request("r-find", "0.01")
    placed = venue.place(request)
    found = venue.lookup(request.client_order_id, BTC)
    assert found is not None
    assert (found.exchange_order_id, found.status) == (placed.exchange_order_id, placed.status)
    assert venue.lookup("stx-never-placed", BTC) is None  # -2013 "Order does not exist."


def test_open_orders_without_a_symbol_list_futures_orders(
    binance_exchanges: CcxtExchanges,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    venue = gateway(binance_exchanges)
    request = make_binance_request("r-rest", "0.01", limit="50000")
    venue.place(request)
    listed = venue.open_orders()
    assert [(o.client_order_id, o.symbol) for o in listed] == [(request.client_order_id, BTC)]
    assert ("GET", "/fapi/v1/openOrders") in binance_served.app.requests


def test_cancel_then_cancel_again(
    binance_exchanges: CcxtExchanges,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    venue = gateway(binance_exchanges)
    request = make_binance_request("r-cancel", "0.01", limit="50000")
    placed = venue.place(request)
    venue.cancel(placed.exchange_order_id, BTC)
    found = venue.lookup(request.client_order_id, BTC)
    assert found is not None
    assert found.status is OrderStatus.CANCELED
    with pytest.raises(errors.OrderNotFound):  # -2011 "Unknown order sent."
        venue.cancel(placed.exchange_order_id, BTC)
    assert venue.open_orders() == []


def test_a_timeout_after_booking_recovers_without_a_second_order(
    binance_live: Services,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    binance_served.app.faults.slow_after_booking[f"POST {ORDER}"] = 1  # booked, answer lost
    request = make_binance_request("r-timeout", "0.01", limit=marketable(binance_served))
    execute_order(binance_live, request)
    record = binance_live.state.get_order(request.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.FILLED
    assert creates(binance_served) == 1  # the lookup found it: no second create
    assert len(venue_orders(binance_served)) == 1
    assert len(record.fills) == 1


def test_rate_limit_backs_off_then_places_once(
    binance_live: Services,
    binance_served: ServedBinance,
    sleeps: list[float],
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    binance_served.app.faults.rate_limited[f"POST {ORDER}"] = 2  # HTTP 429, -1003, twice
    request = make_binance_request("r-limited", "0.01", limit=marketable(binance_served))
    execute_order(binance_live, request)
    record = binance_live.state.get_order(request.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.FILLED
    assert len(sleeps) == 2  # one backoff per refusal
    assert creates(binance_served) == 3
    assert len(venue_orders(binance_served)) == 1


def test_insufficient_margin_is_rejected_without_retry(
    binance_live: Services,
    binance_served: ServedBinance,
    sleeps: list[float],
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    # ~6M USDT of BTC on a 100k account at 10x
    request = make_binance_request("r-broke", "100", limit=marketable(binance_served))
    with pytest.raises(errors.OrderRejected, match="insufficient_funds"):
        execute_order(binance_live, request)  # permanent: the message goes to the dead letters
    record = binance_live.state.get_order(request.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.REJECTED
    assert "-2019" in record.detail
    assert creates(binance_served) == 1
    assert sleeps == []


def test_cached_markets_spare_the_cold_start_its_market_requests(
    binance_settings: Settings,
    binance_directory: Directory,
    market_cache: SqlMarketCache,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    warm = CcxtExchanges(binance_settings, binance_directory, market_cache)
    gateway(warm).market(BTC)
    binance_served.app.requests.clear()
    cold = CcxtExchanges(binance_settings, binance_directory, market_cache)
    placed = gateway(cold).place(make_binance_request("r-cold", "0.01"))
    assert placed.status is OrderStatus.FILLED
    # RESULT is final: no lookup; its fee is only in the order's trades.
    assert binance_served.app.requests == [("POST", ORDER), ("GET", TRADES)]


def test_a_quote_has_the_touch(
    binance_exchanges: CcxtExchanges, binance_served: ServedBinance
) -> None:
    """The 24hr ticker has no bid or ask on Binance futures: the book ticker fills them in."""
    touch = paper(binance_served).fetch_ticker(BTC)
    quote = gateway(binance_exchanges).quote(BTC)
    assert (quote.bid, quote.ask) == (Decimal(str(touch["bid"])), Decimal(str(touch["ask"])))
    assert quote.last > 0


# --- fees: Binance orders carry none, userTrades has them -------------------------------


def test_a_filled_market_order_books_the_taker_fee_the_venue_charged(
    binance_live: Services,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    request = make_binance_request("r-fee", "0.01")
    execute_order(binance_live, request)
    record = binance_live.state.get_order(request.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.FILLED
    [fill] = record.fills
    assert charged(binance_served, request.client_order_id) == [(fill.fee, "taker")]
    assert (fill.fee_currency, fill.liquidity) == ("USDT", Liquidity.TAKER)
    assert fill.fee == fill.quantity * fill.price * Decimal("0.00055") > 0  # paper's rate
    assert ("GET", TRADES) in binance_served.app.requests


def test_a_marketable_limit_order_is_a_taker_by_its_trades(
    binance_exchanges: CcxtExchanges,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    """The order alone would read as maker (a limit order): its trade says taker."""
    request = make_binance_request("r-cross", "0.01", limit=marketable(binance_served))
    placed = gateway(binance_exchanges).place(request)
    assert charged(binance_served, request.client_order_id) == [(placed.fee, "taker")]
    assert placed.liquidity is Liquidity.TAKER


def test_a_resting_limit_order_books_maker_fees_fill_by_fill(
    binance_exchanges: CcxtExchanges,
    binance_served: ServedBinance,
    clock: ManualClock,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    """Each view carries the order's fee so far: observe() turns it into one fee per fill,
    none counted twice."""
    venue = gateway(binance_exchanges)
    # 12 BTC bid at 60040: the 00:02 tick (ask 60037.4) fills its 9.567, 00:05 the rest.
    request = make_binance_request("r-maker", "12", limit="60040")
    placed = venue.place(request)
    assert placed.status is OrderStatus.OPEN
    assert placed.fee == 0
    assert ("GET", TRADES) not in binance_served.app.requests  # nothing filled: no trades
    record = OrderRecord.intent(request, clock.now()).observe(placed, clock.now())
    for minutes, status in ((1, OrderStatus.PARTIALLY_FILLED), (3, OrderStatus.FILLED)):
        clock.advance(timedelta(minutes=minutes))
        seen = venue.lookup(request.client_order_id, BTC)
        assert seen is not None
        assert (seen.status, seen.liquidity) == (status, Liquidity.MAKER)
        record = record.observe(seen, clock.now())
    trades = charged(binance_served, request.client_order_id)
    assert [liquidity for _, liquidity in trades] == ["maker", "maker"]
    assert [fill.fee for fill in record.fills] == [fee for fee, _ in trades]
    assert record.fee == sum(fee for fee, _ in trades) == Decimal(12 * 60040) * Decimal("0.0002")
    assert all(fill.liquidity is Liquidity.MAKER for fill in record.fills)


def test_user_trades_are_signed_and_shaped_like_binances(
    binance_exchanges: CcxtExchanges,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    placed = gateway(binance_exchanges).place(make_binance_request("r-wire", "0.01"))
    status, trades = signed_get(
        binance_served, TRADES, symbol="BTCUSDT", orderId=placed.exchange_order_id
    )
    assert status == 200
    [trade] = trades
    assert set(trade) == {
        "symbol", "id", "orderId", "side", "price", "qty", "realizedPnl", "quoteQty",
        "commission", "commissionAsset", "time", "positionSide", "buyer", "maker",
    }  # fmt: skip
    assert (trade["orderId"], trade["side"], trade["buyer"], trade["maker"]) == (
        int(placed.exchange_order_id), "BUY", True, False
    )  # fmt: skip
    assert (trade["qty"], trade["commission"], trade["commissionAsset"]) == (
        "0.01", str(placed.fee), "USDT"
    )  # fmt: skip
    assert trade["realizedPnl"] == "0"  # opened a position: nothing realized
    closed = gateway(binance_exchanges).place(
        make_binance_request("r-close", "0.01", side=Side.SELL)
    )
    status, [closing] = signed_get(
        binance_served, TRADES, symbol="BTCUSDT", orderId=closed.exchange_order_id
    )
    pnl = (Decimal(closing["price"]) - Decimal(trade["price"])) * Decimal("0.01")
    assert Decimal(closing["realizedPnl"]) == pnl != 0  # before the fee, as on Binance


@pytest.mark.parametrize(
    ("secret", "params", "answer"),
    [
        ("not-the-secret", {"symbol": "BTCUSDT"}, (400, -1022)),
        (SECRET, {"symbol": "DOGEUSDT"}, (400, -1121)),
        (SECRET, {}, (400, -1102)),
        (SECRET, {"symbol": "BTCUSDT", "limit": 1001}, (400, -1130)),
        (SECRET, {"symbol": "BTCUSDT", "limit": 0}, (400, -1130)),
        (SECRET, {"symbol": "BTCUSDT", "fromId": 1, "startTime": 1}, (400, -1128)),
        (SECRET, {"symbol": "BTCUSDT", "orderId": "x1"}, (400, -1100)),
    ],
)
def test_user_trades_refuse_what_binance_refuses(
    binance_served: ServedBinance, secret: str, params: dict[str, Any], answer: tuple[int, int]
) -> None:
    status, error = signed_get(binance_served, TRADES, secret, **params)
    assert (status, error["code"]) == answer


def test_user_trades_check_time_and_rate_like_the_other_signed_endpoints(
    binance_settings: Settings, binance_served: ServedBinance
) -> None:
    late = make_client(ExchangeAccount("x", "binance", API_KEY, SECRET), binance_settings)
    late.options["timeDifference"] = 120_000  # signs with a clock two minutes behind
    with pytest.raises(Exception, match="-1021"):
        late.fetch_my_trades(BTC)
    assert signed_get(binance_served, TRADES, symbol="BTCUSDT")[0] == 200
    binance_served.app.requests_per_second = 1
    assert signed_get(binance_served, TRADES, symbol="BTCUSDT")[1]["code"] == -1003


def test_user_trades_page_by_from_id_or_give_the_most_recent(
    binance_exchanges: CcxtExchanges,
    binance_served: ServedBinance,
    make_binance_request: Callable[..., OrderRequest],
) -> None:
    venue = gateway(binance_exchanges)
    placed = [venue.place(make_binance_request(f"r-page-{n}", "0.01")) for n in range(3)]
    every = signed_get(binance_served, TRADES, symbol="BTCUSDT")[1]
    ids = [t["id"] for t in every]
    assert ids == sorted(ids)
    assert [str(t["orderId"]) for t in every] == [p.exchange_order_id for p in placed]
    recent = signed_get(binance_served, TRADES, symbol="BTCUSDT", limit=2)[1]
    assert [t["id"] for t in recent] == ids[1:]
    first = signed_get(binance_served, TRADES, symbol="BTCUSDT", fromId=ids[0], limit=2)[1]
    assert [t["id"] for t in first] == ids[:2]
    assert signed_get(binance_served, TRADES, symbol="ETHUSDT")[1] == []
    assert signed_get(binance_served, TRADES, symbol="BTCUSDT", orderId=1)[1] == []
