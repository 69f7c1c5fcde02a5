"""One account's paper venue as data, and the fill model's bookkeeping on it.

A Book is what a venue store keeps per account between calls: the wallet, net positions,
working (resting) orders, the id counters and how far the feed has been matched. Orders
leave the book once final (filled or canceled); `retired` lists those of the current
call, which the exchange hands to the store's order history. `encode`/`decode` are the
stored form (JSON: Decimals as strings), and decode(encode(book)) encodes the same again,
so comparing the text tells whether a call changed anything.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from functools import cache
from typing import TYPE_CHECKING

from stratus.adapters.paper import rules, triggers
from stratus.adapters.paper.account import NetPosition
from stratus.adapters.paper.feed import PriceFeed, Quote
from stratus.adapters.paper.markets import SETTLE, SPECS
from stratus.adapters.paper.structures import PaperOrder, PaperTrade, order_id, trade_id

if TYPE_CHECKING:
    from pydantic import TypeAdapter

ZERO = Decimal(0)


@dataclass
class Book:
    wallet: dict[str, Decimal]
    positions: dict[str, NetPosition] = field(default_factory=dict)
    working: dict[str, PaperOrder] = field(default_factory=dict)  # by id, oldest first
    orders_placed: int = 0
    trades_made: int = 0
    synced: datetime | None = None  # feed ticks up to here are matched against `working`

    def __post_init__(self) -> None:
        self.retired: list[PaperOrder] = []  # left the book during this call (not stored)

    @classmethod
    def opened(cls, balances: Mapping[str, Decimal]) -> Book:
        """A new account: the given balances (and the settlement currency), nothing else."""
        return cls(wallet={SETTLE: ZERO} | {c: Decimal(str(v)) for c, v in balances.items()})

    def position(self, symbol: str) -> NetPosition:
        return self.positions.get(symbol) or NetPosition(symbol)

    def new_order_id(self) -> str:
        self.orders_placed += 1
        return order_id(self.orders_placed)

    def used(self, leverage: Decimal) -> Decimal:
        """Initial margin of the positions (at entry) and of what resting orders would add."""
        used = sum((p.margin(leverage) for p in self.positions.values()), ZERO)
        for order in self.working.values():
            if not order.reduce_only and order.price is not None:
                opening = self.position(order.symbol).opening(order.side, order.remaining)
                used += opening * order.price / leverage
        return used

    def rest(self, order: PaperOrder) -> None:
        self.working[order.id] = order

    def cancel(self, order: PaperOrder, at: datetime) -> None:
        order.status = "canceled"
        order.updated = at
        self._retire(order)

    def fill(
        self, order: PaperOrder, qty: Decimal, price: Decimal, liquidity: str, at: datetime
    ) -> PaperTrade:
        """Record a trade: fee and realized PnL hit the wallet, the position moves."""
        spec = SPECS[order.symbol]
        rate = spec.taker if liquidity == "taker" else spec.maker
        position, pnl = self.position(order.symbol).apply(order.side, qty, price)
        self.trades_made += 1
        trade = PaperTrade(
            id=trade_id(self.trades_made),
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
        self.positions[order.symbol] = position
        self.wallet[SETTLE] += pnl - trade.fee
        order.record(trade)
        if order.status != "open":
            self._retire(order)
        return trade

    def advance(self, feed: PriceFeed, now: datetime) -> list[PaperTrade]:
        """Match the feed's ticks up to `now` against the working orders; the new trades.

        Each order only meets ticks after it was placed, so the replay starts at the
        oldest working order or at `synced`, whichever is later; `synced` moves only when
        ticks were matched (an idle account is not rewritten on every read).
        """
        if self.synced is not None and now <= self.synced:
            return []
        trades: list[PaperTrade] = []
        matched = False
        for tick in self._ticks(feed, now):
            matched = True
            trades.extend(self._match(tick))
        if matched:
            self.synced = now
        return trades

    def _ticks(self, feed: PriceFeed, now: datetime) -> Iterator[Quote]:
        """Ticks of symbols with working orders, in time order (symbol breaks ties)."""
        oldest: dict[str, datetime] = {}
        for order in self.working.values():
            oldest.setdefault(order.symbol, order.timestamp)
        series = [
            feed.ticks(symbol, max(placed, self.synced or placed), now)
            for symbol, placed in sorted(oldest.items())
        ]
        return heapq.merge(*series, key=lambda q: (q.timestamp, q.symbol))

    def _match(self, tick: Quote) -> list[PaperTrade]:
        """Fill crossed working orders of this symbol, oldest first, up to tick volume;
        fire conditional orders whose trigger the tick's mark reached."""
        budget = tick.volume
        trades = []
        for order in list(self.working.values()):
            if order.symbol != tick.symbol or order.timestamp >= tick.timestamp:
                continue  # a tick at or before placement was already seen when placing
            if order.waiting:
                trades.extend(self._fire(order, tick))
                continue
            assert order.price is not None  # only limit orders rest untriggered
            crossed = tick.ask <= order.price if order.side == "buy" else tick.bid >= order.price
            if not crossed or budget <= 0:
                continue
            qty = min(order.remaining, budget)
            if order.reduce_only:
                qty = min(qty, self.position(order.symbol).closable(order.side))
            qty = qty.quantize(SPECS[order.symbol].amount_step, ROUND_DOWN)
            if qty > 0:
                trades.append(self.fill(order, qty, order.price, "maker", tick.timestamp))
                budget -= qty
            elif order.reduce_only:  # nothing left to reduce: Bybit cancels such orders
                self.cancel(order, tick.timestamp)
        return trades

    def _fire(self, order: PaperOrder, tick: Quote) -> list[PaperTrade]:
        """A conditional order whose trigger the mark reached trades as a market order,
        as taker at the touch (size impact as for any market order), for no more than
        the position it reduces; the rest is canceled, all of it when nothing is left
        to reduce (as Bybit cancels a reduce-only order that would open a position)."""
        assert order.trigger_price is not None
        if not triggers.reached(order.trigger_direction, order.trigger_price, tick.mid):
            return []
        order.triggered_at = order.updated = tick.timestamp
        spec = SPECS[order.symbol]
        closable = self.position(order.symbol).closable(order.side)
        qty = min(order.amount, closable).quantize(spec.amount_step, ROUND_DOWN)
        trades = []
        if qty > 0:
            price = rules.taker_price(spec, tick, order.side, qty, None)
            assert price is not None  # a market order always has a taker price
            trades.append(self.fill(order, qty, price, "taker", tick.timestamp))
        if order.status == "open":
            self.cancel(order, tick.timestamp)
        return trades

    def _retire(self, order: PaperOrder) -> None:
        self.working.pop(order.id, None)
        self.retired.append(order)


def encode(book: Book) -> str:
    return _book_type().dump_json(book).decode()


def decode(document: str) -> Book:
    return _book_type().validate_json(document)


def encode_order(order: PaperOrder) -> str:
    return _order_type().dump_json(order).decode()


def decode_order(document: str) -> PaperOrder:
    return _order_type().validate_json(document)


# Built on first use: pydantic's schema building is work a cold start need not do at import.
@cache
def _book_type() -> TypeAdapter[Book]:
    from pydantic import TypeAdapter

    return TypeAdapter(Book)


@cache
def _order_type() -> TypeAdapter[PaperOrder]:
    from pydantic import TypeAdapter

    return TypeAdapter(PaperOrder)
