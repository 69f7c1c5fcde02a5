"""execute_order: dry run, rounding and limits, kill switch at send time, safe retries,
stale orders, dead letters."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.contracts import codec
from stratus.domain.errors import ExchangeUnavailable, OrderRejected, PermanentError
from stratus.domain.orders import ExchangeOrder, OrderRequest, OrderStatus
from stratus.domain.risk import TradingState
from stratus.service.dispatch import deliver
from stratus.service.handlers.execution import execute_order
from stratus.service.handlers.risk import check_risk
from stratus.service.services import Services


def request(services: Services, quantity: str = "0.1", **fields: object) -> OrderRequest:
    return OrderRequest.model_validate(
        {"request_id": "e-1-0", "signal_id": "e-1", "leg": 0, "account": "acct",
         "strategy": "st", "symbol": "BTC/USDT:USDT", "side": "buy", "order_type": "market",
         "quantity": quantity, "created_at": services.clock.now(), **fields}
    )  # fmt: skip


def held(services: Services) -> int:
    return services.quotas.held("acct", "st")  # type: ignore[attr-defined, no-any-return]


def test_dry_run_records_and_never_sends(services: Services, bus: LocalBus) -> None:
    services.settings = services.settings.model_copy(update={"dry_run": True})
    order = request(services)
    check_risk(services, order)
    assert held(services) == 1
    execute_order(services, order)
    record = services.state.get_order(order.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.DRY_RUN
    assert (
        services.exchanges.for_account("acct").lookup(order.client_order_id, order.symbol) is None
    )
    assert held(services) == 0


def test_amounts_are_rounded_and_checked_against_the_market_before_sending(
    services: Services, bus: LocalBus
) -> None:
    execute_order(services, request(services, "0.10049"))
    dust = request(services, "0.0000001", request_id="e-2-0", signal_id="e-2")
    with pytest.raises(PermanentError, match="below_min_amount"):
        execute_order(services, dust)
    [first, second] = services.state.orders()
    assert (first.status, first.filled) == (OrderStatus.FILLED, D("0.1"))
    assert (second.status, second.attempts) == (OrderStatus.REJECTED, 0)
    [rejection] = [json.loads(e.data) for e in bus.messages("order-rejections")]
    assert rejection["reason"] == "below_min_amount"


def test_risk_hands_its_price_to_the_executor_which_sends_without_a_fresh_quote(
    services: Services, bus: LocalBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = request(services)
    check_risk(services, order)
    [approved] = [codec.decode("orders", e.data) for e in bus.messages("orders")]
    assert isinstance(approved, OrderRequest)
    venue = services.exchanges.for_account("acct")
    touch = venue.quote(order.symbol).touch(order.side)
    assert approved.reference_price == touch
    quotes: list[str] = []
    monkeypatch.setattr(type(venue), "quote", lambda self, symbol: quotes.append(symbol))
    execute_order(services, approved)
    [record] = services.state.orders()
    assert (record.status, quotes) == (OrderStatus.FILLED, [])
    assert record.request.reference_price == touch


def test_a_kill_switch_thrown_after_approval_stops_the_send(
    services: Services, bus: LocalBus
) -> None:
    order = request(services)
    check_risk(services, order)
    services.state.set_trading_state("global", TradingState.HALTED, "incident")
    with pytest.raises(PermanentError, match="kill_switch_halted"):
        execute_order(services, order)
    record = services.state.get_order(order.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.REJECTED
    assert json.loads(bus.messages("order-rejections")[0].data)["reason"] == "kill_switch_halted"
    assert held(services) == 0


class Flaky:
    """A venue failing the first `failures` creates with `error`, before booking."""

    def __init__(self, inner: object, error: Exception, failures: int) -> None:
        self.inner, self.error, self.failures, self.calls = inner, error, failures, 0

    def place(self, order: OrderRequest) -> ExchangeOrder:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.inner.place(order)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_unavailable_exchange_is_retried_with_growing_jittered_backoff(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = Flaky(services.exchanges.for_account("acct"), ExchangeUnavailable("502"), 2)
    monkeypatch.setattr(services.exchanges, "for_account", lambda _account: venue)
    sleeps: list[float] = []
    services.sleep = sleeps.append
    execute_order(services, request(services))
    assert venue.calls == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.4
    assert 0 <= sleeps[1] <= 0.8


def test_a_permanent_refusal_is_never_retried(
    services: Services, bus: LocalBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = OrderRejected("insufficient_funds", "balance too low")
    venue = Flaky(services.exchanges.for_account("acct"), refusal, 5)
    monkeypatch.setattr(services.exchanges, "for_account", lambda _account: venue)
    with pytest.raises(OrderRejected):
        execute_order(services, request(services))
    execute_order(services, request(services))  # redelivered: already final
    assert venue.calls == 1
    [rejection] = [json.loads(e.data) for e in bus.messages("order-rejections")]
    assert rejection["reason"] == "insufficient_funds"


def test_still_unavailable_after_all_attempts_raises_for_redelivery(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = Flaky(services.exchanges.for_account("acct"), ExchangeUnavailable("timeout"), 4)
    monkeypatch.setattr(services.exchanges, "for_account", lambda _account: venue)
    order = request(services)
    with pytest.raises(ExchangeUnavailable):
        execute_order(services, order)
    execute_order(services, order)  # the redelivery looks first, then sends at once
    record = services.state.get_order(order.client_order_id)
    assert record is not None
    assert (record.status, record.attempts, venue.calls) == (OrderStatus.FILLED, 2, 5)


def test_a_stale_order_message_is_canceled_unsent(
    services: Services, bus: LocalBus, clock: ManualClock
) -> None:
    order = request(services)
    check_risk(services, order)
    [envelope] = bus.messages("orders")
    clock.advance(timedelta(seconds=services.settings.max_event_age_seconds + 1))
    deliver(services, "execute_order", envelope.data, envelope.attributes, envelope.published_at)
    record = services.state.get_order(order.client_order_id)
    assert record is not None
    assert (record.status, record.reason) == (OrderStatus.CANCELED, "stale")
    assert held(services) == 0


def test_poison_messages_are_dead_lettered_with_their_reason(
    services: Services, bus: LocalBus
) -> None:
    bus.publish("orders", b'{"request_id": "x"}', {"trace_id": "t-1"})
    bad_symbol = request(services, symbol="DOGE/USDT:USDT")
    services.publish("orders", bad_symbol)
    bus.drain()
    dead = bus.messages("orders-dead-letter")
    assert [e.attributes["reason"] for e in dead] == ["missing_field", "unknown_symbol"]
    assert dead[0].attributes["trace_id"] == "t-1"
    rejected = [json.loads(e.data)["reason"] for e in bus.messages("order-rejections")]
    assert rejected == ["unknown_symbol"]
