"""Sizing an unsized signal by its strategy's rule: fixed notional, allocation share, risk."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from stratus.domain.errors import PermanentError
from stratus.domain.market import Market, Quote
from stratus.domain.orders import OrderRequest
from stratus.domain.signals import Signal, SignalAction
from stratus.domain.sizing import SizingMode, SizingPolicy, SizingRule, plan_orders

T0 = datetime(2026, 1, 5, tzinfo=UTC)
BTC = Market(
    symbol="BTC/USDT:USDT", base="BTC", quote="USDT", amount_step=D("0.001"),
    price_step=D("0.1"), min_amount=D("0.001"), max_amount=D(100), min_cost=D(5),
    maker_fee=D("0.0002"), taker_fee=D("0.00055"),
)  # fmt: skip
QUOTE = Quote(symbol="BTC/USDT:USDT", bid=D(59990), ask=D(60010), last=D(60000), at=T0)


def signal(action: SignalAction = SignalAction.BUY, **changes: object) -> Signal:
    fields: dict[str, object] = {
        "signal_id": "s1", "source": "demo", "account": "a", "strategy": "st",
        "symbol": "BTC/USDT:USDT", "action": action, "confidence": 1.0, "created_at": T0,
    }  # fmt: skip
    fields.update(changes)
    return Signal.model_validate(fields)


def plan(sig: Signal, rule: SizingRule, allocation: str | None = "50000") -> list[OrderRequest]:
    policy = SizingPolicy(strategies={"st": rule})
    funds = None if allocation is None else D(allocation)
    return plan_orders(sig, D(0), QUOTE, BTC, policy, T0, allocation=funds)


def test_fixed_notional_per_strategy_at_mid() -> None:
    [order] = plan(signal(), SizingRule(mode=SizingMode.FIXED_NOTIONAL, value=D(3000)))
    assert order.quantity == D("0.05")


def test_percent_of_the_allocation() -> None:
    [order] = plan(signal(), SizingRule(mode=SizingMode.ALLOCATION_PERCENT, value=D("0.24")))
    assert order.quantity == D("0.2")  # 12,000 of 50,000 at mid 60,000


def test_risk_based_sizes_so_the_stop_loses_the_chosen_share() -> None:
    rule = SizingRule(mode=SizingMode.RISK, value=D("0.01"))
    [buy] = plan(signal(stop_price=D(59010)), rule)  # 1,000 from the ask
    [sell] = plan(signal(SignalAction.SELL, stop_price=D(60490)), rule)  # 500 from the bid
    assert buy.quantity == D("0.5")  # risking 500 = 1 % of 50,000
    assert sell.quantity == D("1")


@pytest.mark.parametrize(
    ("sig", "rule", "allocation", "reason"),
    [
        (signal(), SizingRule(mode=SizingMode.ALLOCATION_PERCENT, value=D("0.1")), None,
         "no_allocation"),
        (signal(), SizingRule(mode=SizingMode.RISK, value=D("0.01")), "50000", "stop_required"),
        (signal(stop_price=D(61000)), SizingRule(mode=SizingMode.RISK, value=D("0.01")), "50000",
         "stop_wrong_side"),
    ],
)  # fmt: skip
def test_unusable_rules_are_permanent_with_a_reason(
    sig: Signal, rule: SizingRule, allocation: str | None, reason: str
) -> None:
    with pytest.raises(PermanentError) as caught:
        plan(sig, rule, allocation)
    assert caught.value.reason == reason


def test_an_explicit_quantity_wins_over_the_rule() -> None:
    rule = SizingRule(mode=SizingMode.ALLOCATION_PERCENT, value=D("0.5"))
    [order] = plan(signal(quantity=D("0.01")), rule, allocation=None)
    assert order.quantity == D("0.01")
