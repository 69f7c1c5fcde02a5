"""Risk with orders in flight, kill-switch scopes and unrealized-loss warnings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from stratus.domain.common import Side
from stratus.domain.orders import OrderRequest, OrderType
from stratus.domain.positions import Position
from stratus.domain.risk import (
    APPROVED,
    RiskContext,
    RiskLimits,
    TradingState,
    evaluate,
    exchange_reduce_only,
    most_restrictive,
    unrealized_loss_warning,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
LIMITS = RiskLimits(
    max_order_notional=D(100_000), max_position_notional=D(90_000),
    max_total_exposure=D(150_000), max_order_balance_ratio=D(1), daily_loss_limit=D(1000),
)  # fmt: skip


def order(
    qty: str, side: Side = Side.BUY, closes: bool = False, limit: str | None = None
) -> OrderRequest:
    return OrderRequest(
        request_id="s1-1", signal_id="s1", leg=1, account="a", strategy="st",
        symbol="BTC/USDT:USDT", side=side,
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        limit_price=D(limit) if limit else None, quantity=D(qty), closes_position=closes,
        created_at=T0,
    )  # fmt: skip


def holding(quantity: str) -> Position:
    """The requesting strategy's own position (its sub-ledger of the account's)."""
    return Position(account="a", strategy="st", symbol="BTC/USDT:USDT", quantity=D(quantity))


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


def test_a_second_close_while_the_first_is_in_flight_has_nothing_to_close() -> None:
    long_one = context(strategy_position=holding("1"))
    assert evaluate(order("1", Side.SELL, closes=True), long_one, LIMITS) == APPROVED
    again = context(strategy_position=holding("1"), strategy_pending=D(-1))
    denied = evaluate(order("1", Side.SELL, closes=True), again, LIMITS)
    assert (denied.approved, denied.reason) == (False, "nothing_to_close")
    short = context(strategy_position=holding("-1"))  # a sell cannot close a short
    assert evaluate(order("1", Side.SELL, closes=True), short, LIMITS).reason == "nothing_to_close"


def test_a_close_is_cut_to_what_its_strategy_will_still_hold() -> None:
    ctx = context(strategy_position=holding("1"), strategy_pending=D("-0.4"))
    decision = evaluate(order("1", Side.SELL, closes=True), ctx, LIMITS)
    assert (decision.approved, decision.quantity) == (True, D("0.6"))
    smaller = evaluate(order("0.5", Side.SELL, closes=True), ctx, LIMITS)  # one leg of two
    assert (smaller.approved, smaller.quantity) == (True, None)


@pytest.mark.parametrize(
    ("ctx", "qty", "reason"),
    [
        (context(trading_state=TradingState.REDUCING), "1", "kill_switch_reducing"),
        (context(), "1.8", "max_order_notional"),  # 108,000
        (context(position_quantity=D(-1)), "1", "max_position_notional"),  # account -1 -> -2
        (context(total_exposure=D(100_000)), "1", "max_total_exposure"),
        (context(balance=D(50_000)), "1", "max_order_balance_ratio"),
        (context(daily_pnl=D(-5000)), "1", "daily_loss_limit"),
    ],
)
def test_a_close_passes_every_limit_but_the_halt(ctx: RiskContext, qty: str, reason: str) -> None:
    """Strategy st closes its long (a sell): where a limit refuses the same sell from a
    strategy opening a short, the close still passes."""
    assert evaluate(order(qty, Side.SELL), ctx, LIMITS).reason == reason
    mine = replace(ctx, strategy_position=holding(qty))
    assert evaluate(order(qty, Side.SELL, closes=True), mine, LIMITS) == APPROVED
    halted = replace(mine, trading_state=TradingState.HALTED)
    denied = evaluate(order(qty, Side.SELL, closes=True), halted, LIMITS)
    assert denied.reason == "kill_switch_halted"


def test_reducing_judges_the_strategys_own_position_not_the_accounts() -> None:
    """hold is long 2 in an account net short 1 (hedge is short 3)."""
    ctx = context(
        position_quantity=D(-1), strategy_position=holding("2"),
        trading_state=TradingState.REDUCING,
    )  # fmt: skip
    assert evaluate(order("0.5", Side.SELL), ctx, LIMITS).approved  # account: -1 -> -1.5
    grows = evaluate(order("0.5", Side.BUY), ctx, LIMITS)  # account: -1 -> -0.5
    assert (grows.approved, grows.reason) == (False, "kill_switch_reducing")
    flips = evaluate(order("3", Side.SELL), ctx, LIMITS)
    assert flips.reason == "kill_switch_reducing"
    pending = replace(ctx, strategy_pending=D(-2))  # an earlier exit takes it all
    assert evaluate(order("0.5", Side.SELL), pending, LIMITS).reason == "kill_switch_reducing"


@pytest.mark.parametrize(
    ("request_", "exchange", "same_side", "flag"),
    [
        (order("1", Side.SELL, closes=True), "1", "0", True),  # 1 -> 0
        (order("1", Side.BUY, closes=True), "-3", "0", True),  # -3 -> -2
        (order("1", Side.SELL, closes=True), "0.5", "0", False),  # would flip to -0.5
        (order("1", Side.SELL, closes=True), "-1", "0", False),  # grows the short
        (order("1", Side.SELL, closes=True), "1.5", "0.6", False),  # if the 0.6 sells first
        (order("1", Side.SELL, closes=True), "1.6", "0.6", True),
        (order("1", Side.SELL, closes=True, limit="60000"), "5", "0", False),  # may rest
        (order("1", Side.SELL), "5", "0", False),  # not a close
    ],
)
def test_reduce_only_goes_to_the_exchange_only_when_the_account_surely_shrinks(
    request_: OrderRequest, exchange: str, same_side: str, flag: bool
) -> None:
    asked: list[str] = []

    def position() -> D:
        asked.append(exchange)
        return D(exchange)

    ctx = context(pending_same_side=D(same_side))
    assert exchange_reduce_only(request_, ctx, position) is flag
    market_close = request_.closes_position and request_.limit_price is None
    assert asked == ([exchange] if market_close else []), "the exchange is asked only if needed"


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
