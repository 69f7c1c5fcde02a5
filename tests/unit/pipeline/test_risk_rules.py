"""Risk with orders in flight, kill-switch scopes and unrealized-loss warnings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from stratus.domain.common import Side
from stratus.domain.orders import OrderRequest, OrderType
from stratus.domain.positions import Position
from stratus.domain.risk import (
    RiskContext,
    RiskLimits,
    TradingState,
    evaluate,
    most_restrictive,
    unrealized_loss_warning,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
LIMITS = RiskLimits(
    max_order_notional=D(100_000), max_position_notional=D(90_000),
    max_total_exposure=D(150_000), max_order_balance_ratio=D(1), daily_loss_limit=D(1000),
)  # fmt: skip


def order(qty: str, side: Side = Side.BUY, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(
        request_id="s1-1", signal_id="s1", leg=1, account="a", strategy="st",
        symbol="BTC/USDT:USDT", side=side, order_type=OrderType.MARKET, quantity=D(qty),
        reduce_only=reduce_only, created_at=T0,
    )  # fmt: skip


def context(**changes: object) -> RiskContext:
    fields: dict[str, object] = {
        "price": D(60000), "position_quantity": D(0), "total_exposure": D(0),
        "balance": D(200_000), "daily_pnl": D(0),
    }  # fmt: skip
    fields.update(changes)
    return RiskContext(**fields)  # type: ignore[arg-type]


def test_legs_in_flight_count_toward_the_position_limit() -> None:
    assert evaluate(order("1"), context(), LIMITS).approved
    denied = evaluate(order("1"), context(pending_quantity=D("0.6")), LIMITS)
    assert denied.reason == "max_position_notional"


def test_in_flight_orders_elsewhere_count_toward_total_exposure() -> None:
    assert evaluate(order("1"), context(total_exposure=D(80_000)), LIMITS).approved
    denied = evaluate(
        order("1"), context(total_exposure=D(80_000), pending_exposure=D(20_000)), LIMITS
    )
    assert denied.reason == "max_total_exposure"


def test_a_second_close_in_flight_would_flip_the_position_so_it_is_refused() -> None:
    long_one = context(position_quantity=D(1))
    assert evaluate(order("1", Side.SELL, reduce_only=True), long_one, LIMITS).approved
    again = context(position_quantity=D(1), pending_quantity=D(-1))
    denied = evaluate(order("1", Side.SELL, reduce_only=True), again, LIMITS)
    assert denied.reason == "reduce_only_increases"


def test_the_most_restrictive_kill_switch_scope_wins() -> None:
    assert most_restrictive([]) is TradingState.ACTIVE
    assert most_restrictive([TradingState.ACTIVE, TradingState.REDUCING]) is TradingState.REDUCING
    assert (
        most_restrictive([TradingState.HALTED, TradingState.REDUCING, TradingState.ACTIVE])
        is TradingState.HALTED
    )


def test_unrealized_loss_warns_only_past_the_threshold() -> None:
    long = Position(account="a", strategy="st", symbol="BTC/USDT:USDT", quantity=D(1),
                    average_entry=D(60000))  # fmt: skip
    assert unrealized_loss_warning(long, D(58000), D("0.05"), T0) is None  # 3.4 % down
    warning = unrealized_loss_warning(long, D(56000), D("0.05"), T0)
    assert warning is not None
    assert (warning.kind, warning.value, warning.threshold) == ("unrealized_loss", D(4000), D(2800))
    flat = long.model_copy(update={"quantity": D(0)})
    assert unrealized_loss_warning(flat, D(1), D("0.05"), T0) is None
