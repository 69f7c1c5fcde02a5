"""From a signal to order legs: how much, which side, market or limit, how many legs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from stratus.domain.common import ZERO, Side
from stratus.domain.errors import PermanentError
from stratus.domain.market import Market, Quote
from stratus.domain.orders import MAX_LEGS, OrderRequest, OrderType, request_id_for
from stratus.domain.signals import Signal, SignalAction


class SizingMode(StrEnum):
    FIXED_NOTIONAL = "fixed_notional"  # `value` quote currency per signal
    ALLOCATION_PERCENT = "allocation_percent"  # `value` x the strategy's allocation
    RISK = "risk"  # lose `value` x allocation if the signal's stop is hit


class SizingRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: SizingMode = SizingMode.FIXED_NOTIONAL
    value: Decimal = Field(gt=0)


class SizingPolicy(BaseModel):
    """How unsized signals get a quantity (per strategy), order types and leg sizes."""

    model_config = ConfigDict(frozen=True)

    default_notional: Decimal = Field(default=Decimal(1000), gt=0)
    strategies: dict[str, SizingRule] = Field(
        default_factory=dict, description="strategy -> rule; others use default_notional"
    )
    cancel_opposite: bool = Field(
        default=False, description="cancel the strategy's working orders on the other side"
    )
    market_confidence: float = Field(default=0.9, ge=0, le=1)
    market_max_spread_ratio: Decimal = Field(default=Decimal("0.00001"), ge=0)
    limit_offset_ratio: Decimal = Field(
        default=Decimal("0.25"), ge=0, description="fraction of the spread away from mid"
    )
    max_leg_notional: Decimal = Field(default=Decimal(100_000), gt=0)
    max_legs: int = Field(
        default=20, ge=1, le=MAX_LEGS, description="a signal needing more legs is refused"
    )

    def needs_allocation(self, signal: Signal) -> bool:
        rule = self.strategies.get(signal.strategy)
        return (
            signal.quantity is None
            and signal.action is not SignalAction.CLOSE
            and rule is not None
            and rule.mode is not SizingMode.FIXED_NOTIONAL
        )


def choose_order_type(
    signal: Signal, side: Side, quote: Quote, market: Market, policy: SizingPolicy
) -> tuple[OrderType, Decimal | None]:
    """Market when the strategy is confident or the spread is tight; otherwise a limit
    just inside the spread, which saves the spread and the taker fee when it fills."""
    if signal.limit_price is not None:
        return OrderType.LIMIT, market.round_price(signal.limit_price, side)
    if (
        signal.confidence >= policy.market_confidence
        or quote.spread_ratio <= policy.market_max_spread_ratio
    ):
        return OrderType.MARKET, None
    offset = quote.spread * policy.limit_offset_ratio
    price = quote.mid - offset if side is Side.BUY else quote.mid + offset
    return OrderType.LIMIT, market.round_price(price, side)


def plan_orders(
    signal: Signal,
    position_quantity: Decimal,
    quote: Quote,
    market: Market,
    policy: SizingPolicy,
    now: datetime,
    allocation: Decimal | None = None,
) -> list[OrderRequest]:
    """The order legs for a signal; [] when there is nothing to do (close when flat).

    `position_quantity` is what the strategy will hold once its in-flight orders finish
    (a close takes it to flat, or toward flat by the signal's close_quantity; other
    actions ignore it). `allocation` is the strategy's
    allocated capital (quote currency), needed by the allocation-percent and risk-based
    rules."""
    if signal.action is SignalAction.CLOSE:
        if position_quantity == ZERO:
            return []
        side = Side.SELL if position_quantity > ZERO else Side.BUY
        # A close with a close_quantity takes off that much at most: a partial close.
        quantity = min(abs(position_quantity), signal.close_quantity or abs(position_quantity))
    else:
        side = Side.BUY if signal.action is SignalAction.BUY else Side.SELL
    order_type, limit_price = choose_order_type(signal, side, quote, market, policy)
    if limit_price is not None and limit_price <= ZERO:
        raise PermanentError(
            "limit_price_rounds_to_zero", f"at tick {market.price_step} it is {limit_price}"
        )
    price = limit_price or quote.touch(side)
    if price <= ZERO:
        raise PermanentError("no_quote", f"no {side} price for {market.symbol}")
    if signal.action is not SignalAction.CLOSE:
        quantity = signal.quantity or size(signal, side, quote.mid, price, allocation, policy)
    max_leg = policy.max_leg_notional / price
    legs = split(market.round_amount(quantity), market, max_leg, policy.max_legs)
    for leg in legs:
        market.check(leg, price)
    return [
        OrderRequest(
            request_id=request_id_for(signal.signal_id, index),
            signal_id=signal.signal_id,
            leg=index,
            account=signal.account,
            strategy=signal.strategy,
            symbol=signal.symbol,
            side=side,
            order_type=order_type,
            quantity=leg,
            limit_price=limit_price,
            closes_position=signal.action is SignalAction.CLOSE,
            created_at=now,
        )
        for index, leg in enumerate(legs)
    ]


def size(
    signal: Signal,
    side: Side,
    mid: Decimal,
    entry: Decimal,
    allocation: Decimal | None,
    policy: SizingPolicy,
) -> Decimal:
    """Base quantity for an unsized opening signal, by the strategy's rule: notionals are
    converted at mid, the risk rule measures the stop distance from the expected entry."""
    rule = policy.strategies.get(signal.strategy)
    if rule is None or rule.mode is SizingMode.FIXED_NOTIONAL:
        return (rule.value if rule else policy.default_notional) / mid
    if allocation is None or allocation <= ZERO:
        raise PermanentError("no_allocation", f"strategy {signal.strategy} has no allocation")
    if rule.mode is SizingMode.ALLOCATION_PERCENT:
        return allocation * rule.value / mid
    if signal.stop_price is None:
        raise PermanentError("stop_required", "risk-based sizing needs the signal's stop_price")
    distance = (entry - signal.stop_price) * side.sign
    if distance <= ZERO:
        raise PermanentError(
            "stop_wrong_side", f"stop {signal.stop_price} does not protect a {side} at {entry}"
        )
    return allocation * rule.value / distance


def split(quantity: Decimal, market: Market, max_leg: Decimal, max_legs: int) -> list[Decimal]:
    """Equal-as-possible legs, each at most max_leg (and the market's max amount); more
    than max_legs of them is refused before any is built."""
    if quantity <= ZERO:
        raise PermanentError("below_min_amount", f"quantity rounds to {quantity}")
    cap = min(max_leg, market.max_amount) if market.max_amount is not None else max_leg
    cap = market.round_amount(cap)
    if cap <= ZERO:
        raise PermanentError("leg_cap_too_small", f"max leg size rounds to {cap}")
    count = (quantity / cap).to_integral_value(rounding="ROUND_CEILING")
    if count > max_legs:
        raise PermanentError(
            "too_many_legs",
            f"{quantity} {market.base} needs {count} legs of at most {cap}; the limit is "
            f"{max_legs} (sizing.max_legs)",
        )
    base = market.round_amount(quantity / count)
    legs = [base] * int(count)
    legs[-1] = quantity - base * (count - 1)  # the remainder keeps the total exact
    return legs
