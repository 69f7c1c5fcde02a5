"""Binance USDⓈ-M futures wire shapes of paper state: the JSON the real API returns,
field for field as far as ccxt's binance parser reads it (exchangeInfo symbols, tickers,
orders, account trades, account assets, position risk, leverage brackets).

Numbers are decimal strings, times integer milliseconds and order ids integers, as on
Binance. Values describe the paper venue, not Binance: its steps, limits and the order
types it can fill.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stratus.adapters.paper.bybit_wire import num
from stratus.adapters.paper.markets import SETTLE, MarketSpec
from stratus.adapters.paper.structures import PaperTrade, millis

ZERO = Decimal(0)
PERPETUAL_DELIVERY_MS = 4133404800000  # Binance's "no delivery" date (2100-12-25)
DAY_MS = 86_400_000


def _dec(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value))


def _decimals(step: Decimal) -> int:
    return max(0, -int(step.normalize().as_tuple().exponent))


def symbol(spec: MarketSpec) -> dict[str, Any]:
    """One `symbols` entry of /fapi/v1/exchangeInfo."""
    amounts = {
        "minQty": num(spec.min_amount),
        "maxQty": num(spec.max_amount),
        "stepSize": num(spec.amount_step),
    }
    return {
        "symbol": spec.id,
        "pair": spec.id,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "baseAsset": spec.base,
        "quoteAsset": SETTLE,
        "marginAsset": SETTLE,
        "pricePrecision": _decimals(spec.price_step),
        "quantityPrecision": _decimals(spec.amount_step),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "settlePlan": 0,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": num(spec.min_price),
                "maxPrice": num(spec.max_price),
                "tickSize": num(spec.price_step),
            },
            {"filterType": "LOT_SIZE", **amounts},
            {"filterType": "MARKET_LOT_SIZE", **amounts},
            {"filterType": "MIN_NOTIONAL", "notional": num(spec.min_cost)},
        ],
        # What the paper venue fills (Binance also lists stop and trailing types); ccxt
        # refuses other types before sending.
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC"],
    }


def exchange_info(specs: list[MarketSpec], now_ms: int, requests_per_second: int) -> Any:
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "SECOND",
                "intervalNum": 1,
                "limit": requests_per_second,
            }
        ],
        "exchangeFilters": [],
        "assets": [{"asset": SETTLE, "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [symbol(spec) for spec in specs],
    }


def ticker_24hr(spec: MarketSpec, ticker: dict[str, Any]) -> dict[str, Any]:
    """/fapi/v1/ticker/24hr: no bid or ask on futures (those are in bookTicker). The feed
    keeps no 24h statistics, so the day reads as flat at the last price."""
    last = num(ticker["last"])
    close_ms = int(ticker["timestamp"])
    return {
        "symbol": spec.id,
        "priceChange": "0",
        "priceChangePercent": "0",
        "weightedAvgPrice": last,
        "lastPrice": last,
        "lastQty": "0",
        "openPrice": last,
        "highPrice": last,
        "lowPrice": last,
        "volume": num(ticker["baseVolume"]),
        "quoteVolume": "0",
        "openTime": close_ms - DAY_MS,
        "closeTime": close_ms,
        "firstId": 0,
        "lastId": 0,
        "count": 0,
    }


def book_ticker(spec: MarketSpec, ticker: dict[str, Any]) -> dict[str, Any]:
    """/fapi/v1/ticker/bookTicker: the touch (the feed has no book depth: sizes are 0)."""
    stamp = int(ticker["timestamp"])
    return {
        "symbol": spec.id,
        "bidPrice": num(ticker["bid"]),
        "bidQty": "0",
        "askPrice": num(ticker["ask"]),
        "askQty": "0",
        "time": stamp,
        "lastUpdateId": stamp,
    }


def order_status(order: dict[str, Any]) -> str:
    if order["status"] == "closed":
        return "FILLED"
    if order["status"] == "canceled":
        return "CANCELED"  # also after a partial fill
    return "PARTIALLY_FILLED" if order["filled"] else "NEW"


def order(spec: MarketSpec, paper: dict[str, Any], order_id: int, placed: bool) -> dict[str, Any]:
    """A ccxt-shaped paper order as Binance shows it: the answer to POST /fapi/v1/order
    (`placed`, newOrderRespType RESULT: no "time") or a query / openOrders item."""
    kind = paper["type"].upper()
    limit = paper["price"] if paper["type"] == "limit" else None
    shown = {
        "orderId": order_id,
        "symbol": spec.id,
        "status": order_status(paper),
        "clientOrderId": paper["clientOrderId"] or "",
        "price": num(limit) if limit is not None else "0",
        "avgPrice": num(paper["average"]) if paper["average"] else "0",
        "origQty": num(paper["amount"]),
        "executedQty": num(paper["filled"]),
        "cumQty": num(paper["filled"]),
        "cumQuote": num(paper["cost"]),
        "timeInForce": "GTC",
        "type": kind,
        "origType": kind,
        "reduceOnly": paper["reduceOnly"],
        "closePosition": False,
        "side": paper["side"].upper(),
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "updateTime": paper["lastUpdateTimestamp"],
    }
    return shown if placed else {**shown, "time": paper["timestamp"]}


def user_trade(spec: MarketSpec, trade: PaperTrade, trade_id: int, order_id: int) -> dict[str, Any]:
    """A /fapi/v1/userTrades item (one-way mode): `commission` is the fee the paper venue
    charged, as a positive amount paid in the settle asset; `realizedPnl` excludes it."""
    return {
        "symbol": spec.id,
        "id": trade_id,
        "orderId": order_id,
        "side": trade.side.upper(),
        "price": num(trade.price),
        "qty": num(trade.amount),
        "realizedPnl": num(trade.realized_pnl),
        "quoteQty": num(trade.cost),
        "commission": num(trade.fee),
        "commissionAsset": SETTLE,
        "time": millis(trade.timestamp),
        "positionSide": "BOTH",
        "buyer": trade.side == "buy",
        "maker": trade.taker_or_maker == "maker",
    }


def account(
    balance: dict[str, Any], positions: list[dict[str, Any]], now_ms: int
) -> dict[str, Any]:
    """/fapi/v3/account: margin balance is wallet plus unrealized PnL, as on Binance;
    available is what the paper venue lets new orders use."""
    unrealized = sum((_dec(p["unrealizedPnl"]) for p in positions), ZERO)
    position_margin = sum((_dec(p["initialMargin"]) for p in positions), ZERO)
    assets = []
    for currency, total in balance["total"].items():
        settle = currency == SETTLE
        wallet, used = _dec(total), _dec(balance["used"][currency])
        pnl = unrealized if settle else ZERO
        in_positions = position_margin if settle else ZERO
        free = num(balance["free"][currency])
        assets.append(
            {
                "asset": currency,
                "walletBalance": num(wallet),
                "unrealizedProfit": num(pnl),
                "marginBalance": num(wallet + pnl),
                "maintMargin": "0",
                "initialMargin": num(used),
                "positionInitialMargin": num(in_positions),
                "openOrderInitialMargin": num(used - in_positions),
                "crossWalletBalance": num(wallet),
                "crossUnPnl": num(pnl),
                "availableBalance": free,
                "maxWithdrawAmount": free,
                "updateTime": now_ms,  # ccxt skips assets whose updateTime is 0
            }
        )
    settle_asset = next((a for a in assets if a["asset"] == SETTLE), None)
    totals = {
        "totalInitialMargin": "initialMargin",
        "totalMaintMargin": "maintMargin",
        "totalWalletBalance": "walletBalance",
        "totalUnrealizedProfit": "unrealizedProfit",
        "totalMarginBalance": "marginBalance",
        "totalPositionInitialMargin": "positionInitialMargin",
        "totalOpenOrderInitialMargin": "openOrderInitialMargin",
        "totalCrossWalletBalance": "crossWalletBalance",
        "totalCrossUnPnl": "crossUnPnl",
        "availableBalance": "availableBalance",
        "maxWithdrawAmount": "maxWithdrawAmount",
    }
    summary = {key: settle_asset[field] if settle_asset else "0" for key, field in totals.items()}
    return {**summary, "assets": assets, "positions": []}


def position_risk(spec: MarketSpec, paper: dict[str, Any]) -> dict[str, Any]:
    """A /fapi/v3/positionRisk item (one-way mode, cross margin): amount and notional are
    signed; ccxt reads the side from the notional's sign."""
    amount = _dec(paper["contracts"]) * (1 if paper["side"] == "long" else -1)
    mark = _dec(paper["markPrice"])
    margin = num(paper["initialMargin"])
    return {
        "symbol": spec.id,
        "positionSide": "BOTH",
        "positionAmt": num(amount),
        "entryPrice": num(paper["entryPrice"]),
        "breakEvenPrice": num(paper["entryPrice"]),
        "markPrice": num(mark),
        "unRealizedProfit": num(paper["unrealizedPnl"]),
        "liquidationPrice": "0",  # the paper venue does not liquidate
        "isolatedMargin": "0",
        "notional": num(amount * mark),
        "marginAsset": SETTLE,
        "isolatedWallet": "0",
        "initialMargin": margin,
        "maintMargin": "0",
        "positionInitialMargin": margin,
        "openOrderInitialMargin": "0",
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": paper["timestamp"],
    }


def leverage_brackets(specs: list[MarketSpec]) -> list[dict[str, Any]]:
    """/fapi/v1/leverageBracket: one bracket per symbol, no maintenance margin (the
    paper venue does not liquidate). ccxt loads these before reading positions."""
    return [
        {
            "symbol": spec.id,
            "notionalCoef": 1.0,
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": spec.max_leverage,
                    "notionalCap": 9_000_000_000,
                    "notionalFloor": 0,
                    "maintMarginRatio": 0,
                    "cum": 0.0,
                }
            ],
        }
        for spec in specs
    ]
