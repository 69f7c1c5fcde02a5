"""A served paper exchange on a SQL venue store keeps its accounts across a restart:
real ccxt finds the same orders (Binance's integer ids too), positions and balance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stratus.adapters.ccxt_exchange import CcxtExchanges
from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.binance_http import paper_binance
from stratus.adapters.paper.bybit_http import paper_bybit
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.served import Served
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.market_cache import SqlMarketCache
from stratus.adapters.sql.paper_venues import SqlVenueStore
from stratus.config import Settings
from stratus.ports import ExchangeAccount, Venue
from tests.integration.exchange.conftest import API_KEY, SECRET, Directory, order_request


@pytest.mark.parametrize(
    ("exchange_id", "paper_app"), [("bybit", paper_bybit), ("binance", paper_binance)]
)
def test_a_restarted_paper_server_keeps_its_accounts(
    exchange_id: str,
    paper_app: Callable[..., Any],
    clock: ManualClock,
    feed: PriceFeed,
    market_cache: SqlMarketCache,
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path}/paper-{exchange_id}.db"
    directory = Directory(ExchangeAccount("acct", exchange_id, API_KEY, SECRET))

    def started() -> Served[Any]:
        store = SqlVenueStore(Database.from_url(database), clock)
        return Served(paper_app({API_KEY: SECRET}, clock, feed, store))

    def venue(url: str) -> Venue:
        settings = Settings(
            database_url="sqlite://",
            exchange="ccxt",
            exchange_api_url=url,
            exchange_rate_limit=False,
            exchange_timeout_ms=1000,
        )
        return CcxtExchanges(settings, directory, market_cache).for_account("acct")

    bought = order_request("r-1", quantity="0.02", account="acct")
    resting = order_request("r-2", limit="50000", account="acct")
    with started() as first:
        before = venue(first.url)
        filled, working = before.place(bought), before.place(resting)
        positions, balances = before.positions(), before.balances()

    with started() as second:
        after = venue(second.url)
        found = after.lookup(bought.client_order_id, bought.symbol)
        assert found is not None
        assert (found.exchange_order_id, found.filled, found.cost, found.fee) == (
            filled.exchange_order_id,
            filled.filled,
            filled.cost,
            filled.fee,
        )
        (still,) = after.open_orders()
        assert (still.client_order_id, still.order.exchange_order_id) == (
            resting.client_order_id,
            working.exchange_order_id,
        )
        assert after.positions() == positions
        assert after.balances() == balances
