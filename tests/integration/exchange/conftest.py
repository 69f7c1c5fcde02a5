"""Real ccxt.bybit and ccxt.binance against the paper Bybit v5 and Binance USDⓈ-M
futures servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest

from stratus.adapters.ccxt_exchange import CcxtExchanges
from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.binance_http import ServedBinance, paper_binance
from stratus.adapters.paper.bybit_http import ServedBybit, paper_bybit
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.market_cache import SqlMarketCache
from stratus.config import Settings
from stratus.domain.common import Side
from stratus.domain.orders import OrderRequest, OrderType
from stratus.ports import ExchangeAccount
from stratus.service.bootstrap import build
from stratus.service.services import Services
from tests.conftest import open_accounts

API_KEY = "test-key"
SECRET = "test-secret"
ACCOUNT = "bybit-main"
BINANCE_ACCOUNT = "binance-main"


class Directory:
    """Accounts as the manager would hand them out (decrypted, in memory)."""

    def __init__(self, *accounts: ExchangeAccount) -> None:
        self._accounts = {a.account: a for a in accounts}

    def exchange_account(self, account: str) -> ExchangeAccount:
        return self._accounts[account]

    def accounts(self) -> list[str]:
        return sorted(self._accounts)


@pytest.fixture
def clock(feed: PriceFeed) -> ManualClock:
    return ManualClock(feed.start + timedelta(minutes=1))


@pytest.fixture
def served(clock: ManualClock, feed: PriceFeed) -> Iterator[ServedBybit]:
    with ServedBybit(paper_bybit({API_KEY: SECRET}, clock, feed)) as server:
        yield server


@pytest.fixture
def settings(served: ServedBybit) -> Settings:
    return Settings(
        database_url="sqlite://",
        exchange="ccxt",
        exchange_api_url=served.url,
        exchange_rate_limit=False,  # ccxt would sleep between calls
        exchange_timeout_ms=1000,
    )


@pytest.fixture
def directory() -> Directory:
    return Directory(ExchangeAccount(ACCOUNT, "bybit", API_KEY, SECRET))


@pytest.fixture
def market_cache(clock: ManualClock) -> SqlMarketCache:
    return SqlMarketCache(Database.from_url("sqlite://"), clock)


@pytest.fixture
def exchanges(
    settings: Settings, directory: Directory, market_cache: SqlMarketCache
) -> CcxtExchanges:
    return CcxtExchanges(settings, directory, market_cache)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def live(
    settings: Settings, clock: ManualClock, exchanges: CcxtExchanges, sleeps: list[float]
) -> Services:
    """The embedded stack trading through real ccxt against the served exchange, its
    account open in the system of record (unknown accounts never trade)."""
    services = build(settings, clock=clock, exchanges=exchanges, sleep=sleeps.append)
    open_accounts(services, ACCOUNT, exchange_id="bybit")
    return services


@pytest.fixture
def make_request() -> Callable[..., OrderRequest]:
    return order_request


def order_request(
    request_id: str,
    quantity: str = "0.01",
    side: Side = Side.BUY,
    limit: str | None = None,
    symbol: str = "BTC/USDT:USDT",
    at: datetime | None = None,
    account: str = ACCOUNT,
) -> OrderRequest:
    return OrderRequest(
        request_id=request_id,
        signal_id=request_id,
        leg=0,
        account=account,
        strategy="trend",
        symbol=symbol,
        side=side,
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        quantity=Decimal(quantity),
        limit_price=Decimal(limit) if limit else None,
        created_at=at or datetime(2026, 1, 1, tzinfo=UTC),
    )


# --- Binance USDⓈ-M futures ---------------------------------------------------------


@pytest.fixture
def binance_served(clock: ManualClock, feed: PriceFeed) -> Iterator[ServedBinance]:
    with ServedBinance(paper_binance({API_KEY: SECRET}, clock, feed)) as server:
        yield server


@pytest.fixture
def binance_settings(binance_served: ServedBinance) -> Settings:
    return Settings(
        database_url="sqlite://",
        exchange="ccxt",
        exchange_api_url=binance_served.url,
        exchange_rate_limit=False,  # ccxt would sleep between calls
        exchange_timeout_ms=1000,
    )


@pytest.fixture
def binance_directory() -> Directory:
    return Directory(ExchangeAccount(BINANCE_ACCOUNT, "binance", API_KEY, SECRET))


@pytest.fixture
def binance_exchanges(
    binance_settings: Settings, binance_directory: Directory, market_cache: SqlMarketCache
) -> CcxtExchanges:
    return CcxtExchanges(binance_settings, binance_directory, market_cache)


@pytest.fixture
def binance_live(
    binance_settings: Settings,
    clock: ManualClock,
    binance_exchanges: CcxtExchanges,
    sleeps: list[float],
) -> Services:
    """The embedded stack trading through real ccxt.binance against the served fake, its
    account open in the system of record."""
    services = build(
        binance_settings, clock=clock, exchanges=binance_exchanges, sleep=sleeps.append
    )
    open_accounts(services, BINANCE_ACCOUNT, exchange_id="binance")
    return services


@pytest.fixture
def make_binance_request() -> Callable[..., OrderRequest]:
    return partial(order_request, account=BINANCE_ACCOUNT)
