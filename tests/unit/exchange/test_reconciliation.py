"""Reconciliation against the paper venue: adopt missed fills, lose what never arrived,
cancel stale orders, book drift once, and never count a fill twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.contracts import codec
from stratus.domain.common import Side
from stratus.domain.orders import OrderRecord, OrderRequest, OrderStatus, OrderType
from stratus.domain.reconciliation import RECONCILIATION_STRATEGY, ReconciliationReport
from stratus.ports import VenuePosition
from stratus.service.handlers import operations
from stratus.service.reconciliation import reconcile_account
from stratus.service.services import Services
from stratus.topology import topology

BTC = "BTC/USDT:USDT"


def reserved(services: Services, req: OrderRequest) -> None:
    """A quota reservation for the request, as check_risk takes it."""
    assert services.quotas.reserve(req, req.quantity * Decimal(50_000)) is None
    assert held(services) == 1


def held(services: Services) -> int:
    """Reservations still held by the test strategy (the embedded SQL quotas)."""
    count: int = services.quotas.held("acct", "trend")  # type: ignore[attr-defined]
    return count


def request(
    services: Services, rid: str, qty: str = "0.01", limit: str | None = None
) -> OrderRequest:
    return OrderRequest(
        request_id=rid,
        signal_id=rid,
        leg=0,
        account="acct",
        strategy="trend",
        symbol=BTC,
        side=Side.BUY,
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        quantity=Decimal(qty),
        limit_price=Decimal(limit) if limit else None,
        created_at=services.clock.now(),
    )


def intent(services: Services, req: OrderRequest) -> None:
    assert services.state.create_order(OrderRecord.intent(req, services.clock.now()))


def record(services: Services, req: OrderRequest) -> OrderRecord:
    found = services.state.get_order(req.client_order_id)
    assert found is not None
    return found


def net(services: Services, symbol: str = BTC) -> Decimal:
    return sum(
        (p.quantity for p in services.ledger.positions("acct") if p.symbol == symbol), Decimal(0)
    )


def reports(bus: LocalBus) -> list[ReconciliationReport]:
    decoded = [
        codec.decode("reconciliation-reports", e.data)
        for e in bus.messages("reconciliation-reports")
    ]
    return [r for r in decoded if isinstance(r, ReconciliationReport)]


def test_a_fill_the_executor_never_recorded_is_adopted_once(
    services: Services, bus: LocalBus
) -> None:
    req = request(services, "died-1")
    intent(services, req)
    services.exchanges.for_account("acct").place(req)  # ...and the executor died here
    first = reconcile_account(services, "acct")
    bus.drain()
    again = reconcile_account(services, "acct")
    bus.drain()
    assert first.adopted_fills == 1
    assert again.adopted_fills == 0
    assert record(services, req).status is OrderStatus.FILLED
    assert [f.client_order_id for f in services.ledger.fills("acct")] == [req.client_order_id]
    assert net(services) == Decimal("0.01")
    assert first.drifts == []  # the fill in flight was counted
    assert again.drifts == []


def test_a_pending_order_the_exchange_never_got_is_closed_after_the_delivery_window(
    services: Services, clock: ManualClock
) -> None:
    req = request(services, "never-sent")
    reserved(services, req)
    intent(services, req)
    clock.advance(topology().retry.delivery_window - timedelta(seconds=1))
    reconcile_account(services, "acct")
    assert record(services, req).status is OrderStatus.PENDING  # may still be delivered
    clock.advance(timedelta(seconds=2))
    report = reconcile_account(services, "acct")
    assert report.lost_orders == [req.client_order_id]
    closed = record(services, req)
    assert (closed.status, closed.reason, closed.owes) == (
        OrderStatus.CANCELED,  # never sent: no attempt was made
        "undelivered",
        False,
    )
    assert held(services) == 0  # given back with the final order's ledger record


def test_a_working_order_past_the_stale_timeout_is_canceled(
    services: Services, clock: ManualClock
) -> None:
    req = request(services, "resting", limit="1000")  # far below the market: rests
    reserved(services, req)
    intent(services, req)
    services.exchanges.for_account("acct").place(req)
    assert reconcile_account(services, "acct").canceled_stale == []
    assert record(services, req).status is OrderStatus.OPEN
    clock.advance(timedelta(seconds=services.settings.stale_order_seconds + 1))
    report = reconcile_account(services, "acct")
    assert report.canceled_stale == [req.client_order_id]
    assert record(services, req).status is OrderStatus.CANCELED
    assert held(services) == 0  # given back with the final order's ledger record
    assert services.exchanges.for_account("acct").open_orders() == []


def test_drift_is_booked_once_under_the_reconciliation_strategy(
    services: Services, bus: LocalBus
) -> None:
    venue = services.exchanges.for_account("acct")
    stray = request(services, "manual-trade", "0.02")
    venue.place(stray)  # traded outside Stratus: no record anywhere
    first = reconcile_account(services, "acct")
    rerun = reconcile_account(services, "acct")  # before the correction was applied
    bus.drain()
    settled = reconcile_account(services, "acct")
    assert [d.exchange_quantity - d.ledger_quantity for d in first.drifts] == [Decimal("0.02")]
    assert rerun.drifts[0].correction_fill_id == first.drifts[0].correction_fill_id
    assert settled.drifts == []
    assert net(services) == Decimal("0.02")
    corrections = [
        f for f in services.ledger.fills("acct") if f.strategy == RECONCILIATION_STRATEGY
    ]
    assert len(corrections) == 1
    assert [r.account for r in reports(bus)] == ["acct"] * 3


def test_a_fill_landing_while_reconcile_runs_is_left_to_the_next_run(
    services: Services, bus: LocalBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exchange fills an order just after reconcile read its positions: following the
    order adopts that fill, so the ledger side has it and the first read has not. Judged
    on those two reads, reconcile would invent a correction; it defers the symbol."""
    req = request(services, "lands-meanwhile")
    intent(services, req)
    venue = services.exchanges.for_account("acct")
    read = venue.positions

    def read_then_fill() -> list[VenuePosition]:
        seen = read()
        monkeypatch.setattr(venue, "positions", read)  # once
        venue.place(req)
        return seen

    monkeypatch.setattr(venue, "positions", read_then_fill)
    first = reconcile_account(services, "acct")
    bus.drain()
    settled = reconcile_account(services, "acct")
    assert (first.adopted_fills, first.drifts, first.deferred) == (1, [], [BTC])
    assert (settled.drifts, settled.deferred) == ([], [])
    assert net(services) == Decimal("0.01")
    assert all(f.strategy != RECONCILIATION_STRATEGY for f in services.ledger.fills("acct"))


def test_orders_unknown_to_stratus_are_reported(services: Services) -> None:
    services.exchanges.for_account("acct").place(request(services, "foreign", limit="1000"))
    report = reconcile_account(services, "acct")
    assert report.unknown_orders == [request(services, "foreign").client_order_id]
    assert report.balances["USDT"] > 0


def test_reconcile_endpoint_covers_every_account(services: Services) -> None:
    req = request(services, "ep-1")
    intent(services, req)
    services.exchanges.for_account("acct").place(req)
    result = operations.reconcile(services, {}, b"")
    assert result.status == 200
    assert result.body["accounts"]["acct"]["adopted_fills"] == 1
    assert result.body["failed"] == {}
