"""Order requests, the lifecycle state machine and fills derived from observations."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from stratus.domain.common import Side
from stratus.domain.errors import InvalidTransition
from stratus.domain.orders import (
    ExchangeOrder,
    ExitKind,
    Liquidity,
    OrderRecord,
    OrderRequest,
    OrderStatus,
    OrderType,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def request(**changes: object) -> OrderRequest:
    fields: dict[str, object] = {
        "request_id": "sig-1-0",
        "signal_id": "sig-1",
        "leg": 0,
        "account": "a",
        "strategy": "s",
        "symbol": "BTC/USDT:USDT",
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
        "quantity": D("0.5"),
        "created_at": T0,
    }
    fields.update(changes)
    return OrderRequest.model_validate(fields)


def seen(status: OrderStatus, filled: str, cost: str, fee: str = "0") -> ExchangeOrder:
    return ExchangeOrder(
        exchange_order_id="x1",
        status=status,
        filled=D(filled),
        cost=D(cost),
        fee=D(fee),
        fee_currency="USDT",
        liquidity=Liquidity.MAKER,
        updated_at=T0,
    )


def test_client_order_id_is_deterministic_and_fits_bybit() -> None:
    first, again, other = request(), request(), request(request_id="sig-1-1", leg=1)
    assert first.client_order_id == again.client_order_id
    assert first.client_order_id != other.client_order_id
    assert len(first.client_order_id) <= 36
    assert first.client_order_id.replace("-", "").isalnum()


def test_limit_needs_a_price_and_market_refuses_one() -> None:
    with pytest.raises(ValueError, match="limit orders need limit_price"):
        request(order_type=OrderType.LIMIT)
    with pytest.raises(ValueError, match="limit orders need limit_price"):
        request(limit_price=D(1))


def test_partial_fills_become_sequenced_fills_with_average_prices() -> None:
    record = OrderRecord.intent(request(), T0)
    record = record.observe(seen(OrderStatus.PARTIALLY_FILLED, "0.2", "20000", "2"), T0)
    record = record.observe(seen(OrderStatus.PARTIALLY_FILLED, "0.2", "20000", "2"), T0)
    record = record.observe(seen(OrderStatus.FILLED, "0.5", "50600", "5"), T0)
    assert record.status is OrderStatus.FILLED
    assert [f.quantity for f in record.fills] == [D("0.2"), D("0.3")]
    assert [f.price for f in record.fills] == [D(100000), D(102000)]
    assert [f.fee for f in record.fills] == [D(2), D(3)]
    assert [f.fill_id for f in record.fills] == [
        f"{record.client_order_id}-1",
        f"{record.client_order_id}-2",
    ]
    assert record.unpublished == record.fills
    assert record.settled().unpublished == ()


def test_a_document_owes_the_effects_of_each_change_until_settled() -> None:
    intent = OrderRecord.intent(request(), T0)
    assert not intent.owes  # nobody needs telling about an order not yet sent
    opened = intent.observe(seen(OrderStatus.OPEN, "0", "0"), T0)
    assert (opened.owes, opened.unpublished) == (True, ())  # the ledger learns the order
    settled = opened.settled()
    assert not settled.owes
    assert not settled.observe(seen(OrderStatus.OPEN, "0", "0"), T0).owes  # nothing new
    filled = settled.observe(seen(OrderStatus.FILLED, "0.5", "50000"), T0)
    assert filled.owes
    assert filled.unpublished == filled.fills
    assert not filled.settled().owes


def test_terminal_states_do_not_move() -> None:
    record = OrderRecord.intent(request(), T0).transition(OrderStatus.FILLED, T0)
    with pytest.raises(InvalidTransition):
        record.transition(OrderStatus.OPEN, T0)
    assert OrderStatus.FILLED.is_terminal
    assert not OrderStatus.OPEN.is_terminal


def test_a_pending_order_can_be_found_lost() -> None:
    record = OrderRecord.intent(request(), T0).transition(
        OrderStatus.LOST, T0, "lost", "not on exchange"
    )
    assert (record.status, record.owes) == (OrderStatus.LOST, True)
    assert record.explanation == "lost: not on exchange"


@pytest.mark.parametrize(
    ("kind", "side", "mark", "fires"),
    [
        (ExitKind.STOP_LOSS, Side.SELL, "99", True),  # protects a long: fires falling
        (ExitKind.STOP_LOSS, Side.SELL, "100", True),
        (ExitKind.STOP_LOSS, Side.SELL, "101", False),
        (ExitKind.TAKE_PROFIT, Side.SELL, "101", True),  # a long's target: fires rising
        (ExitKind.TAKE_PROFIT, Side.SELL, "99", False),
        (ExitKind.STOP_LOSS, Side.BUY, "101", True),  # protects a short: fires rising
        (ExitKind.STOP_LOSS, Side.BUY, "99", False),
        (ExitKind.TAKE_PROFIT, Side.BUY, "99", True),
        (ExitKind.TAKE_PROFIT, Side.BUY, "100.5", False),
    ],
)
def test_a_protective_exit_fires_when_the_mark_reaches_its_trigger(
    kind: ExitKind, side: Side, mark: str, fires: bool
) -> None:
    exit_order = request(side=side, exit_kind=kind, trigger_price=D(100), reduce_only=True)
    assert exit_order.fires_at(D(mark)) is fires
    assert request(side=side).fires_at(D(mark)) is False  # an ordinary order never does


@pytest.mark.parametrize(
    "changes",
    [
        {"exit_kind": ExitKind.STOP_LOSS, "reduce_only": True},  # no trigger
        {"trigger_price": D(100), "reduce_only": True},  # no kind
        {"exit_kind": ExitKind.STOP_LOSS, "trigger_price": D(100)},  # not reduce-only
        {
            "exit_kind": ExitKind.TAKE_PROFIT,
            "trigger_price": D(100),
            "reduce_only": True,
            "order_type": OrderType.LIMIT,
            "limit_price": D(100),
        },
    ],
)
def test_a_protective_exit_is_a_reduce_only_market_order_with_kind_and_trigger(
    changes: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="protective exit"):
        request(**changes)
