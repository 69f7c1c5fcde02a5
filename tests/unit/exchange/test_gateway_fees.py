"""ExchangeGateway reads an order's fee from its trades only when the order has none."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import ccxt
import pytest

from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.domain import errors
from stratus.domain.common import Side
from stratus.domain.orders import Liquidity, OrderRequest, OrderStatus, OrderType
from stratus.ports import Exchange

BTC = "BTC/USDT:USDT"


def trade(order: str, cost: float, currency: str = "USDT", role: str = "maker") -> dict[str, Any]:
    return {"order": order, "takerOrMaker": role, "fee": {"cost": cost, "currency": currency}}


class Client:
    """A ccxt-like client: answers one order, records which trade reads it is asked."""

    id = "fake"
    has = {"fetchMyTrades": True}

    def __init__(self, order: dict[str, Any], trades: list[dict[str, Any]] | None = None) -> None:
        self.order = {"id": "42", "type": "limit", "status": "closed", "filled": 2.0, **order}
        self.trades = trades or []
        self.trade_reads: list[tuple[Any, ...]] = []
        self.error: Exception | None = None

    def create_order(self, *args: Any) -> dict[str, Any]:
        return self.order

    def fetch_order(self, *args: Any) -> dict[str, Any]:
        return self.order

    def fetch_my_trades(self, *args: Any) -> list[dict[str, Any]]:
        self.trade_reads.append(args)
        if self.error is not None:
            raise self.error
        return self.trades


def gateway(client: Client) -> ExchangeGateway:
    return ExchangeGateway(cast(Exchange, client))  # only the methods the paths below call


def request() -> OrderRequest:
    return OrderRequest(
        request_id="r-1",
        signal_id="r-1",
        leg=0,
        account="main",
        strategy="trend",
        symbol=BTC,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal(2),
        limit_price=Decimal(100),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_an_order_that_carries_its_fee_costs_no_extra_request() -> None:
    client = Client({"fee": {"cost": 0.5, "currency": "USDT"}}, [trade("42", 9.0)])
    venue = gateway(client)
    placed = venue.place(request())
    found = venue.lookup("c-1", BTC)
    assert found is not None
    assert (placed.fee, found.fee) == (Decimal("0.5"), Decimal("0.5"))
    assert client.trade_reads == []


@pytest.mark.parametrize(
    ("order", "has"),
    [({"filled": 0.0, "status": "open"}, True), ({}, False)],
    ids=["nothing filled", "no fetchMyTrades"],
)
def test_no_fill_or_no_trade_history_costs_no_extra_request(
    order: dict[str, Any], has: bool
) -> None:
    client = Client({"fee": None, **order}, [trade("42", 9.0)])
    client.has = {"fetchMyTrades": has}
    placed = gateway(client).place(request())
    assert placed.fee == 0
    assert client.trade_reads == []


def test_a_fee_less_order_sums_its_own_trades_fees() -> None:
    trades = [trade("42", 0.25), trade("7", 5.0), trade("42", 0.5, role="taker")]
    client = Client({"fee": {"cost": None, "currency": None}}, trades)
    placed = gateway(client).place(request())
    assert client.trade_reads == [(BTC, None, None, {"orderId": "42"})]
    assert (placed.fee, placed.fee_currency) == (Decimal("0.75"), "USDT")  # not order 7's
    assert placed.liquidity is Liquidity.TAKER  # the last trade's
    assert placed.status is OrderStatus.FILLED


def test_fees_in_several_currencies_keep_the_quote_currencys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Client({"fee": None}, [trade("42", 0.25), trade("42", 0.001, "BNB")])
    with caplog.at_level(logging.WARNING):
        placed = gateway(client).place(request())
    assert (placed.fee, placed.fee_currency) == (Decimal("0.25"), "USDT")
    assert "several currencies" in caplog.text


def test_a_failed_trade_read_is_mapped_like_any_exchange_error() -> None:
    client = Client({"fee": None})
    client.error = ccxt.RateLimitExceeded("binance 429")
    with pytest.raises(errors.RateLimited):
        gateway(client).lookup("c-1", BTC)
