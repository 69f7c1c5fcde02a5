"""The one translation between ccxt's unified API and the domain.

Wraps any object speaking ccxt's unified methods (a real ccxt exchange or the paper
exchange), turns its dicts into domain types and (through ccxt_errors) its exceptions into
the domain hierarchy. It never imports ccxt (a 0.45 s import).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from stratus.adapters.ccxt_errors import ccxt_names, mapped
from stratus.domain import errors
from stratus.domain.accounts import AssetBalance
from stratus.domain.market import Market, Quote, quote_currency
from stratus.domain.orders import ExchangeOrder, ExitKind, Liquidity, OrderRequest, OrderStatus
from stratus.observability import log_fields
from stratus.ports import Exchange, VenueOrder, VenuePosition

log = logging.getLogger(__name__)

# Exchanges whose conditional orders this gateway follows: placed with ccxt's unified
# stopLossPrice / takeProfitPrice, then found by clientOrderId in the open orders and
# the history like any order (Bybit's v5 lists conditional orders there by default).
# Not Binance USDⓈ-M: ccxt sends its conditional orders to the separate algo-order API,
# whose orders carry a clientAlgoId and are listed apart; Stratus watches marks there.
_CONDITIONAL_VENUES = ("bybit", "paper")
_CAPABILITIES = ("createStopLossOrder", "createTakeProfitOrder")
# Extra create params for a conditional order: Stratus' exits fire on the mark price
# (Bybit triggers on the last price unless told otherwise).
_TRIGGER_PARAMS: dict[str, dict[str, Any]] = {"bybit": {"triggerBy": "MarkPrice"}}


def _dec(value: Any, default: str = "0") -> Decimal:
    return Decimal(default) if value is None else Decimal(str(value))


_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}


def parse_order(order: dict[str, Any]) -> ExchangeOrder:
    """A ccxt order dict in domain terms."""
    filled = _dec(order.get("filled"))
    status = _STATUS.get(order.get("status") or "")
    if status is None:
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN
    cost = order.get("cost")
    if cost is None and order.get("average") is not None:
        cost = filled * _dec(order["average"])
    fee = order.get("fee") or {}
    trades = order.get("trades") or []
    taker_or_maker = trades[-1].get("takerOrMaker") if trades else None
    if taker_or_maker is None:
        taker_or_maker = "taker" if order.get("type") == "market" else "maker"
    stamp = (
        order.get("lastTradeTimestamp")
        or order.get("lastUpdateTimestamp")
        or order.get("timestamp")
    )
    return ExchangeOrder(
        exchange_order_id=str(order["id"]),
        status=status,
        filled=filled,
        cost=_dec(cost),
        fee=_dec(fee.get("cost")),
        fee_currency=str(fee.get("currency") or ""),
        liquidity=Liquidity(taker_or_maker),
        updated_at=_when(stamp),
    )


def parse_market(market: dict[str, Any]) -> Market:
    limits = market.get("limits") or {}
    amount_limits = limits.get("amount") or {}
    cost_limits = limits.get("cost") or {}
    max_amount = amount_limits.get("max")
    min_cost = cost_limits.get("min")
    return Market(
        symbol=market["symbol"],
        base=market["base"],
        quote=market["quote"],
        amount_step=_dec(market["precision"]["amount"]),
        price_step=_dec(market["precision"]["price"]),
        min_amount=_dec(amount_limits.get("min"), "0"),
        max_amount=None if max_amount is None else _dec(max_amount),
        min_cost=None if min_cost is None else _dec(min_cost),
        maker_fee=_dec(market.get("maker")),
        taker_fee=_dec(market.get("taker")),
    )


class ExchangeGateway:
    """A Venue over a ccxt-like client. Markets are loaded once per gateway."""

    def __init__(self, client: Exchange, settle_currency: str = "USDT") -> None:
        self.client = client
        self.settle_currency = settle_currency
        self._markets: dict[str, Market] | None = None
        # Not in the Exchange port: ccxt clients have it, the paper venue too.
        has = getattr(client, "has", None) or {}
        self._conditional = client.id in _CONDITIONAL_VENUES and all(
            has.get(name) for name in _CAPABILITIES
        )

    @property
    def conditional_orders(self) -> bool:
        """The venue keeps Stratus' exits itself: ccxt can create its stop-loss and
        take-profit orders, and this gateway follows them (see _CONDITIONAL_VENUES)."""
        return self._conditional

    def markets(self) -> dict[str, Market]:
        if self._markets is None:
            with mapped():
                raw = self.client.load_markets()
            self._markets = {symbol: parse_market(m) for symbol, m in raw.items()}
        return self._markets

    def market(self, symbol: str) -> Market:
        try:
            return self.markets()[symbol]
        except KeyError:
            raise errors.UnknownSymbol(symbol) from None

    def quote(self, symbol: str) -> Quote:
        self.market(symbol)
        with mapped(symbol):
            ticker = self.client.fetch_ticker(symbol)
            if ticker.get("bid") is None or ticker.get("ask") is None:
                # Some tickers carry no touch (Binance futures' 24hr statistics): the
                # book ticker has it.
                book = self.client.fetch_bids_asks([symbol]).get(symbol, {})
                ticker = {**ticker, "bid": book.get("bid"), "ask": book.get("ask")}
        if ticker.get("bid") is None or ticker.get("ask") is None:
            raise errors.ExchangeUnavailable(f"{self.client.id} gave no bid and ask for {symbol}")
        stamp = ticker.get("timestamp")
        return Quote(
            symbol=symbol,
            bid=_dec(ticker["bid"]),
            ask=_dec(ticker["ask"]),
            last=_dec(ticker.get("last") or ticker["bid"]),
            at=datetime.fromtimestamp(stamp / 1000, UTC) if stamp else datetime.now(UTC),
        )

    def ping(self) -> None:
        with mapped():
            self.client.fetch_time()

    def place(self, request: OrderRequest) -> ExchangeOrder:
        """Place the order; a protective exit (trigger_price) goes as the venue's own
        conditional order when it has them, else as the market order it is now (its
        trigger, watched by Stratus, has fired)."""
        params: dict[str, Any] = {"clientOrderId": request.client_order_id}
        if request.reduce_only:
            params["reduceOnly"] = True
        conditional = request.trigger_price is not None and self.conditional_orders
        if conditional:
            params.update(self._trigger_params(request))
        price = float(request.limit_price) if request.limit_price is not None else None
        with mapped(request.symbol):
            created = self.client.create_order(
                request.symbol,
                request.order_type.value,
                request.side.value,
                float(request.quantity),
                price,
                params,
            )
        if created.get("status") is None or created.get("filled") is None:
            # Bybit only acknowledges with ids: ask for the state by our own id.
            # A market order is normally final already: ask the history first
            # (not a conditional one: it waits for its trigger).
            final_first = request.order_type.value == "market" and not conditional
            with mapped(request.symbol):
                raw = _find_by_client_id(
                    self.client, request.client_order_id, request.symbol, final_first
                )
            if raw is not None:
                return self._with_fees(raw, request.symbol)
            return parse_order({**created, "status": "open", "filled": 0, "type": None})
        return self._with_fees(created, request.symbol)

    def _trigger_params(self, request: OrderRequest) -> dict[str, Any]:
        """ccxt's unified stop-loss / take-profit params: ccxt derives the direction the
        mark must move from the side (Bybit's triggerDirection) and sends reduceOnly."""
        assert request.trigger_price is not None
        kind = "stopLossPrice" if request.exit_kind is ExitKind.STOP_LOSS else "takeProfitPrice"
        return {
            kind: float(request.trigger_price),
            "reduceOnly": True,
            **_TRIGGER_PARAMS.get(self.client.id, {}),
        }

    def lookup(self, client_order_id: str, symbol: str) -> ExchangeOrder | None:
        with mapped(symbol):
            found = _find_by_client_id(self.client, client_order_id, symbol)
        return None if found is None else self._with_fees(found, symbol)

    def _with_fees(self, raw: dict[str, Any], symbol: str) -> ExchangeOrder:
        """parse_order, plus the fee from the order's trades when a filled order carries
        none (Binance futures: /fapi/v1/userTrades). Orders with a fee (Bybit's) cost no
        request. The trades are all of the order's, so the fee stays cumulative."""
        order = parse_order(raw)
        fee = raw.get("fee") or {}
        # Not in the Exchange port: ccxt clients have it, the paper venue need not.
        has = getattr(self.client, "has", None) or {}
        read = getattr(self.client, "fetch_my_trades", None) if has.get("fetchMyTrades") else None
        if order.filled <= 0 or fee.get("cost") is not None or read is None:
            return order
        mine = order.exchange_order_id
        with mapped(symbol):
            listed = read(symbol, None, None, {"orderId": mine})
        # An exchange that ignores orderId lists other orders' trades too: keep this one's.
        trades = [t for t in listed if t.get("order") is None or str(t["order"]) == mine]
        if not trades:
            return order
        cost, currency = _summed_fee(trades, quote_currency(symbol))
        liquidity = trades[-1].get("takerOrMaker")
        return order.model_copy(
            update={
                "fee": cost,
                "fee_currency": currency,
                "liquidity": Liquidity(liquidity) if liquidity else order.liquidity,
            }
        )

    def cancel(self, exchange_order_id: str, symbol: str) -> None:
        with mapped(symbol):
            self.client.cancel_order(exchange_order_id, symbol)

    def equity(self) -> Decimal:
        return self.balances().get(self.settle_currency, Decimal(0))

    def balances(self) -> dict[str, Decimal]:
        return {item.asset: item.total for item in self.wallet()}

    def wallet(self) -> list[AssetBalance]:
        """ccxt's free/used/total per currency; a currency without a total is not held."""
        with mapped():
            balance = self.client.fetch_balance()
        totals = balance.get("total") or {}
        free, used = balance.get("free") or {}, balance.get("used") or {}
        return [
            AssetBalance(
                asset=currency,
                free=_dec(free.get(currency), str(total)),
                used=_dec(used.get(currency)),
                total=_dec(total),
            )
            for currency, total in sorted(totals.items())
            if total is not None
        ]

    def open_orders(self) -> list[VenueOrder]:
        with mapped():
            listed = self.client.fetch_open_orders()
        return [
            VenueOrder(
                client_order_id=order.get("clientOrderId") or None,
                symbol=str(order["symbol"]),
                placed_at=_when(order.get("timestamp")),
                order=parse_order(order),
                trigger_price=_untriggered(order),
            )
            for order in listed
        ]

    def positions(self) -> list[VenuePosition]:
        with mapped():
            listed = self.client.fetch_positions()
        held = []
        for position in listed:
            size = _dec(position.get("contracts")) * _dec(position.get("contractSize"), "1")
            if size == 0:
                continue
            entry = _dec(position.get("entryPrice"))
            held.append(
                VenuePosition(
                    symbol=str(position["symbol"]),
                    quantity=-size if position.get("side") == "short" else size,
                    entry_price=entry,
                    mark_price=_dec(position.get("markPrice") or entry),
                )
            )
        return held


def _summed_fee(trades: list[dict[str, Any]], quote: str) -> tuple[Decimal, str]:
    """The fees of one order's trades, in one currency.

    Amounts in different currencies do not add up (Binance charges BNB when its discount
    is on, and can switch mid-order): then only the quote currency's are kept, as
    positions book fees in the quote currency, and the rest is logged, not booked.
    """
    by_currency: dict[str, Decimal] = {}
    for trade in trades:
        fee = trade.get("fee") or {}
        if fee.get("cost") is not None:
            currency = str(fee.get("currency") or "")
            by_currency[currency] = by_currency.get(currency, Decimal(0)) + _dec(fee["cost"])
    if len(by_currency) <= 1:
        currency, cost = next(iter(by_currency.items()), ("", Decimal(0)))
        return cost, currency
    log.warning(
        "order fees in several currencies: booking the quote currency's only",
        extra=log_fields(quote=quote, fees={c: str(v) for c, v in by_currency.items()}),
    )
    return by_currency.get(quote, Decimal(0)), quote


def _untriggered(order: dict[str, Any]) -> Decimal | None:
    """The trigger of a conditional order still waiting for it: open, nothing filled (a
    fired one is a market order, filled at once)."""
    trigger = order.get("triggerPrice")
    if trigger is None or order.get("status") != "open" or _dec(order.get("filled")) > 0:
        return None
    return _dec(trigger)


def _when(stamp: Any) -> datetime:
    return datetime.fromtimestamp(stamp / 1000, UTC) if stamp else datetime.now(UTC)


def _find_by_client_id(
    client: Exchange, client_order_id: str, symbol: str, final_first: bool = False
) -> Any:
    """The ccxt order placed under client_order_id, or None.

    Bybit's unified account cannot fetch one order by orderLinkId through fetch_order
    (it needs an orderId), so ask the open list (/v5/order/realtime) and then the
    history (/v5/order/history), both filtered by orderLinkId. Elsewhere (paper,
    binance) fetch_order takes params["clientOrderId"].
    """
    if client.id == "bybit":
        by_link = {"orderLinkId": client_order_id}
        lists = [client.fetch_open_orders, client.fetch_canceled_and_closed_orders]
        for listing in reversed(lists) if final_first else lists:
            found = listing(symbol, None, None, by_link)
            if found:
                return found[0]
        return None
    try:
        return client.fetch_order("", symbol, {"clientOrderId": client_order_id})
    except Exception as error:
        if "OrderNotFound" in ccxt_names(error):
            return None
        raise
