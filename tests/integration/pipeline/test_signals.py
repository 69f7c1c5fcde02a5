"""on_signal: duplicates and cancelling the strategy's opposite working orders."""

from __future__ import annotations

import json
from decimal import Decimal as D

from stratus.adapters.local_bus import LocalBus
from stratus.domain.orders import OrderStatus
from stratus.domain.sizing import SizingPolicy
from stratus.service.services import Services
from tests.integration.pipeline.test_risk_flow import account, signal

__all__ = ["account"]  # the autouse fixture opening "acct", shared with test_risk_flow


def test_opposite_working_orders_are_canceled_first_when_configured(
    services: Services, bus: LocalBus
) -> None:
    services.settings = services.settings.model_copy(
        update={"sizing": SizingPolicy(cancel_opposite=True)}
    )
    signal(bus, services, "c-1", confidence=0.1)  # a limit buy rests inside the spread
    signal(bus, services, "c-2", confidence=0.1, strategy="other")  # not this strategy's
    signal(bus, services, "c-3", action="sell", quantity="0.05")
    by_id = {r.request.request_id: r for r in services.state.orders()}
    assert by_id["c-1-0"].status is OrderStatus.CANCELED
    assert by_id["c-2-0"].status is OrderStatus.OPEN
    assert by_id["c-3-0"].status is OrderStatus.FILLED
    assert services.quotas.held("acct", "st") == 0  # type: ignore[attr-defined]
    assert services.ledger.position("acct", "st", "BTC/USDT:USDT").quantity == D("-0.05")


def test_a_repeated_signal_id_plans_nothing_new(services: Services, bus: LocalBus) -> None:
    signal(bus, services, "r-1")
    signal(bus, services, "r-1", quantity="5")
    assert len(bus.messages("order-requests")) == 1
    assert [json.loads(e.data)["quantity"] for e in bus.messages("orders")] == ["0.1"]
