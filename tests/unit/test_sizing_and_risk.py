"""Sizing (order type, splitting, rounding) and the pre-trade risk rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from stratus.domain.common import Side
from stratus.domain.errors import PermanentError
from stratus.domain.market import Market, Quote
from stratus.domain.orders import OrderRequest, OrderType
from stratus.domain.positions import Position
from stratus.domain.risk import RiskContext, RiskLimits, TradingState, evaluate
from stratus.domain.signals import Signal, SignalAction
from stratus.domain.sizing import SizingPolicy, plan_orders

T0 = datetime(2026, 1, 5, tzinfo=UTC)
BTC = Market(
    symbol="BTC/USDT:USDT",
    base="BTC",
    quote="USDT",
    amount_step=D("0.001"),
    price_step=D("0.1"),
    min_amount=D("0.001"),
    max_amount=D(100),
    min_cost=D(5),
    maker_fee=D("0.0002"),
    taker_fee=D("0.00055"),
)
QUOTE = Quote(symbol="BTC/USDT:USDT", bid=D(59999), ask=D(60001), last=D(60000), at=T0)


def signal(**changes: object) -> Signal:
    fields: dict[str, object] = {
        "signal_id": "s1",
        "source": "demo",
        "account": "a",
        "strategy": "s",
        "symbol": "BTC/USDT:USDT",
        "action": SignalAction.BUY,
        "quantity": D("0.5"),
        "confidence": 0.95,
        "created_at": T0,
    }
    fields.update(changes)
    return Signal.model_validate(fields)


def plan(sig: Signal, position: str = "0", **policy: object) -> list[OrderRequest]:
    return plan_orders(sig, D(position), QUOTE, BTC, SizingPolicy.model_validate(policy), T0)


def test_confident_signals_go_market() -> None:
    [order] = plan(signal(confidence=0.9))
    assert order.order_type is OrderType.MARKET
    assert order.limit_price is None


def test_unsure_signals_rest_inside_the_spread_rounded_away_from_crossing() -> None:
    [buy] = plan(signal(confidence=0.5))
    [sell] = plan(signal(confidence=0.5, action=SignalAction.SELL))
    assert buy.order_type is OrderType.LIMIT
    assert buy.limit_price == D("59999.5")  # mid 60000 - 0.25 x spread 2
    assert sell.limit_price == D("60000.5")


def test_tight_spread_goes_market_even_when_unsure() -> None:
    [order] = plan(signal(confidence=0.1), market_max_spread_ratio=D("0.001"))
    assert order.order_type is OrderType.MARKET


def test_big_orders_split_into_equal_legs_that_sum_exactly() -> None:
    legs = plan(signal(quantity=D("2.0005")), max_leg_notional=D(50_000))
    assert [leg.leg for leg in legs] == [0, 1, 2]
    assert sum(leg.quantity for leg in legs) == D("2.000")  # rounded down to the step
    assert len({leg.request_id for leg in legs}) == 3
    assert all(leg.quantity * QUOTE.ask <= 50_000 for leg in legs)


def test_close_sells_a_long_and_is_a_no_op_when_flat() -> None:
    [order] = plan(signal(action=SignalAction.CLOSE, quantity=None), position="0.7")
    assert (order.side, order.quantity, order.closes_position) == (Side.SELL, D("0.7"), True)
    assert not order.reduce_only  # the exchange's flag is risk's decision
    assert plan(signal(action=SignalAction.CLOSE, quantity=None), position="0") == []


def test_a_close_with_a_close_quantity_takes_off_at_most_that_much() -> None:
    partial = signal(action=SignalAction.CLOSE, close_quantity=D("0.2"))
    [part] = plan(partial, position="-0.7")
    assert (part.side, part.quantity, part.closes_position) == (Side.BUY, D("0.2"), True)
    [whole] = plan(signal(action=SignalAction.CLOSE, close_quantity=D("5")), position="0.7")
    assert whole.quantity == D("0.7")  # never more than is held: a close never flips
    [all_of_it] = plan(signal(action=SignalAction.CLOSE, quantity=D("0.1")), position="0.7")
    assert all_of_it.quantity == D("0.7")  # `quantity` means nothing to a close


def test_unsized_signals_use_the_default_notional() -> None:
    [order] = plan(signal(quantity=None), default_notional=D(6000))
    assert order.quantity == D("0.1")


def test_dust_is_refused_with_a_reason() -> None:
    with pytest.raises(PermanentError) as caught:
        plan(signal(quantity=D("0.0004")))
    assert caught.value.reason == "below_min_amount"


def context(**changes: object) -> RiskContext:
    fields: dict[str, object] = {
        "price": D(60000),
        "position_quantity": D(0),
        "total_exposure": D(0),
        "balance": D(100_000),
        "daily_pnl": D(0),
        "trading_state": TradingState.ACTIVE,
    }
    fields.update(changes)
    return RiskContext(**fields)  # type: ignore[arg-type]


def order(side: Side = Side.BUY, qty: str = "0.5", closes: bool = False) -> OrderRequest:
    return plan(signal())[0].model_copy(
        update={"side": side, "quantity": D(qty), "closes_position": closes}
    )


LIMITS = RiskLimits(
    max_order_quantity=D(5),
    max_order_notional=D(100_000),
    max_position_notional=D(90_000),
    max_total_exposure=D(150_000),
    max_order_balance_ratio=D(1),
    daily_loss_limit=D(1000),
)


@pytest.mark.parametrize(
    ("request_", "ctx", "reason"),
    [
        (order(), context(trading_state=TradingState.HALTED), "kill_switch_halted"),
        (order(), context(trading_state=TradingState.REDUCING), "kill_switch_reducing"),
        (order(closes=True), context(), "nothing_to_close"),
        (order(qty="6"), context(), "max_order_quantity"),
        (order(qty="1.8"), context(), "max_order_notional"),
        (order(qty="1.6"), context(balance=D(90_000)), "max_order_balance_ratio"),
        (order(qty="1"), context(position_quantity=D("0.6")), "max_position_notional"),
        (order(qty="1"), context(total_exposure=D(100_000)), "max_total_exposure"),
        (order(), context(daily_pnl=D(-1000)), "daily_loss_limit"),
    ],
)
def test_each_limit_denies_with_its_reason(
    request_: OrderRequest, ctx: RiskContext, reason: str
) -> None:
    decision = evaluate(request_, ctx, LIMITS)
    assert (decision.approved, decision.reason) == (False, reason)
    assert decision.detail


def test_reducing_orders_pass_even_when_reducing_or_over_loss() -> None:
    own = Position(account="a", strategy="s", symbol="BTC/USDT:USDT", quantity=D(1))
    ctx = context(
        position_quantity=D(1), strategy_position=own, trading_state=TradingState.REDUCING,
        daily_pnl=D(-5000),
    )  # fmt: skip
    assert evaluate(order(Side.SELL, "0.5"), ctx, LIMITS).approved


def test_a_normal_order_passes() -> None:
    assert evaluate(order(), context(), LIMITS).approved
