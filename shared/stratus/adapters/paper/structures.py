"""Paper orders and trades, and the ccxt structures (order, trade, ticker, position).

State is Decimal; conversion to floats (what ccxt returns) happens only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from stratus.adapters.paper.account import NetPosition
from stratus.adapters.paper.feed import Quote
from stratus.adapters.paper.markets import SETTLE

ZERO = Decimal(0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def millis(moment: datetime) -> int:
    """Integer arithmetic: float timestamps can land one millisecond short."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def order_id(number: int) -> str:
    return f"paper-{number:06d}"


def trade_id(number: int) -> str:
    return f"paper-t-{number:06d}"


def sequence(paper_id: str) -> int:
    """The number in an order or trade id: ids are numbered in the order they were made."""
    return int(paper_id.rpartition("-")[2])


def iso(moment: datetime) -> str:
    """ccxt's iso8601(): UTC with milliseconds and a Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class PaperTrade:
    id: str
    order_id: str
    symbol: str
    type: str
    side: str
    timestamp: datetime
    price: Decimal
    amount: Decimal
    fee: Decimal
    taker_or_maker: str
    realized_pnl: Decimal = ZERO  # what this trade closed, before its fee (Binance's view)

    @property
    def cost(self) -> Decimal:
        return self.price * self.amount

    def to_ccxt(self) -> dict[str, Any]:
        fee = {"cost": float(self.fee), "currency": SETTLE}
        return {
            "id": self.id,
            "order": self.order_id,
            "info": {},
            "timestamp": millis(self.timestamp),
            "datetime": iso(self.timestamp),
            "symbol": self.symbol,
            "type": self.type,
            "side": self.side,
            "takerOrMaker": self.taker_or_maker,
            "price": float(self.price),
            "amount": float(self.amount),
            "cost": float(self.cost),
            "fee": fee,
            "fees": [dict(fee)],
        }


@dataclass(slots=True)
class PaperOrder:
    """A live order; only the exchange mutates it (fills, cancel)."""

    id: str
    client_order_id: str | None
    symbol: str
    type: str
    side: str
    amount: Decimal
    price: Decimal | None
    reduce_only: bool
    timestamp: datetime
    status: str = "open"
    trades: list[PaperTrade] = field(default_factory=list)
    updated: datetime | None = None
    # A conditional order: it waits until the mark reaches trigger_price from below
    # ("above") or from above ("below"), then trades as a market order (see triggers).
    trigger_price: Decimal | None = None
    trigger_direction: str | None = None
    triggered_at: datetime | None = None

    @property
    def waiting(self) -> bool:
        """A conditional order whose trigger the mark has not reached yet."""
        return self.trigger_price is not None and self.triggered_at is None

    @property
    def filled(self) -> Decimal:
        return sum((t.amount for t in self.trades), ZERO)

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled if self.status == "open" else ZERO

    @property
    def cost(self) -> Decimal:
        return sum((t.cost for t in self.trades), ZERO)

    @property
    def fee(self) -> Decimal:
        return sum((t.fee for t in self.trades), ZERO)

    @property
    def average(self) -> Decimal | None:
        filled = self.filled
        return self.cost / filled if filled else None

    def record(self, trade: PaperTrade) -> None:
        self.trades.append(trade)
        self.updated = trade.timestamp
        if self.filled >= self.amount:
            self.status = "closed"

    @property
    def _exit(self) -> str | None:
        """What a reduce-only conditional order protects against, as ccxt reads it: a sell
        that waits for a fall is a long's stop loss, one that waits for a rise its take
        profit (a buy, a short's, mirrored)."""
        if self.trigger_direction is None or not self.reduce_only:
            return None
        falling = self.trigger_direction == "below"
        return "stop_loss" if falling == (self.side == "sell") else "take_profit"

    def to_ccxt(self) -> dict[str, Any]:
        fee = {"cost": float(self.fee), "currency": SETTLE}
        last_trade = self.trades[-1].timestamp if self.trades else None
        updated = self.updated or self.timestamp
        return {
            "id": self.id,
            "clientOrderId": self.client_order_id,
            # Paper's own: what a served API needs to show a conditional order's state.
            "info": {
                "triggerDirection": self.trigger_direction,
                "triggered": self.triggered_at is not None,
            },
            "timestamp": millis(self.timestamp),
            "datetime": iso(self.timestamp),
            "lastTradeTimestamp": None if last_trade is None else millis(last_trade),
            "lastUpdateTimestamp": millis(updated),
            "symbol": self.symbol,
            "type": self.type,
            "timeInForce": "GTC" if self.type == "limit" else "IOC",
            "postOnly": False,
            "reduceOnly": self.reduce_only,
            "side": self.side,
            "price": to_float(self.price if self.type == "limit" else self.average),
            "triggerPrice": to_float(self.trigger_price),
            "stopPrice": to_float(self.trigger_price),
            "stopLossPrice": to_float(self.trigger_price if self._exit == "stop_loss" else None),
            "takeProfitPrice": to_float(
                self.trigger_price if self._exit == "take_profit" else None
            ),
            "average": to_float(self.average),
            "amount": float(self.amount),
            "filled": float(self.filled),
            "remaining": float(self.remaining),
            "cost": float(self.cost),
            "status": self.status,
            "fee": fee,
            "fees": [dict(fee)],
            "trades": [trade.to_ccxt() for trade in self.trades],
        }


def ticker(quote: Quote) -> dict[str, Any]:
    """ccxt ticker; the feed has no 24h statistics, so those fields are None."""
    last = float(quote.last)
    return {
        "symbol": quote.symbol,
        "timestamp": millis(quote.timestamp),
        "datetime": iso(quote.timestamp),
        "high": None,
        "low": None,
        "bid": float(quote.bid),
        "bidVolume": None,
        "ask": float(quote.ask),
        "askVolume": None,
        "vwap": None,
        "open": None,
        "close": last,
        "last": last,
        "previousClose": None,
        "change": None,
        "percentage": None,
        "average": None,
        "baseVolume": float(quote.volume),
        "quoteVolume": None,
        "markPrice": float(quote.mid),
        "indexPrice": None,
        "info": {},
    }


def balance(
    totals: Mapping[str, Decimal], used: Mapping[str, Decimal], now: datetime
) -> dict[str, Any]:
    """ccxt balance: per currency {free, used, total}, and per field {currency: amount}."""
    result: dict[str, Any] = {"info": {}, "timestamp": millis(now), "datetime": iso(now)}
    result.update(free={}, used={}, total={})
    for currency, total in totals.items():
        entry = {
            "free": float(total - used[currency]),
            "used": float(used[currency]),
            "total": float(total),
        }
        result[currency] = entry
        for key, value in entry.items():
            result[key][currency] = value
    return result


def position(held: NetPosition, mark: Decimal, leverage: Decimal, now: datetime) -> dict[str, Any]:
    """ccxt position (one-way, cross): contracts unsigned, direction in `side`."""
    size = abs(held.contracts)
    return {
        "info": {},
        "id": None,
        "symbol": held.symbol,
        "timestamp": millis(now),
        "datetime": iso(now),
        "side": held.side,
        "contracts": float(size),
        "contractSize": 1.0,
        "entryPrice": float(held.entry_price),
        "markPrice": float(mark),
        "notional": float(size * mark),
        "leverage": float(leverage),
        "unrealizedPnl": float(held.unrealized_pnl(mark)),
        "realizedPnl": float(held.realized_pnl),
        "initialMargin": float(held.margin(leverage)),
        "marginMode": "cross",
        "hedged": False,
        "liquidationPrice": None,
    }
