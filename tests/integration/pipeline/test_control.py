"""The control function's cancel where an order is not yet on the exchange: closed in its
document unless a copy is sending it right now (then it retries), and idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stratus.domain.control import Control, ControlKind
from stratus.domain.errors import ConcurrentUpdate
from stratus.domain.orders import OrderRequest, OrderStatus
from stratus.service.handlers.control import control
from stratus.service.handlers.execution import SEND_LEASE, execute_order
from stratus.service.handlers.risk import check_risk
from stratus.service.services import Services
from tests.conftest import open_accounts


@pytest.fixture
def approved(services: Services) -> OrderRequest:
    """A market buy risk approved, whose `orders` message has not reached the executor."""
    open_accounts(services, "acct")
    order = OrderRequest.model_validate(
        {"request_id": "c-1-0", "signal_id": "c-1", "leg": 0, "account": "acct",
         "strategy": "st", "symbol": "BTC/USDT:USDT", "side": "buy", "order_type": "market",
         "quantity": "0.1", "created_at": services.clock.now()}
    )  # fmt: skip
    check_risk(services, order)
    record = services.state.get_order(order.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.PENDING
    return order


def cancel(services: Services, order: OrderRequest) -> Control:
    return Control(
        control_id=f"cancel-{order.client_order_id}",
        kind=ControlKind.CANCEL,
        account=order.account,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        requested_by="user:me@example.com",
        requested_at=services.clock.now(),
    )


def test_an_unsent_order_is_canceled_in_its_document_and_never_sent(
    services: Services, approved: OrderRequest
) -> None:
    control(services, cancel(services, approved))
    control(services, cancel(services, approved))  # a copy: nothing more happens
    record = services.state.get_order(approved.client_order_id)
    assert record is not None
    assert (record.status, record.reason) == (OrderStatus.CANCELED, "canceled")
    assert record.detail == "by user:me@example.com"
    execute_order(services, approved)  # the late `orders` message
    assert not services.exchanges.for_account("acct").open_orders()
    assert services.ledger.position("acct", "st", approved.symbol).quantity == 0
    assert services.quotas.held("acct", "st") == 0  # type: ignore[attr-defined]


def test_an_order_being_sent_makes_the_cancel_retry(
    services: Services, approved: OrderRequest
) -> None:
    record = services.state.get_order(approved.client_order_id)
    assert record is not None
    services.state.save_order(record.sending(services.clock.now(), SEND_LEASE))
    with pytest.raises(ConcurrentUpdate):
        control(services, cancel(services, approved))
    services.clock.advance(SEND_LEASE + timedelta(seconds=1))  # type: ignore[attr-defined]
    control(services, cancel(services, approved))  # the send died: the exchange has none
    final = services.state.get_order(approved.client_order_id)
    assert final is not None
    assert final.status is OrderStatus.LOST
