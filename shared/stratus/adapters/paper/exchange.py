"""A deterministic paper exchange: the ccxt `Exchange` port, filled from a PriceFeed.

Behaves like a USDT-margined linear perpetual venue in one-way mode with cross margin:

- Market orders (and limit orders marketable when placed) fill at once, in full, as
  taker, at the touch moved by a size-dependent price impact (see `rules.taker_price`).
- Other limit orders rest. Time moves only with the injected clock: every call first
  replays the feed ticks up to ``clock.now()`` (see `advance`). A resting buy fills at its
  limit price, as maker, on a tick whose ask is at or below it (a sell: bid at or above);
  each tick fills at most its own volume, in time priority, so a large order fills over
  several ticks.
- Wallet ``total`` moves by realized PnL minus fees; ``used`` is the initial margin of
  positions (at entry) and of the exposure-adding part of resting orders; ``free`` is the
  rest. Unrealized PnL shows on positions only; no liquidations, no funding.
- Errors are ccxt's classes, chosen as ccxt raises them for Bybit.
"""

from __future__ import annotations

import functools
import heapq
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from itertools import count
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from stratus.adapters.paper import rules, structures
from stratus.adapters.paper.account import NetPosition
from stratus.adapters.paper.errors import ccxt_error
from stratus.adapters.paper.feed import NoQuoteError, PriceFeed, Quote
from stratus.adapters.paper.markets import SETTLE, SPECS, MarketSpec
from stratus.adapters.paper.structures import PaperOrder, PaperTrade, millis

if TYPE_CHECKING:  # the port module pulls in pydantic and the domain; only types needed
    from stratus.ports import Clock

ZERO = Decimal(0)
P = ParamSpec("P")
R = TypeVar("R")


def _serialized(
    method: Callable[Concatenate[PaperExchange, P], R],
) -> Callable[Concatenate[PaperExchange, P], R]:
    """One call at a time: the local stack may share one venue between threads."""

    @functools.wraps(method)
    def locked(self: PaperExchange, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class PaperExchange:
    """ccxt-shaped paper trading venue (see the module docstring for the fill model)."""

    def __init__(
        self,
        feed: PriceFeed,
        clock: Clock,
        balances: dict[str, Decimal] | None = None,
        leverage: int | Decimal = 10,
    ) -> None:
        self.id = "paper"
        self._feed = feed
        self._clock = clock
        self._leverage = Decimal(leverage)
        start = balances if balances is not None else {SETTLE: Decimal(100000)}
        self._wallet = {currency: Decimal(str(v)) for currency, v in start.items()}
        self._wallet.setdefault(SETTLE, ZERO)
        self._specs = {s: SPECS[s] for s in feed.symbols if s in SPECS}
        self._markets: dict[str, Any] | None = None
        self._orders: dict[str, PaperOrder] = {}
        self._by_client_id: dict[str, PaperOrder] = {}
        self._resting: dict[str, PaperOrder] = {}
        self._positions: dict[str, NetPosition] = {}
        self._trades: list[PaperTrade] = []  # oldest first
        self._order_ids = count(1)
        self._trade_ids = count(1)
        self._synced = clock.now()
        self._lock = threading.RLock()

    # --- the Exchange port -------------------------------------------------------------

    @_serialized
    def load_markets(self, reload: bool = False) -> dict[str, Any]:
        """Markets for the feed's symbols that the venue lists."""
        if self._markets is None or reload:
            self._markets = {symbol: spec.to_ccxt() for symbol, spec in self._specs.items()}
        return self._markets

    @_serialized
    def fetch_ticker(self, symbol: str) -> dict[str, Any]:
        self.advance()
        self._spec(symbol)
        return structures.ticker(self._quote(symbol))

    @_serialized
    def fetch_bids_asks(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        self.advance()
        for symbol in symbols:
            self._spec(symbol)
        return {symbol: structures.ticker(self._quote(symbol)) for symbol in symbols}

    @_serialized
    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.advance()
        params = params or {}
        spec = self._spec(symbol)
        client_id = rules.check_client_order_id(params.get("clientOrderId"))
        if client_id in self._by_client_id:
            # Bybit 110072 "OrderLinkedID is duplicate", raised by ccxt as InvalidOrder
            raise ccxt_error("InvalidOrder", f"duplicate clientOrderId {client_id}")
        qty, limit = rules.checked_terms(spec, type, side, amount, price)
        reduce_only = bool(params.get("reduceOnly", False))
        position = self._position(symbol)
        if reduce_only and qty > position.closable(side):
            # Bybit 110017 "Reduce-only rule not satisfied", raised as InvalidOrder
            raise ccxt_error("InvalidOrder", "reduce-only order would increase position")
        fill_price = rules.taker_price(spec, self._quote(symbol), side, qty, limit)
        priced_at = fill_price if fill_price is not None else limit
        assert priced_at is not None  # a market order always has a taker price
        if not reduce_only and qty * priced_at < spec.min_cost:
            # Bybit 110094 "Order notional value below the lower limit"
            raise ccxt_error("InvalidOrder", f"order cost below minimum {spec.min_cost}")
        self._check_margin(spec, position.opening(side, qty), qty, priced_at)
        order = PaperOrder(
            id=f"paper-{next(self._order_ids):06d}",
            client_order_id=client_id,
            symbol=symbol,
            type=type,
            side=side,
            amount=qty,
            price=limit,
            reduce_only=reduce_only,
            timestamp=self._clock.now(),
        )
        self._orders[order.id] = order
        if client_id is not None:
            self._by_client_id[client_id] = order
        if fill_price is None:
            self._resting[order.id] = order
        else:
            self._fill(order, qty, fill_price, "taker", order.timestamp)
        return order.to_ccxt()

    @_serialized
    def fetch_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """By exchange id, or by params["clientOrderId"] when given (as ccxt-bybit)."""
        self.advance()
        return self._find(id, symbol, params).to_ccxt()

    @_serialized
    def cancel_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.advance()
        order = self._find(id, symbol, params)
        if order.status != "open":
            # Bybit answers 110001 "order not exists or too late to cancel", which ccxt
            # raises as OrderNotFound (a subclass of InvalidOrder).
            raise ccxt_error("OrderNotFound", f"order {order.id} is {order.status}")
        order.status = "canceled"
        order.updated = self._clock.now()
        del self._resting[order.id]
        return order.to_ccxt()

    @_serialized
    def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Working orders; params may filter by "clientOrderId" or Bybit's "orderLinkId"."""
        self.advance()
        return self._listed(True, symbol, since, limit, params)

    @_serialized
    def fetch_canceled_and_closed_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Final orders (filled or canceled), filtered like fetch_open_orders."""
        self.advance()
        return self._listed(False, symbol, since, limit, params)

    @_serialized
    def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.advance()
        used = dict.fromkeys(self._wallet, ZERO) | {SETTLE: self._used()}
        return structures.balance(self._wallet, used, self._clock.now())

    @_serialized
    def fetch_positions(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Open positions only (a flat symbol has none), sorted by symbol."""
        self.advance()
        for symbol in symbols or ():
            self._spec(symbol)
        now = self._clock.now()
        return [
            structures.position(held, self._quote(symbol).mid, self._leverage, now)
            for symbol, held in sorted(self._positions.items())
            if held.contracts != 0 and (symbols is None or symbol in symbols)
        ]

    # --- paper only --------------------------------------------------------------------

    @_serialized
    def advance(self) -> list[dict[str, Any]]:
        """Replay feed ticks up to clock.now(), filling resting orders; the new trades.

        Public so a replay can step explicitly; the port methods call it themselves, so
        the venue's state always matches the clock.
        """
        now = self._clock.now()
        if now <= self._synced:
            return []
        trades: list[PaperTrade] = []
        for tick in self._ticks_to(now):
            trades.extend(self._match(tick))
        self._synced = now
        return [trade.to_ccxt() for trade in trades]

    @_serialized
    def trades(self) -> list[PaperTrade]:
        """Every trade so far, all symbols, oldest first: what a served API lists as the
        account's trade history, in its own shape (Binance's /fapi/v1/userTrades)."""
        self.advance()
        return list(self._trades)

    # --- internals ---------------------------------------------------------------------

    def _ticks_to(self, now: datetime) -> Iterator[Quote]:
        """Ticks of symbols with resting orders, in time order (symbol breaks ties)."""
        symbols = sorted({order.symbol for order in self._resting.values()})
        series = [self._feed.ticks(symbol, self._synced, now) for symbol in symbols]
        return heapq.merge(*series, key=lambda q: (q.timestamp, q.symbol))

    def _match(self, tick: Quote) -> list[PaperTrade]:
        """Fill crossed resting orders of this symbol, oldest first, up to tick volume."""
        budget = tick.volume
        trades = []
        for order in list(self._resting.values()):
            if order.symbol != tick.symbol or order.timestamp >= tick.timestamp:
                continue  # a tick at or before placement was already seen when placing
            assert order.price is not None  # only limit orders rest
            crossed = tick.ask <= order.price if order.side == "buy" else tick.bid >= order.price
            if not crossed or budget <= 0:
                continue
            qty = min(order.remaining, budget)
            if order.reduce_only:
                qty = min(qty, self._position(order.symbol).closable(order.side))
            qty = qty.quantize(self._specs[order.symbol].amount_step, ROUND_DOWN)
            if qty > 0:
                trades.append(self._fill(order, qty, order.price, "maker", tick.timestamp))
                budget -= qty
            elif order.reduce_only:  # nothing left to reduce: Bybit cancels such orders
                order.status = "canceled"
                order.updated = tick.timestamp
                del self._resting[order.id]
        return trades

    def _fill(
        self, order: PaperOrder, qty: Decimal, price: Decimal, liquidity: str, at: datetime
    ) -> PaperTrade:
        """Record a trade: fee and realized PnL hit the wallet, the position moves."""
        spec = self._specs[order.symbol]
        rate = spec.taker if liquidity == "taker" else spec.maker
        position, pnl = self._position(order.symbol).apply(order.side, qty, price)
        trade = PaperTrade(
            id=f"paper-t-{next(self._trade_ids):06d}",
            order_id=order.id,
            symbol=order.symbol,
            type=order.type,
            side=order.side,
            timestamp=at,
            price=price,
            amount=qty,
            fee=price * qty * rate,
            taker_or_maker=liquidity,
            realized_pnl=pnl,
        )
        self._positions[order.symbol] = position
        self._wallet[SETTLE] += pnl - trade.fee
        self._trades.append(trade)
        order.record(trade)
        if order.status != "open":
            self._resting.pop(order.id, None)
        return trade

    def _check_margin(
        self, spec: MarketSpec, opening: Decimal, qty: Decimal, price: Decimal
    ) -> None:
        """Initial margin for the exposure added, plus a taker fee, must fit in free."""
        required = opening * price / self._leverage + qty * price * spec.taker
        free = self._wallet[SETTLE] - self._used()
        if required > free:
            message = f"order needs {required:f} {SETTLE}, free is {free:f}"
            raise ccxt_error("InsufficientFunds", message)

    def _used(self) -> Decimal:
        used = sum((p.margin(self._leverage) for p in self._positions.values()), ZERO)
        for order in self._resting.values():
            if not order.reduce_only and order.price is not None:
                opening = self._position(order.symbol).opening(order.side, order.remaining)
                used += opening * order.price / self._leverage
        return used

    def _listed(
        self,
        working: bool,
        symbol: str | None,
        since: int | None,
        limit: int | None,
        params: dict[str, Any] | None,
    ) -> list[dict[str, Any]]:
        if symbol is not None:
            self._spec(symbol)
        params = params or {}
        client_id = params.get("clientOrderId") or params.get("orderLinkId")
        pool = self._resting.values() if working else self._orders.values()
        found = [
            order.to_ccxt()
            for order in pool
            if (working or order.status != "open")
            and (symbol is None or order.symbol == symbol)
            and (since is None or millis(order.timestamp) >= since)
            and (client_id is None or order.client_order_id == client_id)
        ]
        return found if limit is None else found[:limit]

    def _find(
        self, id: str | None, symbol: str | None, params: dict[str, Any] | None
    ) -> PaperOrder:
        client_id = (params or {}).get("clientOrderId")
        order = self._by_client_id.get(client_id) if client_id else self._orders.get(id or "")
        if order is None or (symbol is not None and order.symbol != symbol):
            raise ccxt_error("OrderNotFound", f"order {client_id or id} not found")
        return order

    def _spec(self, symbol: str) -> MarketSpec:
        try:
            return self._specs[symbol]
        except KeyError:
            raise ccxt_error("BadSymbol", f"paper does not have market symbol {symbol}") from None

    def _quote(self, symbol: str) -> Quote:
        try:
            return self._feed.quote(symbol, self._clock.now())
        except NoQuoteError as exc:  # before the feed starts: nothing to trade against
            raise ccxt_error("ExchangeError", f"paper has no price: {exc}") from exc

    def _position(self, symbol: str) -> NetPosition:
        return self._positions.get(symbol) or NetPosition(symbol)
