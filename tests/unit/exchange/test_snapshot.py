"""The snapshot endpoint: once per Cloud Scheduler schedule time, every account."""

from __future__ import annotations

from decimal import Decimal

from stratus.domain.common import Side
from stratus.domain.orders import OrderRequest, OrderType
from stratus.service.handlers import operations
from stratus.service.services import Services

AT = {"X-CloudScheduler-ScheduleTime": "2026-01-01T00:15:00+00:00"}


def test_a_schedule_time_is_snapshotted_once(services: Services) -> None:
    order = OrderRequest(
        request_id="s-1",
        signal_id="s-1",
        leg=0,
        account="acct",
        strategy="trend",
        symbol="ETH/USDT:USDT",
        side=Side.SELL,
        order_type=OrderType.MARKET,
        quantity=Decimal("1"),
        created_at=services.clock.now(),
    )
    services.exchanges.for_account("acct").place(order)
    first = operations.snapshot(services, AT, b"")
    again = operations.snapshot(services, AT, b"")
    assert first.status == 201
    assert first.body["accounts"]["acct"]["positions"] == {"ETH/USDT:USDT": "-1.00"}
    assert Decimal(first.body["accounts"]["acct"]["balances"]["USDT"]) > 0
    assert again.status == 200
    assert again.body["created"] is False


def test_a_schedule_time_without_a_timezone_is_refused(services: Services) -> None:
    result = operations.snapshot(
        services, {"X-CloudScheduler-ScheduleTime": "2026-01-01T00:15"}, b""
    )
    assert result.status == 400
    assert result.body["error"] == "bad_schedule_time"
