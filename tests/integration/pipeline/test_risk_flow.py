"""check_risk on the embedded stack: kill switch scopes, in-flight legs, quotas, warnings."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from stratus.adapters.local_bus import LocalBus
from stratus.domain.risk import RiskLimits, TradingState
from stratus.domain.sizing import SizingMode, SizingPolicy, SizingRule
from stratus.service.services import Services
from tests.conftest import open_accounts


@pytest.fixture(autouse=True)
def account(services: Services) -> None:
    open_accounts(services, "acct")


def signal(bus: LocalBus, services: Services, signal_id: str, **fields: object) -> None:
    record = {
        "signal_id": signal_id, "source": "test", "account": "acct", "strategy": "st",
        "symbol": "BTC/USDT:USDT", "action": "buy", "quantity": "0.1",
        "created_at": services.clock.now().isoformat(), **fields,
    }  # fmt: skip
    bus.publish("signals", json.dumps(record).encode(), {"trace_id": signal_id})
    bus.drain()


def rejections(bus: LocalBus) -> list[tuple[str, str]]:
    found = [json.loads(e.data) for e in bus.messages("order-rejections")]
    return [(r["request_id"], r["reason"]) for r in found]


def test_kill_switch_scopes_from_the_state_store(services: Services, bus: LocalBus) -> None:
    services.state.set_trading_state("strategy:st", TradingState.HALTED, "bad fills")
    signal(bus, services, "k-1")
    signal(bus, services, "k-2", strategy="other")
    services.state.set_trading_state("strategy:st", TradingState.ACTIVE, "fixed")
    services.state.set_trading_state("account:acct", TradingState.REDUCING, "drawdown")
    signal(bus, services, "k-3", strategy="other")
    signal(bus, services, "k-4", strategy="other", action="close")
    assert rejections(bus) == [("k-1-0", "kill_switch_halted"), ("k-3-0", "kill_switch_reducing")]
    assert [r.request.request_id for r in services.state.orders()] == ["k-2-0", "k-4-0"]
    assert services.ledger.position("acct", "other", "BTC/USDT:USDT").quantity == 0


def test_legs_approved_before_any_fill_count_toward_the_position_limit(
    services: Services, bus: LocalBus
) -> None:
    services.settings = services.settings.model_copy(
        update={
            "sizing": SizingPolicy(max_leg_notional=D(20_000)),
            "risk": RiskLimits(max_position_notional=D(45_000), max_order_balance_ratio=None),
        }
    )
    signal(bus, services, "p-1", quantity="0.9")  # three legs of 0.3 at ~60,000
    assert rejections(bus) == [("p-1-2", "max_position_notional")]
    assert services.ledger.position("acct", "st", "BTC/USDT:USDT").quantity == D("0.6")


def test_strategy_quota_is_reserved_per_leg_and_released_when_final(
    services: Services, bus: LocalBus
) -> None:
    services.quotas.put("acct", "st", {"max_open_orders": 1})  # type: ignore[attr-defined]
    services.settings = services.settings.model_copy(
        update={"sizing": SizingPolicy(max_leg_notional=D(4_000))}
    )
    signal(bus, services, "q-1")  # two legs of 0.05, checked before either fills
    assert rejections(bus) == [("q-1-1", "quota_max_open_orders")]
    signal(bus, services, "q-2", quantity="0.05")  # q-1-0 filled: its reservation is back
    assert len(rejections(bus)) == 1
    assert services.ledger.position("acct", "st", "BTC/USDT:USDT").quantity == D("0.1")


def test_unrealized_loss_past_the_threshold_raises_warnings(
    services: Services, bus: LocalBus
) -> None:
    services.settings = services.settings.model_copy(update={"unrealized_loss_warning": 1e-6})
    signal(bus, services, "u-1")  # bought at the ask: marked at mid, a small loss at once
    signal(bus, services, "u-2")
    warnings = [json.loads(e.data) for e in bus.messages("risk-warnings")]
    assert warnings
    assert {w["kind"] for w in warnings} == {"unrealized_loss"}
    assert all(D(w["value"]) > D(w["threshold"]) for w in warnings)
    services.settings = services.settings.model_copy(update={"unrealized_loss_warning": 0.5})
    before = len(warnings)
    signal(bus, services, "u-3")
    assert len(bus.messages("risk-warnings")) == before


def test_unsized_signals_are_sized_from_the_strategys_allocation(
    services: Services, bus: LocalBus
) -> None:
    funds = services.allocations
    assert funds is not None
    funds.put_balance("acct", "USDT", D(100_000), D(0))  # type: ignore[attr-defined]
    funds.put_allocation("acct", "st", D(30_000))  # type: ignore[attr-defined]
    rule = SizingRule(mode=SizingMode.ALLOCATION_PERCENT, value=D("0.2"))
    services.settings = services.settings.model_copy(
        update={"sizing": SizingPolicy(strategies={"st": rule, "lone": rule})}
    )
    signal(bus, services, "a-1", quantity="")
    signal(bus, services, "a-2", quantity="", strategy="lone")  # no allocation
    [order] = services.state.orders()
    price = services.exchanges.for_account("acct").quote("BTC/USDT:USDT").mid
    assert order.request.quantity * price == pytest.approx(D(6000), rel=D("0.001"))
    [dead] = bus.messages("signals-dead-letter")
    assert dead.attributes["reason"] == "no_allocation"
