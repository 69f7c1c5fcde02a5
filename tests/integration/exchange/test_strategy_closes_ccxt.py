"""Strategy closes through real ccxt.bybit and ccxt.binance against the served paper
exchanges: opposite strategies in one account both close, and the reduceOnly flag
reaches the exchange exactly when the close shrinks the account's net position."""

from __future__ import annotations

from decimal import Decimal

from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.binance_http import ServedBinance
from stratus.adapters.paper.bybit_http import ServedBybit
from stratus.adapters.paper.exchange import PaperExchange
from stratus.service.services import Services
from tests.integration.exchange.conftest import ACCOUNT, BINANCE_ACCOUNT
from tests.integration.pipeline.test_risk_flow import rejections, signal

ETH = "ETH/USDT:USDT"


def hold_and_hedge_close(services: Services, account: str, venue: PaperExchange) -> None:
    bus = services.bus
    assert isinstance(bus, LocalBus)
    trade = {"account": account, "symbol": ETH}
    signal(bus, services, "hh-1", strategy="hold", quantity="2", **trade)
    signal(bus, services, "hh-2", strategy="hedge", action="sell", quantity="3", **trade)
    signal(bus, services, "hh-3", strategy="hold", action="close", **trade)  # net -1 -> -3
    signal(bus, services, "hh-4", strategy="hedge", action="close", **trade)  # net -3 -> 0

    assert rejections(bus) == []
    ledger = {p.strategy: p.quantity for p in services.ledger.positions(account)}
    assert ledger == {"hold": 0, "hedge": 0}
    assert venue.fetch_positions() == []
    by_signal = {r.client_order_id: r.request.signal_id for r in services.state.orders()}
    orders = venue.fetch_canceled_and_closed_orders(ETH)
    flags = {by_signal[o["clientOrderId"]]: o["reduceOnly"] for o in orders}
    assert flags == {"hh-1": False, "hh-2": False, "hh-3": False, "hh-4": True}
    assert {by_signal[o["clientOrderId"]]: Decimal(str(o["filled"])) for o in orders} == {
        "hh-1": 2, "hh-2": 3, "hh-3": 2, "hh-4": 3,
    }  # fmt: skip


def test_bybit_gets_reduce_only_only_on_the_close_that_shrinks_the_account(
    live: Services, served: ServedBybit
) -> None:
    hold_and_hedge_close(live, ACCOUNT, next(iter(served.app.accounts.values())).venue)


def test_binance_gets_reduce_only_only_on_the_close_that_shrinks_the_account(
    binance_live: Services, binance_served: ServedBinance
) -> None:
    venue = next(iter(binance_served.app.accounts.values())).venue
    hold_and_hedge_close(binance_live, BINANCE_ACCOUNT, venue)
