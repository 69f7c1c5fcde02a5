"""A served paper exchange: the subset of Binance's USDⓈ-M futures REST API that Stratus
uses through ccxt, backed by one PaperExchange per API key.

Real ccxt.binance code (signing, request building, parsing) runs against it unchanged:
point ccxt at it with ``exchange.urls['api']`` (Stratus: STRATUS_EXCHANGE_API_URL).
Like Binance it takes the key from X-MBX-APIKEY, checks `signature` (HMAC-SHA256 hex of
the query string followed by the body, without the signature) and `timestamp` against
`recvWindow`, and answers errors with an HTTP 4xx and {"code", "msg"}: -2014/-2015 bad
key, -1022 bad signature, -1021 timestamp outside the window, 429 + -1003 rate limit,
-2019 margin insufficient, -4116 duplicate client order id, -2013 unknown order (-2011
on cancel), -1121 unknown symbol, -1102 missing or malformed parameters, -1100 a number
parameter with other characters, -1128 fromId with a time range, -1130 a bad limit.

Endpoints: GET /fapi/v1/exchangeInfo, /fapi/v1/time, /fapi/v1/ticker/24hr,
/fapi/v1/ticker/bookTicker, /fapi/v1/leverageBracket, /fapi/v1/order, /fapi/v1/openOrders,
/fapi/v1/userTrades,
/fapi/v3/account, /fapi/v3/positionRisk; POST and DELETE /fapi/v1/order. Served over HTTP
by binance_http (also a command: ``python -m stratus.adapters.paper.binance_http --help``).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from websockets.sync.connection import Connection

from stratus.adapters.paper import binance_wire as wire
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.markets import SPECS, MarketSpec
from stratus.adapters.paper.structures import millis, order_id, sequence
from stratus.adapters.paper.venue_api import Account, Faults, RequestWindow

Reply = tuple[int, Any]
BY_ID: Mapping[str, MarketSpec] = {spec.id: spec for spec in SPECS.values()}
MAX_RECV_WINDOW_MS = 60_000
FIRST_ORDER_ID = 8_000_000_001  # Binance order and trade ids are 64-bit integers
FIRST_TRADE_ID = 5_000_000_001
TRADES_LIMIT, MAX_TRADES_LIMIT = 500, 1000  # /fapi/v1/userTrades' default and maximum


class BinanceError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _missing(name: str) -> BinanceError:
    text = f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    return BinanceError(400, -1102, text)


MALFORMED = "A mandatory parameter was not sent, was empty/null, or malformed."
NOTIONAL_TOO_SMALL = "Order's notional must be no smaller than {} (unless you choose reduce only)."
TOO_MANY_REQUESTS = (429, -1003, "Too many requests; please use the websocket for live updates.")

# ccxt error raised by the paper venue -> Binance (status, code, msg). InvalidOrder is
# told apart by the paper message, the rest by class (checked along the MRO, in order).
_BY_MESSAGE = (
    ("duplicate", (400, -4116, "ClientOrderId is duplicated.")),
    ("reduce-only", (400, -2022, "ReduceOnly Order is rejected.")),
    ("cost below", (400, -4164, NOTIONAL_TOO_SMALL)),
    ("max open orders", (400, -2025, "Reach max open order limit.")),
    ("invalid clientOrderId", (400, -4015, "Client order id is not valid.")),
    ("not a multiple", (400, -1111, "Precision is over the maximum defined for this asset.")),
    ("amount must be", (400, -4003, "Quantity less than or equal to zero.")),
    ("price must be", (400, -4001, "Price less than 0.")),
    ("amount", (400, -4005, "Quantity greater than max quantity.")),
    ("price", (400, -4016, "Limit price can't be higher than {}.")),
)
_BY_CLASS = (
    ("InsufficientFunds", (400, -2019, "Margin is insufficient.")),
    ("OrderNotFound", (400, -2013, "Order does not exist.")),
    ("BadSymbol", (400, -1121, "Invalid symbol.")),
    ("InvalidOrder", (400, -1102, MALFORMED)),
)
_UNKNOWN = (503, -1000, "An unknown error occured while processing the request.")


def binance_error(error: Exception) -> BinanceError:
    """The Binance answer to an error the paper venue raised (ccxt classes)."""
    names = [cls.__name__ for cls in type(error).__mro__]
    detail = str(error)
    answer = next((a for name, a in _BY_CLASS if name in names), _UNKNOWN)
    if "InvalidOrder" in names and "OrderNotFound" not in names:
        answer = next((a for text, a in _BY_MESSAGE if text in detail), answer)
    status, code, message = answer
    # Paper messages end in the limit that was broken, which Binance's text quotes.
    return BinanceError(status, code, message.format(detail.rsplit(" ", 1)[-1].strip("]")))


def wire_id(paper_id: str, first: int) -> int:
    """Binance's integer id for a paper order or trade id (numbered from `first`, as the
    venue numbers its ids): the same after a restart of the server."""
    return first - 1 + sequence(paper_id)


def paper_order_id(wire: str) -> str | None:
    """The paper order id behind a Binance orderId (None: not one of ours)."""
    number = int(wire) - FIRST_ORDER_ID + 1 if wire.isdigit() else 0
    return order_id(number) if number > 0 else None


Route = Callable[[Any, dict[str, str]], Any]


class BinanceFutures:
    """The request handler, independent of HTTP (tests may call `handle` directly)."""

    def __init__(
        self,
        accounts: Mapping[str, Account],
        recv_window_ms: int = 5000,
        requests_per_second: int = 50,
    ) -> None:
        self.accounts = dict(accounts)
        self.recv_window_ms = recv_window_ms  # Binance's default when none is sent
        self.requests_per_second = requests_per_second
        self.faults = Faults()
        self.requests: list[tuple[str, str]] = []  # (method, path), for tests and logs
        self._window = RequestWindow()
        self._lock = threading.Lock()

    def handle(self, method: str, target: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        path, _, query = target.partition("?")
        with self._lock:
            self.requests.append((method, path))
        public, private = self._public_routes(), self._private_routes()
        route = public.get((method, path)) or private.get((method, path))
        if route is None:
            return 404, {"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}
        try:
            fault_key = f"{method} {path}"  # one path serves several methods here
            if self.faults.take(self.faults.rate_limited, fault_key):
                raise BinanceError(*TOO_MANY_REQUESTS)
            if (method, path) in public:
                return 200, route(None, dict(parse_qsl(query)))
            key, params = self._authenticate(headers, query, body.decode())
            self._throttle(key)
            result = route(self.accounts[key].venue, params)
            if self.faults.take(self.faults.slow_after_booking, fault_key):
                # The work is done, the answer comes too late: the client times out.
                self.faults.released.wait(self.faults.stall_seconds)
            return 200, result
        except BinanceError as error:
            return error.status, {"code": error.code, "msg": str(error)}

    def stream(self, path: str, connection: Connection) -> None:
        """No WebSocket streams here (the watcher polls Binance where it has no stream)."""
        connection.close(1008, "the paper Binance serves no streams")

    def _public_routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/fapi/v1/exchangeInfo"): self._exchange_info,
            ("GET", "/fapi/v1/time"): lambda _, p: {"serverTime": time.time_ns() // 1_000_000},
            ("GET", "/fapi/v1/ticker/24hr"): lambda _, p: self._tickers(p, wire.ticker_24hr),
            ("GET", "/fapi/v1/ticker/bookTicker"): lambda _, p: self._tickers(p, wire.book_ticker),
        }

    def _private_routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/fapi/v1/leverageBracket"): self._leverage_brackets,
            ("POST", "/fapi/v1/order"): self._create,
            ("GET", "/fapi/v1/order"): self._query,
            ("DELETE", "/fapi/v1/order"): self._cancel,
            ("GET", "/fapi/v1/openOrders"): self._open_orders,
            ("GET", "/fapi/v1/userTrades"): self._user_trades,
            ("GET", "/fapi/v3/account"): self._account,
            ("GET", "/fapi/v3/positionRisk"): self._position_risk,
        }

    # --- checks ------------------------------------------------------------------------

    def _authenticate(
        self, headers: Mapping[str, str], query: str, body: str
    ) -> tuple[str, dict[str, str]]:
        """The API key and the request's parameters, once key, signature and time pass."""
        key = headers.get("x-mbx-apikey", "")
        if not key:
            raise BinanceError(401, -2014, "API-key format invalid.")
        account = self.accounts.get(key)
        if account is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        query, from_query = _without_signature(query)
        body, from_body = _without_signature(body)
        signature = from_query or from_body
        if not signature:
            raise _missing("signature")
        # Binance signs the query string followed directly by the body.
        payload = (query + body).encode()
        expected = hmac.new(account.secret.encode(), payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(query)) | dict(parse_qsl(body))
        self._check_time(params)
        return key, params

    def _check_time(self, params: Mapping[str, str]) -> None:
        stamp = params.get("timestamp", "")
        window = params.get("recvWindow", str(self.recv_window_ms))
        if not stamp.isdigit():
            raise _missing("timestamp")
        if not window.isdigit():
            raise _missing("recvWindow")
        age = _ms() - int(stamp)
        if age <= -1000:
            problem = "was 1000ms ahead of the server's time."
        elif age > min(int(window), MAX_RECV_WINDOW_MS):
            problem = "is outside of the recvWindow."
        else:
            return
        raise BinanceError(400, -1021, f"Timestamp for this request {problem}")

    def _throttle(self, key: str) -> None:
        if not self._window.admit(key, self.requests_per_second):
            raise BinanceError(*TOO_MANY_REQUESTS)

    # --- endpoints ---------------------------------------------------------------------

    def _exchange_info(self, _: None, params: dict[str, str]) -> Any:
        return wire.exchange_info(list(SPECS.values()), _ms(), self.requests_per_second)

    def _tickers(
        self, params: dict[str, str], shape: Callable[[MarketSpec, dict[str, Any]], Any]
    ) -> Any:
        """One symbol: an object; none: a list of all (as Binance answers both)."""
        venue = next(iter(self.accounts.values())).venue  # one feed: any venue quotes it
        if "symbol" in params:
            spec = _spec(params)
            return shape(spec, _paper(venue.fetch_ticker, spec.symbol))
        return [shape(s, _paper(venue.fetch_ticker, s.symbol)) for s in SPECS.values()]

    def _leverage_brackets(self, _: PaperExchange, params: dict[str, str]) -> Any:
        specs = [_spec(params)] if "symbol" in params else list(SPECS.values())
        return wire.leverage_brackets(specs)

    def _create(self, venue: PaperExchange, params: dict[str, str]) -> dict[str, Any]:
        spec = _spec(params)
        side = _choice(params, "side", ("BUY", "SELL"), (-1117, "Invalid side."))
        kind = _choice(params, "type", ("LIMIT", "MARKET"), (-1116, "Invalid orderType."))
        if params.get("positionSide", "BOTH") != "BOTH":  # a one-way mode account
            message = "Order's position side does not match user's setting."
            raise BinanceError(400, -4061, message)
        if kind == "LIMIT":
            _choice(params, "timeInForce", ("GTC",), (-1115, "Invalid timeInForce."))
        if "quantity" not in params:
            raise _missing("quantity")
        # Binance makes up an id when none is sent; ccxt always sends one.
        client_id = params.get("newClientOrderId") or uuid.uuid4().hex[:22]
        order = _paper(
            venue.create_order,
            spec.symbol,
            kind.lower(),
            side.lower(),
            params["quantity"],
            params.get("price"),
            {"clientOrderId": client_id, "reduceOnly": params.get("reduceOnly") == "true"},
        )
        # newOrderRespType RESULT (what ccxt sends for futures); ACK is answered alike.
        return wire.order(spec, order, wire_id(order["id"], FIRST_ORDER_ID), placed=True)

    def _query(self, venue: PaperExchange, params: dict[str, str]) -> dict[str, Any]:
        spec = _spec(params)
        order = _paper(venue.fetch_order, *_order_ref(spec, params))
        return wire.order(spec, order, wire_id(order["id"], FIRST_ORDER_ID), placed=False)

    def _cancel(self, venue: PaperExchange, params: dict[str, str]) -> dict[str, Any]:
        spec = _spec(params)
        try:
            order = _paper(venue.cancel_order, *_order_ref(spec, params))
        except BinanceError as error:
            if error.code == -2013:  # unknown or already final: "Unknown order sent."
                raise BinanceError(400, -2011, "Unknown order sent.") from error
            raise
        return wire.order(spec, order, wire_id(order["id"], FIRST_ORDER_ID), placed=False)

    def _open_orders(self, venue: PaperExchange, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = _spec(params).symbol if "symbol" in params else None
        listed = _paper(venue.fetch_open_orders, symbol)
        return [
            wire.order(SPECS[o["symbol"]], o, wire_id(o["id"], FIRST_ORDER_ID), False)
            for o in listed
        ]

    def _user_trades(self, venue: PaperExchange, params: dict[str, str]) -> list[dict[str, Any]]:
        """One symbol's trades, oldest first. Like Binance: from fromId or startTime the
        oldest `limit` that match, otherwise the most recent; an unknown orderId has none.
        Unlike it: no 7-day window (paper times follow the feed, not the wall clock)."""
        spec = _spec(params)
        order_id, start, end, from_id = (
            _whole(params, name) for name in ("orderId", "startTime", "endTime", "fromId")
        )
        limit = _whole(params, "limit")
        limit = TRADES_LIMIT if limit is None else limit
        if not 0 < limit <= MAX_TRADES_LIMIT:
            raise BinanceError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        if from_id is not None and (start is not None or end is not None):
            raise BinanceError(400, -1128, "Combination of optional parameters invalid.")
        paper_order = None if order_id is None else paper_order_id(str(order_id))
        if order_id is not None and paper_order is None:
            return []
        # Trade ids ascend with time, as fromId pages expect.
        history = [(wire_id(t.id, FIRST_TRADE_ID), t) for t in _paper(venue.trades, paper_order)]
        found = [
            (number, trade)
            for number, trade in history
            if trade.symbol == spec.symbol
            and (from_id is None or number >= from_id)
            and (start is None or millis(trade.timestamp) >= start)
            and (end is None or millis(trade.timestamp) <= end)
        ]
        found = found[:limit] if from_id is not None or start is not None else found[-limit:]
        return [
            wire.user_trade(spec, trade, number, wire_id(trade.order_id, FIRST_ORDER_ID))
            for number, trade in found
        ]

    def _account(self, venue: PaperExchange, params: dict[str, str]) -> dict[str, Any]:
        balance = _paper(venue.fetch_balance)
        return wire.account(balance, _paper(venue.fetch_positions), _ms())

    def _position_risk(self, venue: PaperExchange, params: dict[str, str]) -> list[dict[str, Any]]:
        symbols = [_spec(params).symbol] if "symbol" in params else None
        held = _paper(venue.fetch_positions, symbols)
        return [wire.position_risk(SPECS[p["symbol"]], p) for p in held]


def _paper(call: Callable[..., Any], *args: Any) -> Any:
    """Call the paper venue; its ccxt errors become Binance answers."""
    try:
        return call(*args)
    except Exception as error:
        if "BaseError" not in {cls.__name__ for cls in type(error).__mro__}:
            raise
        raise binance_error(error) from error


def _order_ref(spec: MarketSpec, params: Mapping[str, str]) -> tuple[str, str, dict[str, Any]]:
    """(paper id, symbol, params) for fetch_order / cancel_order from Binance's
    orderId or origClientOrderId."""
    if params.get("origClientOrderId"):
        return "", spec.symbol, {"clientOrderId": params["origClientOrderId"]}
    if not params.get("orderId"):
        text = "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        raise BinanceError(400, -1102, text)
    paper_id = paper_order_id(params["orderId"])
    if paper_id is None:
        raise BinanceError(400, -2013, "Order does not exist.")
    return paper_id, spec.symbol, {}


def _spec(params: Mapping[str, str]) -> MarketSpec:
    if not params.get("symbol"):
        raise _missing("symbol")
    spec = BY_ID.get(params["symbol"])
    if spec is None:
        raise BinanceError(400, -1121, "Invalid symbol.")
    return spec


def _whole(params: Mapping[str, str], name: str) -> int | None:
    """An optional integer parameter (LONG or INT): absent is None, digits only."""
    value = params.get(name)
    if not value:
        return None
    if not value.isdigit():
        legal = "legal range is '^[0-9]{1,20}$'."
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; {legal}")
    return int(value)


def _choice(
    params: Mapping[str, str], name: str, allowed: tuple[str, ...], invalid: tuple[int, str]
) -> str:
    value = params.get(name)
    if not value:
        raise _missing(name)
    if value not in allowed:
        raise BinanceError(400, *invalid)
    return value


def _without_signature(raw: str) -> tuple[str, str]:
    """The raw parameter string without its `signature=` pair, and that signature."""
    pairs = raw.split("&") if raw else []
    signature = next((p.partition("=")[2] for p in pairs if p.startswith("signature=")), "")
    return "&".join(p for p in pairs if not p.startswith("signature=")), signature


def _ms() -> int:
    return time.time_ns() // 1_000_000
