"""Order admission and taker pricing for the paper venue: pure functions over Decimal.

Validation mirrors what Bybit rejects (and ccxt raises as InvalidOrder), so code that
passes on paper does not first fail in production on a step, a limit or an id format.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from stratus.adapters.paper.errors import ccxt_error
from stratus.adapters.paper.feed import Quote
from stratus.adapters.paper.markets import MarketSpec

MAX_IMPACT = Decimal("0.01")  # price impact never exceeds 1% of the touch
CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")  # Bybit's orderLinkId rule


def taker_price(
    spec: MarketSpec, quote: Quote, side: str, qty: Decimal, limit: Decimal | None
) -> Decimal | None:
    """The fill price if the order takes liquidity now, None if it should rest.

    Price impact = spread / 2 * qty / tick volume, rounded half-up to the price tick and
    capped at 1% of the touch (the cap also covers a tick with zero volume). Small
    orders therefore fill exactly at the touch and large ones walk the book; a
    marketable limit never fills beyond its limit price.
    """
    touch = quote.ask if side == "buy" else quote.bid
    if limit is not None and (limit < touch if side == "buy" else limit > touch):
        return None
    cap = touch * MAX_IMPACT
    raw = quote.spread / 2 * qty / quote.volume if quote.volume > 0 else cap
    impact = min(raw, cap).quantize(spec.price_step, ROUND_HALF_UP)
    if side == "buy":
        return touch + impact if limit is None else min(touch + impact, limit)
    worst = max(touch - impact, spec.price_step)
    return worst if limit is None else max(worst, limit)


def checked_terms(
    spec: MarketSpec, type: str, side: str, amount: Any, price: Any
) -> tuple[Decimal, Decimal | None]:
    """Validated (amount, limit price or None for market orders) as Decimal."""
    if type not in ("market", "limit") or side not in ("buy", "sell"):
        raise ccxt_error("InvalidOrder", f"unsupported order {type!r} {side!r}")
    qty = positive(amount, "amount")
    check_range(qty, spec.amount_step, spec.min_amount, spec.max_amount, "amount")
    if type == "market":
        return qty, None
    limit = positive(price, "price")
    check_range(limit, spec.price_step, spec.min_price, spec.max_price, "price")
    return qty, limit


def positive(value: Any, what: str) -> Decimal:
    """Decimal(str(float)) keeps the float's shortest repr: 0.001 stays 0.001."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number <= 0:
        raise ccxt_error("InvalidOrder", f"{what} must be a positive number, got {value!r}")
    return number


def check_range(value: Decimal, step: Decimal, low: Decimal, high: Decimal, what: str) -> None:
    """Off-step or out-of-range values are rejected rather than silently rounded."""
    if value % step != 0:
        raise ccxt_error("InvalidOrder", f"{what} {value} is not a multiple of {step}")
    if not low <= value <= high:
        raise ccxt_error("InvalidOrder", f"{what} {value} outside [{low}, {high}]")


def check_client_order_id(client_id: Any) -> str | None:
    """None when absent; Bybit takes up to 36 letters, digits, '-' and '_'."""
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not CLIENT_ORDER_ID.match(client_id):
        raise ccxt_error("InvalidOrder", f"invalid clientOrderId {client_id!r}")
    return client_id
