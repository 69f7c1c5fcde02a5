"""The paper Bybit v5 handler on its own: Bybit's signature rule, recv window, limits."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from stratus.adapters.clock import ManualClock
from stratus.adapters.paper import bybit_wire
from stratus.adapters.paper.bybit_server import BybitV5
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.served import paper_accounts

KEY, SECRET = "k", "s"


def app(clock: ManualClock, feed: PriceFeed, **options: int) -> BybitV5:
    return BybitV5(paper_accounts({KEY: SECRET}, clock, feed), **options)


def signed(payload: str, stamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(stamp if stamp is not None else time.time_ns() // 1_000_000)
    sign = hmac.new(secret.encode(), (ts + KEY + "5000" + payload).encode(), hashlib.sha256)
    return {
        "x-bapi-api-key": KEY,
        "x-bapi-timestamp": ts,
        "x-bapi-recv-window": "5000",
        "x-bapi-sign": sign.hexdigest(),
    }


def get(server: BybitV5, path: str, query: str, **kw: object) -> dict[str, object]:
    _, body = server.handle("GET", f"{path}?{query}", b"", signed(query, **kw))  # type: ignore[arg-type]
    return body


def test_a_correct_signature_is_accepted(clock: ManualClock, feed: PriceFeed) -> None:
    body = get(app(clock, feed), "/v5/account/wallet-balance", "accountType=UNIFIED")
    assert body["retCode"] == 0


def test_a_signature_over_other_parameters_is_refused(clock: ManualClock, feed: PriceFeed) -> None:
    server = app(clock, feed)
    headers = signed("accountType=UNIFIED")
    _, body = server.handle("GET", "/v5/position/list?category=linear", b"", headers)
    assert body["retCode"] == 10004


def test_a_stale_timestamp_is_refused(clock: ManualClock, feed: PriceFeed) -> None:
    old = time.time_ns() // 1_000_000 - 60_000
    body = get(app(clock, feed), "/v5/account/wallet-balance", "accountType=UNIFIED", stamp=old)
    assert body["retCode"] == 10002


def test_requests_beyond_the_rate_limit_get_10006(clock: ManualClock, feed: PriceFeed) -> None:
    server = app(clock, feed, requests_per_second=3)
    codes = [
        get(server, "/v5/account/wallet-balance", "accountType=UNIFIED")["retCode"]
        for _ in range(4)
    ]
    assert codes[-1] == 10006  # four within a second: at least the fourth is refused


def test_create_checks_funds_and_order_link_ids(clock: ManualClock, feed: PriceFeed) -> None:
    server = app(clock, feed)

    def create(qty: str, link: str) -> object:
        payload = json.dumps(
            {
                "category": "linear",
                "symbol": "BTCUSDT",
                "side": "Buy",
                "orderType": "Market",
                "qty": qty,
                "orderLinkId": link,
            }
        )
        _, body = server.handle("POST", "/v5/order/create", payload.encode(), signed(payload))
        return body["retCode"]

    assert create("0.01", "a") == 0
    assert create("0.01", "a") == 110072
    assert create("500", "b") == 110007
    assert create("0.0105", "c") == 10001  # off the 0.001 step


def test_numbers_are_written_plainly() -> None:
    assert bybit_wire.num(1e-05) == "0.00001"
    assert bybit_wire.num(60000.0) == "60000"
    assert bybit_wire.num(None) == ""


def post(server: BybitV5, path: str, **fields: object) -> int:
    """The retCode of a signed POST."""
    payload = json.dumps({"category": "linear", "symbol": "BTCUSDT", **fields})
    _, body = server.handle("POST", path, payload.encode(), signed(payload))
    code: int = body["retCode"]
    return code


def listed(server: BybitV5, path: str, query: str) -> list[dict[str, Any]]:
    body = get(server, path, f"category=linear&{query}")
    assert body["retCode"] == 0, body
    items: list[dict[str, Any]] = body["result"]["list"]  # type: ignore[index]
    return items


def test_conditional_orders_take_bybits_trigger_fields(clock: ManualClock, feed: PriceFeed) -> None:
    """triggerDirection 1 / 2 is required with a triggerPrice; paper triggers on the mark,
    so another triggerBy is refused rather than ignored; a reached trigger is 110093."""
    server = app(clock, feed)
    create = "/v5/order/create"
    assert post(server, create, side="Buy", orderType="Market", qty="0.01") == 0
    order = {"side": "Sell", "orderType": "Market", "qty": "0.01", "reduceOnly": True}
    stop = {**order, "triggerPrice": "59000"}
    assert post(server, create, **stop) == 10001  # no triggerDirection
    assert post(server, create, **stop, triggerDirection=2, triggerBy="LastPrice") == 10001
    late = {**order, "triggerPrice": "61000", "triggerDirection": 2}  # the mark is ~60000
    assert post(server, create, **late) == 110093
    assert post(server, create, **stop, triggerDirection=2, orderLinkId="sl") == 0
    [item] = listed(server, "/v5/order/realtime", "orderFilter=StopOrder")
    assert (item["orderLinkId"], item["orderStatus"], item["triggerDirection"]) == (
        "sl",
        "Untriggered",
        2,
    )
    assert (item["triggerPrice"], item["stopOrderType"]) == ("59000", "Stop")
    assert listed(server, "/v5/order/realtime", "orderFilter=Order") == []
    assert get(server, "/v5/order/realtime", "category=linear&orderFilter=Nope")["retCode"] == (
        10001
    )
    assert post(server, "/v5/order/cancel", orderLinkId="sl", orderFilter="StopOrder") == 0
    [gone] = listed(server, "/v5/order/history", "orderLinkId=sl")
    assert gone["orderStatus"] == "Deactivated"
