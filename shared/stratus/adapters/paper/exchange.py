"""A deterministic paper exchange: the ccxt `Exchange` port, filled from a PriceFeed.

Behaves like a USDT-margined linear perpetual venue in one-way mode with cross margin:

- Market orders (and limit orders marketable when placed) fill at once, in full, as
  taker, at the touch moved by a size-dependent price impact (see `rules.taker_price`).
- Other limit orders rest. Time moves only with the injected clock: every call first
  replays the feed ticks up to ``clock.now()`` (see `Book.advance`). A resting buy
  fills at its limit price, as maker, on a tick whose ask is at or below it (a sell: bid
  at or above); each tick fills at most its own volume, in time priority, so a large
  order fills over several ticks.
- Wallet ``total`` moves by realized PnL minus fees; ``used`` is the initial margin of
  positions (at entry) and of the exposure-adding part of resting orders; ``free`` is the
  rest. Unrealized PnL shows on positions only; no liquidations, no funding.
- Conditional orders (ccxt's triggerPrice, stopLossPrice, takeProfitPrice params) are
  reduce-only market orders that rest until a tick's mark (mid) reaches the trigger,
  then fill as taker at that tick, for at most the position left (see `triggers`).
  ``conditional_orders=False`` makes a venue without them: trigger params raise
  NotSupported, and `has` says so (Stratus then watches marks itself).
- At most MAX_WORKING orders rest at once (Binance's limit per symbol).
- Errors are ccxt's classes, chosen as ccxt raises them for Bybit.

The venue lives in a `PaperVenueStore`, one `Book` per account: every call loads the
book, acts on it at max(clock, the book's last match) and saves it back if it changed,
compare-and-set on its version, starting over when another process saved first. So all
processes on one durable store (SQL, Firestore) trade on the same venue and a restart
keeps it; the default store lives in this process' memory. Final orders move to the
store's history, kept for HISTORY: lookups by id and clientOrderId, duplicate ids,
trade lists.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

from stratus.adapters.paper import rules, structures, triggers
from stratus.adapters.paper.book import Book, decode, decode_order, encode, encode_order
from stratus.adapters.paper.errors import ccxt_error
from stratus.adapters.paper.feed import NoQuoteError, PriceFeed, Quote
from stratus.adapters.paper.markets import SETTLE, SPECS, MarketSpec
from stratus.adapters.paper.memory_store import MemoryVenueStore
from stratus.adapters.paper.structures import PaperOrder, PaperTrade, millis, sequence
from stratus.domain.errors import ConcurrentUpdate
from stratus.ports import Clock, FinishedOrder, PaperVenueStore

MAX_WORKING = 200
HISTORY = timedelta(days=7)  # Stratus looks orders up for an hour or so (max event age)
ATTEMPTS = 50  # lost compare-and-set races before a call gives up (ExchangeNotAvailable)
P = ParamSpec("P")
R = TypeVar("R")


class PaperExchange:
    """ccxt-shaped paper trading venue (see the module docstring for the fill model)."""

    def __init__(
        self,
        feed: PriceFeed,
        clock: Clock,
        balances: Mapping[str, Decimal] | None = None,
        leverage: int | Decimal = 10,
        *,
        store: PaperVenueStore | None = None,
        account: str = "paper",
        conditional_orders: bool = True,
    ) -> None:
        self.id = "paper"
        self.conditional_orders = conditional_orders
        # ccxt's capability flags, as far as Stratus reads them
        self.has = dict.fromkeys(
            ("createTriggerOrder", "createStopLossOrder", "createTakeProfitOrder"),
            conditional_orders,
        )
        self._feed = feed
        self._clock = clock
        self._leverage = Decimal(leverage)
        self._balances = balances if balances is not None else {SETTLE: Decimal(100000)}
        self._specs = {s: SPECS[s] for s in feed.symbols if s in SPECS}
        self._markets: dict[str, Any] | None = None
        self._store: PaperVenueStore = store if store is not None else MemoryVenueStore()
        self._account = account
        self._lock = threading.Lock()

    # --- the Exchange port -------------------------------------------------------------

    def load_markets(self, reload: bool = False) -> dict[str, Any]:
        """Markets for the feed's symbols that the venue lists."""
        if self._markets is None or reload:
            self._markets = {symbol: spec.to_ccxt() for symbol, spec in self._specs.items()}
        return self._markets

    def fetch_time(self, params: dict[str, Any] | None = None) -> int:
        return millis(self._clock.now())

    def fetch_ticker(self, symbol: str) -> dict[str, Any]:
        self._spec(symbol)
        return structures.ticker(self._quote(symbol, self._clock.now()))

    def fetch_bids_asks(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        for symbol in symbols:
            self._spec(symbol)
        now = self._clock.now()
        return {symbol: structures.ticker(self._quote(symbol, now)) for symbol in symbols}

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self._transact(self._create, symbol, type, side, amount, price, params or {})

    def fetch_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """By exchange id, or by params["clientOrderId"] when given (as ccxt-bybit)."""
        return self._transact(self._fetch, id, symbol, params or {})

    def cancel_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._transact(self._cancel, id, symbol, params or {})

    def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Working orders; params may filter by "clientOrderId" or Bybit's "orderLinkId",
        and "trigger" (ccxt's unified flag) keeps conditional orders only."""
        return self._transact(self._listed, True, symbol, since, limit, params or {})

    def fetch_canceled_and_closed_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Final orders (filled or canceled) of the last HISTORY, filtered like
        fetch_open_orders."""
        return self._transact(self._listed, False, symbol, since, limit, params or {})

    def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._transact(self._balance)

    def fetch_positions(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Open positions only (a flat symbol has none), sorted by symbol."""
        for symbol in symbols or ():
            self._spec(symbol)
        return self._transact(self._positions, symbols)

    # --- paper only --------------------------------------------------------------------

    def advance(self) -> list[dict[str, Any]]:
        """Replay feed ticks up to clock.now(), filling resting orders; the new trades.

        Public so a replay can step explicitly; the port methods replay first themselves,
        so the venue's state always matches the clock.
        """
        return self._transact(lambda book, now: [t.to_ccxt() for t in self._sync(book, now)])

    def trades(self, order_id: str | None = None) -> list[PaperTrade]:
        """The account's trades of the last HISTORY, oldest first, or those of one order:
        what a served API lists as trade history (Binance's /fapi/v1/userTrades)."""
        return self._transact(self._trades, order_id)

    # --- one call on the stored book ---------------------------------------------------

    def _transact(
        self,
        operation: Callable[Concatenate[Book, datetime, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run `operation` on the account's book and store what it changed.

        Compare-and-set on the book's version: when another writer saved first, the call
        starts over on the newer book (a jittered pause first, so racers spread out).
        This process' threads take turns instead of racing.
        """
        with self._lock:
            for attempt in range(ATTEMPTS):
                stored = self._store.load(self._account)
                book = Book.opened(self._balances) if stored is None else decode(stored.document)
                before = encode(book) if stored is None else stored.document
                now = self._clock.now()
                if book.synced is not None and book.synced > now:
                    now = book.synced  # another process' clock ran ahead: time never goes back
                result = operation(book, now, *args, **kwargs)
                after = encode(book)
                if after == before:
                    return result
                finished = [self._finished(order) for order in book.retired]
                try:
                    version = 0 if stored is None else stored.version
                    self._store.save(self._account, version, after, finished)
                except ConcurrentUpdate:
                    time.sleep(random.uniform(0, 0.001 * (attempt + 1)))
                    continue
                return result
        message = f"paper venue {self._account} busy: lost {ATTEMPTS} races to save"
        raise ccxt_error("ExchangeNotAvailable", message)

    def _sync(self, book: Book, now: datetime) -> list[PaperTrade]:
        return book.advance(self._feed, now)

    def _create(
        self,
        book: Book,
        now: datetime,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        self._sync(book, now)
        spec = self._spec(symbol)
        client_id = rules.check_client_order_id(params.get("clientOrderId"))
        if client_id is not None and self._order(book, client_id=client_id) is not None:
            # Bybit 110072 "OrderLinkedID is duplicate", raised by ccxt as InvalidOrder
            raise ccxt_error("InvalidOrder", f"duplicate clientOrderId {client_id}")
        qty, limit = rules.checked_terms(spec, type, side, amount, price)
        trigger = triggers.trigger_of(params, spec, type, side, self.conditional_orders)
        if trigger is not None:
            return self._rest_conditional(book, now, spec, side, qty, client_id, trigger)
        reduce_only = bool(params.get("reduceOnly", False))
        position = book.position(symbol)
        if reduce_only and qty > position.closable(side):
            # Bybit 110017 "Reduce-only rule not satisfied", raised as InvalidOrder
            raise ccxt_error("InvalidOrder", "reduce-only order would increase position")
        fill_price = rules.taker_price(spec, self._quote(symbol, now), side, qty, limit)
        priced_at = fill_price if fill_price is not None else limit
        assert priced_at is not None  # a market order always has a taker price
        if not reduce_only and qty * priced_at < spec.min_cost:
            # Bybit 110094 "Order notional value below the lower limit"
            raise ccxt_error("InvalidOrder", f"order cost below minimum {spec.min_cost}")
        self._check_margin(book, spec, position.opening(side, qty), qty, priced_at)
        if fill_price is None and len(book.working) >= MAX_WORKING:
            # Binance -2025 "Reach max open order limit."
            raise ccxt_error("InvalidOrder", f"max open orders {MAX_WORKING} reached")
        order = PaperOrder(
            id=book.new_order_id(),
            client_order_id=client_id,
            symbol=symbol,
            type=type,
            side=side,
            amount=qty,
            price=limit,
            reduce_only=reduce_only,
            timestamp=now,
        )
        if fill_price is None:
            book.rest(order)
        else:
            book.fill(order, qty, fill_price, "taker", now)
        return order.to_ccxt()

    def _rest_conditional(
        self,
        book: Book,
        now: datetime,
        spec: MarketSpec,
        side: str,
        qty: Decimal,
        client_id: str | None,
        trigger: triggers.Trigger,
    ) -> dict[str, Any]:
        """A reduce-only market order waiting for its trigger. What it reduces is judged
        when it fires (the position may grow or shrink meanwhile), so no margin now."""
        triggers.check_waits(trigger, self._quote(spec.symbol, now).mid)
        if len(book.working) >= MAX_WORKING:
            raise ccxt_error("InvalidOrder", f"max open orders {MAX_WORKING} reached")
        order = trigger.order(book.new_order_id(), client_id, spec.symbol, side, qty, now)
        book.rest(order)
        return order.to_ccxt()

    def _fetch(
        self, book: Book, now: datetime, id: str, symbol: str | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._sync(book, now)
        return self._find(book, id, symbol, params).to_ccxt()

    def _cancel(
        self, book: Book, now: datetime, id: str, symbol: str | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._sync(book, now)
        order = self._find(book, id, symbol, params)
        if order.status != "open":
            # Bybit answers 110001 "order not exists or too late to cancel", which ccxt
            # raises as OrderNotFound (a subclass of InvalidOrder).
            raise ccxt_error("OrderNotFound", f"order {order.id} is {order.status}")
        book.cancel(order, now)
        return order.to_ccxt()

    def _listed(
        self,
        book: Book,
        now: datetime,
        working: bool,
        symbol: str | None,
        since: int | None,
        limit: int | None,
        params: dict[str, Any],
    ) -> list[dict[str, Any]]:
        self._sync(book, now)
        if symbol is not None:
            self._spec(symbol)
        client_id = params.get("clientOrderId") or params.get("orderLinkId")
        conditional = bool(params.get("trigger") or params.get("stop"))
        pool = list(book.working.values()) if working else self._final(book, client_id=client_id)
        found = [
            order.to_ccxt()
            for order in pool
            if (symbol is None or order.symbol == symbol)
            and (since is None or millis(order.timestamp) >= since)
            and (client_id is None or order.client_order_id == client_id)
            and (not conditional or order.trigger_price is not None)
        ]
        return found if limit is None else found[:limit]

    def _balance(self, book: Book, now: datetime) -> dict[str, Any]:
        self._sync(book, now)
        used = dict.fromkeys(book.wallet, Decimal(0)) | {SETTLE: book.used(self._leverage)}
        return structures.balance(book.wallet, used, now)

    def _positions(
        self, book: Book, now: datetime, symbols: list[str] | None
    ) -> list[dict[str, Any]]:
        self._sync(book, now)
        return [
            structures.position(held, self._quote(symbol, now).mid, self._leverage, now)
            for symbol, held in sorted(book.positions.items())
            if held.contracts != 0 and (symbols is None or symbol in symbols)
        ]

    def _trades(self, book: Book, now: datetime, order_id: str | None) -> list[PaperTrade]:
        self._sync(book, now)
        if order_id is None:
            orders = [*self._final(book), *book.working.values()]
        else:
            found = self._order(book, order_id=order_id)
            orders = [] if found is None else [found]
        return sorted((t for o in orders for t in o.trades), key=lambda t: sequence(t.id))

    # --- internals ---------------------------------------------------------------------

    def _find(
        self, book: Book, id: str | None, symbol: str | None, params: dict[str, Any]
    ) -> PaperOrder:
        client_id = params.get("clientOrderId")
        if client_id:
            found = self._order(book, client_id=client_id)
        else:
            found = self._order(book, order_id=id or "")
        if found is None or (symbol is not None and found.symbol != symbol):
            raise ccxt_error("OrderNotFound", f"order {client_id or id} not found")
        return found

    def _order(
        self, book: Book, order_id: str | None = None, client_id: str | None = None
    ) -> PaperOrder | None:
        """The order with this id or this clientOrderId, working or final."""
        for order in book.working.values():
            if order.id == order_id or (client_id and order.client_order_id == client_id):
                return order
        final = self._final(book, order_id, client_id)
        return final[-1] if final else None

    def _final(
        self, book: Book, order_id: str | None = None, client_id: str | None = None
    ) -> list[PaperOrder]:
        """Final orders, oldest first: the history, and those this call just finished."""
        stored = self._store.finished_orders(self._account, order_id, client_id)
        orders = {order.id: order for order in map(decode_order, stored)}
        for order in book.retired:
            if (order_id is None or order.id == order_id) and (
                client_id is None or order.client_order_id == client_id
            ):
                orders[order.id] = order
        return sorted(orders.values(), key=lambda order: sequence(order.id))

    def _finished(self, order: PaperOrder) -> FinishedOrder:
        final_at = order.updated or order.timestamp
        return FinishedOrder(
            order.id, order.client_order_id, final_at + HISTORY, encode_order(order)
        )

    def _check_margin(
        self, book: Book, spec: MarketSpec, opening: Decimal, qty: Decimal, price: Decimal
    ) -> None:
        """Initial margin for the exposure added, plus a taker fee, must fit in free."""
        required = opening * price / self._leverage + qty * price * spec.taker
        free = book.wallet[SETTLE] - book.used(self._leverage)
        if required > free:
            message = f"order needs {required:f} {SETTLE}, free is {free:f}"
            raise ccxt_error("InsufficientFunds", message)

    def _spec(self, symbol: str) -> MarketSpec:
        try:
            return self._specs[symbol]
        except KeyError:
            raise ccxt_error("BadSymbol", f"paper does not have market symbol {symbol}") from None

    def _quote(self, symbol: str, now: datetime) -> Quote:
        try:
            return self._feed.quote(symbol, now)
        except NoQuoteError as exc:  # before the feed starts: nothing to trade against
            raise ccxt_error("ExchangeError", f"paper has no price: {exc}") from exc
