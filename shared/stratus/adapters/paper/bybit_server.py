"""A served paper exchange: the subset of Bybit's v5 REST API that Stratus uses, backed
by one PaperExchange per API key.

Real ccxt.bybit code (signing, request building, parsing) runs against it unchanged:
point ccxt at it with ``exchange.urls['api']`` (Stratus: STRATUS_EXCHANGE_API_URL).
Like Bybit it checks X-BAPI-SIGN (HMAC-SHA256 over timestamp + key + recv window +
query or body) and the recv window, and answers in-band with retCode: 10003/10004 bad
key/signature, 10002 stale timestamp, 10006 rate limit, 110007 insufficient funds,
110072 duplicate orderLinkId, 110001 unknown order, 110092/110093 a trigger the mark
already reached, 10001 bad parameters.

Conditional orders (triggerPrice, triggerDirection 1 rise / 2 fall, reduceOnly) rest
Untriggered until the mark reaches the trigger, then trade as market orders (Triggered,
then Filled; Deactivated when canceled untriggered). The order lists show every kind
unless orderFilter asks for Order or StopOrder only, as Bybit's unified account does.

Streams: the public linear WebSocket (/v5/public/linear), topics tickers.<symbol>: a
snapshot of each subscribed ticker every `ticker_seconds`, as a traded contract's ticker
changes at least that often; `ping` is answered with a pong.

Endpoints: GET /v5/market/instruments-info, /v5/market/tickers, /v5/market/time, /v5/order/realtime,
/v5/order/history, /v5/account/wallet-balance, /v5/position/list; POST
/v5/order/create, /v5/order/cancel. Served over HTTP by bybit_http (also a command:
``python -m stratus.adapters.paper.bybit_http --help``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from websockets.exceptions import ConnectionClosed
from websockets.sync.connection import Connection

from stratus.adapters.paper import bybit_wire as wire
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.markets import SETTLE, SPECS, MarketSpec
from stratus.adapters.paper.venue_api import Account, Faults, RequestWindow

Reply = tuple[int, dict[str, Any]]
BY_ID: Mapping[str, MarketSpec] = {spec.id: spec for spec in SPECS.values()}


class BybitError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# ccxt error raised by the paper venue -> Bybit retCode (checked along the MRO, in order)
_CODES = (
    ("InsufficientFunds", 110007),
    ("OrderNotFound", 110001),
    ("BadSymbol", 10001),
    ("InvalidOrder", 10001),
)
_MESSAGES = (
    ("duplicate", 110072),
    ("expect Rising", 110092),  # the trigger is already at or below the mark
    ("expect Falling", 110093),
    ("reduce-only", 110017),
    ("cost below", 110094),
    ("max open orders", 110020),  # "Not allowed to have more than 500 active orders"
)


def _code_for(error: Exception) -> int:
    names = {cls.__name__ for cls in type(error).__mro__}
    for text, code in _MESSAGES:
        if "InvalidOrder" in names and text in str(error):
            return code
    return next((code for name, code in _CODES if name in names), 10016)


class BybitV5:
    """The request handler, independent of HTTP (tests may call `handle` directly)."""

    def __init__(
        self,
        accounts: Mapping[str, Account],
        recv_window_ms: int = 5000,
        requests_per_second: int = 50,
        ticker_seconds: float = 0.5,
    ) -> None:
        self.accounts = dict(accounts)
        self.ticker_seconds = ticker_seconds
        self.recv_window_ms = recv_window_ms
        self.requests_per_second = requests_per_second
        self.faults = Faults()
        self.requests: list[tuple[str, str]] = []  # (method, path), for tests and logs
        self._window = RequestWindow()
        self._lock = threading.Lock()

    def handle(self, method: str, target: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        path, _, query = target.partition("?")
        with self._lock:
            self.requests.append((method, path))
        route = self._routes().get((method, path))
        if route is None:
            return 404, {"retCode": 10001, "retMsg": f"no route {method} {path}"}
        try:
            params = dict(parse_qsl(query)) if method == "GET" else _json(body)
            if path.startswith("/v5/market/"):
                return _ok(route(None, params))
            venue = self._authenticate(headers, query if method == "GET" else body.decode())
            self._throttle(headers["x-bapi-api-key"], path)
            result = route(venue, params)
            if self.faults.take(self.faults.slow_after_booking, path):
                # The work is done, the answer comes too late: the client times out.
                self.faults.released.wait(self.faults.stall_seconds)
            return _ok(result)
        except BybitError as error:
            return 200, {"retCode": error.code, "retMsg": str(error), "result": {}, "time": _ms()}

    def _routes(self) -> dict[tuple[str, str], Callable[[Any, dict[str, Any]], Any]]:
        return {
            ("GET", "/v5/market/instruments-info"): self._instruments,
            ("GET", "/v5/market/tickers"): self._tickers,
            ("GET", "/v5/market/time"): lambda v, p: {
                "timeSecond": str(_ms() // 1000),
                "timeNano": str(time.time_ns()),
            },
            ("POST", "/v5/order/create"): self._create,
            ("POST", "/v5/order/cancel"): self._cancel,
            ("GET", "/v5/order/realtime"): lambda v, p: self._orders(v, p, working=True),
            ("GET", "/v5/order/history"): lambda v, p: self._orders(v, p, working=False),
            ("GET", "/v5/account/wallet-balance"): self._wallet,
            ("GET", "/v5/position/list"): self._positions,
            # What plain ccxt asks before trading (Stratus tells it instead): a unified
            # account (UTA 2.0) with no coin list.
            ("GET", "/v5/user/query-api"): lambda v, p: {"unified": 0, "uta": 1},
            ("GET", "/v5/account/info"): lambda v, p: {"unifiedMarginStatus": 6},
            ("GET", "/v5/asset/coin/query-info"): lambda v, p: {"rows": []},
        }

    def stream(self, path: str, connection: Connection) -> None:
        """The public linear stream: subscribe/unsubscribe to tickers.<id>, ping."""
        if path.partition("?")[0] != "/v5/public/linear":
            connection.close(1008, f"no stream at {path}")
            return
        topics: set[str] = set()
        pushed_at = 0.0
        while True:
            try:
                text = connection.recv(timeout=self.ticker_seconds)
            except TimeoutError:
                text = None
            except ConnectionClosed:
                return
            if text is not None:
                connection.send(json.dumps(_answer(json.loads(text), topics, connection.id)))
            if time.monotonic() - pushed_at >= self.ticker_seconds:
                pushed_at = time.monotonic()
                for topic in sorted(topics):
                    connection.send(json.dumps(self._ticker_message(topic)))

    def _ticker_message(self, topic: str) -> dict[str, Any]:
        spec = BY_ID[topic.removeprefix("tickers.")]
        venue = next(iter(self.accounts.values())).venue  # one feed: any venue quotes it
        ticker = wire.ticker(spec, venue.fetch_ticker(spec.symbol))
        return {"topic": topic, "type": "snapshot", "data": ticker, "cs": _ms(), "ts": _ms()}

    # --- checks ------------------------------------------------------------------------

    def _authenticate(self, headers: Mapping[str, str], payload: str) -> PaperExchange:
        key = headers.get("x-bapi-api-key", "")
        account = self.accounts.get(key)
        if account is None:
            raise BybitError(10003, "API key is invalid.")
        stamp = headers.get("x-bapi-timestamp", "")
        window = headers.get("x-bapi-recv-window", "5000")
        expected = hmac.new(
            account.secret.encode(), (stamp + key + window + payload).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, headers.get("x-bapi-sign", "")):
            raise BybitError(10004, "error sign! origin_string[" + stamp + key + window + "]")
        if not stamp.isdigit() or abs(_ms() - int(stamp)) > min(int(window), 60_000):
            raise BybitError(10002, "invalid request, please check your server timestamp")
        return account.venue

    def _throttle(self, key: str, path: str) -> None:
        limited = self.faults.take(self.faults.rate_limited, path)
        if limited or not self._window.admit(f"{key} {path}", self.requests_per_second):
            raise BybitError(10006, "Too many visits. Exceeded the API Rate Limit.")

    # --- endpoints ---------------------------------------------------------------------

    def _instruments(self, _: Any, params: dict[str, Any]) -> dict[str, Any]:
        linear = params.get("category") == "linear" and params.get("status") != "PreLaunch"
        specs = [s for s in SPECS.values() if params.get("symbol") in (None, s.id)]
        listed = [wire.instrument(s) for s in specs] if linear else []
        return {"category": params.get("category", ""), "list": listed, "nextPageCursor": ""}

    def _tickers(self, _: Any, params: dict[str, Any]) -> dict[str, Any]:
        venue = next(iter(self.accounts.values())).venue  # one feed: any venue quotes it
        specs = [s for s in SPECS.values() if params.get("symbol") in (None, s.id)]
        listed = [wire.ticker(s, _paper(venue.fetch_ticker, s.symbol)) for s in specs]
        return {"category": "linear", "list": listed}

    def _create(self, venue: PaperExchange, params: dict[str, Any]) -> dict[str, Any]:
        spec = _spec(params)
        link = params.get("orderLinkId") or None
        order = _paper(
            venue.create_order,
            spec.symbol,
            str(params.get("orderType", "")).lower(),
            str(params.get("side", "")).lower(),
            params.get("qty"),
            params.get("price"),
            {
                "clientOrderId": link,
                "reduceOnly": bool(params.get("reduceOnly", False)),
                **_conditional(params),
            },
        )
        return {"orderId": order["id"], "orderLinkId": order["clientOrderId"] or ""}

    def _cancel(self, venue: PaperExchange, params: dict[str, Any]) -> dict[str, Any]:
        spec = _spec(params)
        by = {"clientOrderId": params["orderLinkId"]} if params.get("orderLinkId") else {}
        order = _paper(venue.cancel_order, params.get("orderId", ""), spec.symbol, by)
        return {"orderId": order["id"], "orderLinkId": order["clientOrderId"] or ""}

    def _orders(self, venue: PaperExchange, params: dict[str, Any], working: bool) -> Any:
        symbol = _spec(params).symbol if params.get("symbol") else None
        if symbol is None and params.get("settleCoin", SETTLE) != SETTLE:
            return {"category": "linear", "list": [], "nextPageCursor": ""}
        fetch = venue.fetch_open_orders if working else venue.fetch_canceled_and_closed_orders
        link = params.get("orderLinkId")
        listed = _paper(fetch, symbol, None, None, {"clientOrderId": link} if link else {})
        if params.get("orderId"):
            listed = [o for o in listed if o["id"] == params["orderId"]]
        kinds = params.get("orderFilter")  # linear: all kinds unless one is asked for
        if kinds not in (None, "Order", "StopOrder"):
            raise BybitError(10001, f"params error: orderFilter {kinds} not supported")
        if kinds is not None:
            stop = kinds == "StopOrder"
            listed = [o for o in listed if (o["triggerPrice"] is not None) == stop]
        items = [wire.order(SPECS[o["symbol"]], o) for o in reversed(listed)]  # newest first
        return {"category": "linear", "list": items, "nextPageCursor": ""}

    def _wallet(self, venue: PaperExchange, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("accountType") != "UNIFIED":
            raise BybitError(10001, "accountType only support UNIFIED.")
        return {"list": [wire.wallet(_paper(venue.fetch_balance))]}

    def _positions(self, venue: PaperExchange, params: dict[str, Any]) -> dict[str, Any]:
        symbols = [_spec(params).symbol] if params.get("symbol") else None
        held = _paper(venue.fetch_positions, symbols)
        items = [wire.position(SPECS[p["symbol"]], p) for p in held]
        return {"category": "linear", "list": items, "nextPageCursor": ""}


def _conditional(params: Mapping[str, Any]) -> dict[str, Any]:
    """A conditional order's fields as ccxt params for the paper venue. It fires on the
    mark, so a triggerBy other than MarkPrice is refused rather than silently ignored."""
    if params.get("triggerPrice") in (None, ""):
        return {}
    if params.get("triggerBy", "MarkPrice") != "MarkPrice":
        raise BybitError(10001, "params error: paper triggers on MarkPrice only")
    direction = {1: "above", 2: "below"}.get(_integer(params.get("triggerDirection")))
    if direction is None:
        raise BybitError(10001, "params error: triggerDirection must be 1 or 2")
    return {"triggerPrice": params["triggerPrice"], "triggerDirection": direction}


def _integer(value: Any) -> int:
    """Bybit's integer enums (0: not given or not a number)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _answer(request: Any, topics: set[str], connection_id: Any) -> dict[str, Any]:
    """Bybit's answer to one operation on a public stream (and the topics it changes)."""
    op = request.get("op") if isinstance(request, dict) else None
    answer = {"success": True, "ret_msg": "", "conn_id": str(connection_id), "op": op}
    if isinstance(request, dict) and "req_id" in request:
        answer["req_id"] = request["req_id"]
    asked = request.get("args") or [] if isinstance(request, dict) else []
    unknown = [t for t in asked if t.removeprefix("tickers.") not in BY_ID]
    if op == "ping":
        return {**answer, "ret_msg": "pong"}
    if op in ("subscribe", "unsubscribe") and not unknown:
        (topics.update if op == "subscribe" else topics.difference_update)(asked)
        return answer
    detail = f"Invalid topic: {unknown}" if unknown else f"unknown op {op!r}"
    return {**answer, "success": False, "ret_msg": detail}


def _paper(call: Callable[..., Any], *args: Any) -> Any:
    """Call the paper venue; its ccxt errors become Bybit retCodes."""
    try:
        return call(*args)
    except Exception as error:
        if "BaseError" not in {cls.__name__ for cls in type(error).__mro__}:
            raise
        raise BybitError(_code_for(error), str(error)) from error


def _spec(params: Mapping[str, Any]) -> MarketSpec:
    if params.get("category") != "linear":
        raise BybitError(10001, "params error: category only support linear")
    spec = BY_ID.get(str(params.get("symbol")))
    if spec is None:
        raise BybitError(10001, "params error: symbol invalid")
    return spec


def _json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except json.JSONDecodeError:
        raise BybitError(10001, "request body is not JSON") from None
    if not isinstance(parsed, dict):
        raise BybitError(10001, "request body is not a JSON object")
    return parsed


def _ok(result: Any) -> Reply:
    return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": _ms()}


def _ms() -> int:
    return time.time_ns() // 1_000_000
