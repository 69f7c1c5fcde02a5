"""Configuring ccxt clients per account: environments, URL override, credentials."""

from __future__ import annotations

import pytest

from stratus.adapters.ccxt_exchange import (
    CcxtExchanges,
    make_client,
    market_cache_key,
    point_at,
)
from stratus.adapters.rate_limit import RollingWindow
from stratus.config import Settings
from stratus.domain.errors import ExchangeMisconfigured, PermanentError
from stratus.ports import ExchangeAccount

LOCAL = "http://127.0.0.1:8901"


def account(exchange_id: str = "bybit", **flags: bool) -> ExchangeAccount:
    return ExchangeAccount("main", exchange_id, "key", "secret", **flags)


def test_bybit_hosts_all_point_at_the_local_server() -> None:
    client = make_client(account(), Settings(exchange_api_url=LOCAL))
    assert set(client.urls["api"].values()) == {LOCAL}
    assert client.apiKey == "key"
    assert client.has["fetchCurrencies"] is False
    assert type(client)().has["fetchCurrencies"] is True  # other clients keep theirs


def test_binance_keeps_its_paths_under_the_local_host() -> None:
    client = make_client(account("binance"), Settings(exchange_api_url=LOCAL))
    assert client.urls["api"]["fapiPublic"] == f"{LOCAL}/fapi/v1"
    assert client.urls["api"]["public"] == f"{LOCAL}/api/v3"


def test_point_at_leaves_non_urls_alone() -> None:
    urls = {"api": {"rest": "https://api.x.com/v1", "ws": {"public": "wss://s.x.com/ws"}}, "n": 1}
    moved = point_at(urls, "http://h:1/base")
    assert moved["api"]["rest"] == "http://h:1/base/v1"
    assert moved["api"]["ws"]["public"] == "http://h:1/base/ws"
    assert moved["n"] == 1


def test_testnet_and_demo_trading_switch_hosts() -> None:
    sandbox = make_client(account(sandbox=True), Settings())
    demo = make_client(account(demo=True), Settings())
    assert sandbox.urls["api"]["private"] == "https://api-testnet.{hostname}"
    assert demo.urls["api"]["private"] == "https://api-demo.{hostname}"
    assert demo.options["enableDemoTrading"] is True


def test_an_exchange_without_such_an_environment_is_misconfigured() -> None:
    with pytest.raises(ExchangeMisconfigured):
        make_client(account("bitstamp", demo=True), Settings())


def test_an_unknown_exchange_id_is_misconfigured() -> None:
    with pytest.raises(ExchangeMisconfigured):
        make_client(account("no_such_exchange"), Settings())


def test_market_cache_keys_separate_environments_and_hosts() -> None:
    keys = {
        market_cache_key(account()),
        market_cache_key(account(sandbox=True)),
        market_cache_key(account(demo=True)),
        market_cache_key(account(), LOCAL),
    }
    assert len(keys) == 4
    assert market_cache_key(account(), LOCAL) == "bybit/live@127.0.0.1:8901"


def test_secrets_stay_out_of_the_account_repr() -> None:
    assert "secret" not in repr(account()).replace("secret=", "")


class _Empty:
    def exchange_account(self, name: str) -> ExchangeAccount:
        raise KeyError(name)

    def accounts(self) -> list[str]:
        return []


def test_an_unknown_account_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="unknown_account"):
        CcxtExchanges(Settings(), _Empty()).for_account("ghost")


@pytest.mark.parametrize(("exchange_id", "budget"), [("bybit", 50), ("binance", 20)])
def test_requests_are_paced_by_a_rolling_budget_of_ccxts_rate(
    exchange_id: str, budget: float
) -> None:
    client = make_client(account(exchange_id), Settings())
    assert client.enableRateLimit is True
    assert isinstance(client.throttle.__self__, RollingWindow)
    assert client.throttle.__self__.budget == budget
    assert make_client(account(), Settings(exchange_rate_limit=False)).enableRateLimit is False
