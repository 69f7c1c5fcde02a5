"""Bybit v5 wire shapes of paper state: the JSON the real API returns, field for field
as far as ccxt's bybit parser reads it (instruments, tickers, orders, wallet, positions).

Numbers are decimal strings and times are millisecond strings, as on Bybit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stratus.adapters.paper.markets import SETTLE, MarketSpec


def num(value: Any) -> str:
    """A float or Decimal as Bybit writes it: plain decimal notation, no exponent."""
    if value is None:
        return ""
    text = format(Decimal(str(value)).normalize(), "f")
    return "0" if text in ("-0", "") else text


def instrument(spec: MarketSpec) -> dict[str, Any]:
    return {
        "symbol": spec.id,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": spec.base,
        "quoteCoin": SETTLE,
        "settleCoin": SETTLE,
        "launchTime": "1584230400000",
        "deliveryTime": "0",
        "priceScale": str(max(0, -spec.price_step.as_tuple().exponent)),  # type: ignore[operator]
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": str(spec.max_leverage),
            "leverageStep": "0.01",
        },
        "priceFilter": {
            "minPrice": num(spec.min_price),
            "maxPrice": num(spec.max_price),
            "tickSize": num(spec.price_step),
        },
        "lotSizeFilter": {
            "maxOrderQty": num(spec.max_amount),
            "maxMktOrderQty": num(spec.max_amount),
            "minOrderQty": num(spec.min_amount),
            "qtyStep": num(spec.amount_step),
            "minNotionalValue": num(spec.min_cost),
        },
        # Not on Bybit (fees are per account there), but ccxt reads them when present:
        # markets then carry the paper venue's real fee rates.
        "takerFee": num(spec.taker),
        "makerFee": num(spec.maker),
        "fundingInterval": 480,
        "unifiedMarginTrade": True,
        "copyTrading": "both",
    }


def ticker(spec: MarketSpec, ccxt_ticker: dict[str, Any]) -> dict[str, Any]:
    last = num(ccxt_ticker["last"])
    return {
        "symbol": spec.id,
        "lastPrice": last,
        "bid1Price": num(ccxt_ticker["bid"]),
        "bid1Size": "0",
        "ask1Price": num(ccxt_ticker["ask"]),
        "ask1Size": "0",
        "markPrice": num(ccxt_ticker["markPrice"]),
        "indexPrice": num(ccxt_ticker["markPrice"]),
        "prevPrice24h": last,
        "price24hPcnt": "0",
        "highPrice24h": last,
        "lowPrice24h": last,
        "volume24h": num(ccxt_ticker["baseVolume"]),
        "turnover24h": "0",
        "openInterest": "0",
        "openInterestValue": "0",
        "fundingRate": "0",
    }


def order_status(order: dict[str, Any]) -> str:
    waiting = order["triggerPrice"] is not None and not order["info"].get("triggered")
    if order["status"] == "closed":
        return "Filled"
    if order["status"] == "canceled":
        # linear contracts: Cancelled, also after a partial fill; Deactivated for a
        # conditional order canceled before its trigger
        return "Deactivated" if waiting else "Cancelled"
    if waiting:
        return "Untriggered"
    if order["triggerPrice"] is not None and not order["filled"]:
        return "Triggered"
    return "PartiallyFilled" if order["filled"] else "New"


def order(spec: MarketSpec, paper: dict[str, Any]) -> dict[str, Any]:
    """A ccxt-shaped paper order as a /v5/order/realtime or /history list item."""
    fee = num(paper["fee"]["cost"])
    price = paper["price"] if paper["type"] == "limit" else None
    return {
        "orderId": paper["id"],
        "orderLinkId": paper["clientOrderId"] or "",
        "symbol": spec.id,
        "side": paper["side"].capitalize(),
        "orderType": paper["type"].capitalize(),
        "price": num(price) if price is not None else "0",
        "qty": num(paper["amount"]),
        "leavesQty": num(paper["remaining"]),
        "leavesValue": num(paper["remaining"] * (price or 0)),
        "cumExecQty": num(paper["filled"]),
        "cumExecValue": num(paper["cost"]),
        "cumExecFee": fee,
        "cumFeeDetail": {SETTLE: fee} if paper["filled"] else {},
        "avgPrice": num(paper["average"]) if paper["average"] else "",
        "orderStatus": order_status(paper),
        "timeInForce": paper["timeInForce"],
        "reduceOnly": paper["reduceOnly"],
        "positionIdx": 0,
        **_trigger(paper),
        "takeProfit": "",
        "stopLoss": "",
        "createdTime": str(paper["timestamp"]),
        "updatedTime": str(paper["lastUpdateTimestamp"]),
    }


def _trigger(paper: dict[str, Any]) -> dict[str, Any]:
    """A conditional order's fields (an ordinary order: zeros and blanks, as on Bybit)."""
    if paper["triggerPrice"] is None:
        return {"triggerPrice": "0", "triggerDirection": 0, "triggerBy": "", "stopOrderType": ""}
    return {
        "triggerPrice": num(paper["triggerPrice"]),
        "triggerDirection": 1 if paper["info"]["triggerDirection"] == "above" else 2,
        "triggerBy": "MarkPrice",
        "stopOrderType": "Stop",
    }


def wallet(ccxt_balance: dict[str, Any]) -> dict[str, Any]:
    """The UNIFIED account of /v5/account/wallet-balance."""
    coins = []
    equity = Decimal(0)
    for currency, total in ccxt_balance["total"].items():
        used = ccxt_balance["used"][currency]
        equity += Decimal(str(total)) if currency == SETTLE else 0
        coins.append(
            {
                "coin": currency,
                "walletBalance": num(total),
                "equity": num(total),
                "availableToWithdraw": num(ccxt_balance["free"][currency]),
                "locked": "0",
                "totalPositionIM": num(used),
                "totalOrderIM": "0",
                "unrealisedPnl": "0",
            }
        )
    return {"accountType": "UNIFIED", "totalEquity": num(equity), "coin": coins}


def position(spec: MarketSpec, paper: dict[str, Any]) -> dict[str, Any]:
    return {
        "symbol": spec.id,
        "side": "Buy" if paper["side"] == "long" else "Sell",
        "size": num(paper["contracts"]),
        "avgPrice": num(paper["entryPrice"]),
        "positionValue": num(paper["contracts"] * paper["entryPrice"]),
        "markPrice": num(paper["markPrice"]),
        "leverage": num(paper["leverage"]),
        "unrealisedPnl": num(paper["unrealizedPnl"]),
        "cumRealisedPnl": num(paper["realizedPnl"]),
        "positionIM": num(paper["initialMargin"]),
        "positionMM": "0",
        "positionIdx": 0,
        "tradeMode": 0,
        "positionStatus": "Normal",
        "liqPrice": "",
        "createdTime": str(paper["timestamp"]),
        "updatedTime": str(paper["timestamp"]),
    }
