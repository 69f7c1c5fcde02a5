"""The manager client implements the Ledger, Quotas and AccountDirectory ports over HTTP;
here it talks to the real app in-process, as functions do in production."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from stratus.adapters import manager_client
from stratus.adapters.manager_client import IdTokens, ManagerClient, ManagerError
from stratus.config import Settings
from stratus.domain.errors import PermanentError
from stratus.domain.orders import Fill, OrderRecord, OrderRequest
from stratus.domain.records import NotFound
from tests.integration.manager.conftest import START, Api, fill, order_request


@pytest.fixture
def client(api: Api) -> ManagerClient:
    return ManagerClient(api.client, lambda: api.tokens["admin"])


def request(n: int) -> OrderRequest:
    return OrderRequest.model_validate(order_request(n))


def test_ledger_over_http(client: ManagerClient, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager_client, "PAGE", 2)  # exercise paging
    first = client.apply_fill(Fill.model_validate(fill(1, quantity="2")))
    assert first is not None
    assert first.quantity == Decimal(2)
    assert client.apply_fill(Fill.model_validate(fill(1, quantity="2"))) is None
    for n, symbol in enumerate(["ETH/USDT", "SOL/USDT", "XRP/USDT"], start=2):
        client.apply_fill(Fill.model_validate(fill(n, symbol=symbol)))
    client.apply_fill(Fill.model_validate(fill(9, "sell", price="110")))
    assert client.position("acct-1", "trend", "BTC/USDT").realized_pnl == Decimal(10)
    assert client.position("acct-1", "trend", "DOGE/USDT").quantity == Decimal(0)
    assert [p.symbol for p in client.positions("acct-1")] == [
        "BTC/USDT",
        "ETH/USDT",
        "SOL/USDT",
        "XRP/USDT",
    ]
    assert len(client.fills()) == 5
    assert client.realized_pnl_since("acct-1", START) == Decimal(10)
    assert client.realized_pnl_since("acct-1", START + timedelta(seconds=1)) == Decimal(0)
    wallets = {"acct-1": {"USDT": Decimal("10000.5"), "BTC": Decimal("-0.1")}}
    assert client.record_snapshot(START, {"BTC/USDT": Decimal(120)}, wallets) is True
    assert client.record_snapshot(START, {"BTC/USDT": Decimal(120)}, {}) is False
    history = api.get("/api/v1/balances/snapshots", params={"account": "acct-1"}).json()
    assert [(i["asset"], i["total"]) for i in history["items"]] == [
        ("BTC", "-0.1"),
        ("USDT", "10000.5"),
    ]
    record = OrderRecord.intent(request(1), START)
    assert client.record_order(record) is True
    assert client.record_order(record) is False


def test_quotas_over_http(client: ManagerClient, api: Api) -> None:
    api.account()
    api.put("/api/v1/quotas/acct-1/trend", json={"max_open_orders": 1})
    assert client.reserve(request(1), Decimal(10)) is None
    assert client.reserve(request(2), Decimal(10)) == "quota_max_open_orders"
    client.release("sig-1-0")
    assert client.reserve(request(2), Decimal(10)) is None


def test_account_directory_over_http(client: ManagerClient, api: Api) -> None:
    api.account("acct-1")
    api.account("acct-2")
    assert client.accounts() == ["acct-1", "acct-2"]
    executor = ManagerClient(api.client, lambda: api.tokens["service"])
    found = executor.exchange_account("acct-2")
    assert (found.exchange_id, found.api_key, found.secret) == (
        "paper",
        "key-acct-2",
        "secret-acct-2",
    )
    with pytest.raises(KeyError):
        executor.exchange_account("nobody")
    for person in ("trader", "admin"):
        with pytest.raises(PermanentError, match="http_403"):
            ManagerClient(api.client, lambda t=api.tokens[person]: t).exchange_account("acct-1")


def test_accounts_are_checked_without_their_keys(client: ManagerClient, api: Api) -> None:
    api.account("acct-1")
    assert client.get("acct-1").enabled
    assert api.patch("/api/v1/accounts/acct-1", json={"enabled": False}).status_code == 200
    assert not client.get("acct-1").enabled
    with pytest.raises(NotFound):
        client.get("nobody")
    reader = ManagerClient(api.client, lambda: api.tokens["reader"])
    assert reader.get("acct-1").account == "acct-1"  # ingest_signal's role is enough


def test_allocations_over_http(client: ManagerClient, api: Api) -> None:
    api.account("acct-1", equity="1000")
    assert api.put("/api/v1/allocations/acct-1/trend", json={"amount": "300"}).status_code == 201
    found = client.allocation("acct-1", "trend")
    assert (found.account, found.strategy, found.amount) == ("acct-1", "trend", Decimal(300))
    with pytest.raises(NotFound):
        client.allocation("acct-1", "nobody")


def test_outages_are_retryable_and_bad_requests_are_not() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/positions"):
            return httpx.Response(503, text="down")
        if request.url.path.endswith("/fills"):
            raise httpx.ConnectError("refused")
        return httpx.Response(422, json={"detail": "bad"})

    http = httpx.Client(base_url="http://manager", transport=httpx.MockTransport(handler))
    client = ManagerClient(http, lambda: "t")
    with pytest.raises(ManagerError):
        client.positions()
    with pytest.raises(ManagerError):
        client.fills()
    with pytest.raises(PermanentError):
        client.release("r")


def test_id_tokens_are_fetched_for_the_audience_and_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.auth import crypt, jwt

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = crypt.RSASigner.from_string(private, key_id="k")
    audiences: list[str] = []

    def fetch(_request: Any, audience: str) -> str:
        audiences.append(audience)
        now = int(time.time())
        token: bytes = jwt.encode(signer, {"aud": audience, "exp": now + 3600, "iat": now})
        return token.decode()

    monkeypatch.setattr("google.oauth2.id_token.fetch_id_token", fetch)
    tokens = IdTokens("https://manager.test")
    assert tokens() == tokens()
    assert audiences == ["https://manager.test"]


def test_settings_choose_static_token_or_id_tokens() -> None:
    settings = Settings(manager_url="https://m.test", manager_token="stx_x")
    static = ManagerClient.from_settings(settings)
    assert static._bearer() == "stx_x"
    google = ManagerClient.from_settings(Settings(manager_url="https://m.test"))
    assert isinstance(google._bearer, IdTokens)


def test_bootstrap_uses_the_client_when_a_manager_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stratus.service.bootstrap import build

    monkeypatch.setenv("STRATUS_MANAGER_URL", "https://manager.test")
    monkeypatch.setenv("STRATUS_MANAGER_TOKEN", "stx_x")
    services = build(Settings(database_url="sqlite://"))
    assert isinstance(services.ledger, ManagerClient)
    assert services.quotas is services.ledger is services.accounts
    assert services.allocations is services.ledger


def test_amounts_travel_as_plain_text_the_manager_reads(client: ManagerClient, api: Api) -> None:
    """Decimals our code computes may print as "1E-8"; the manager refuses exponents."""
    api.account()
    api.put("/api/v1/quotas/acct-1/trend", json={"max_notional": "150"})
    tiny_fee = Fill.model_validate({**fill(1), "fee": Decimal("1E-8"), "price": Decimal("1E+2")})
    applied = client.apply_fill(tiny_fee)
    assert applied is not None
    assert applied.fees == Decimal("0.00000001")
    wallets = {"acct-1": {"BTC": Decimal("-5E-7")}}
    assert client.record_snapshot(START, {"BTC/USDT": Decimal("1.2E+2")}, wallets) is True
    assert client.reserve(request(1), Decimal("1E+2")) is None
    assert client.reserve(request(2), Decimal("1E+2")) == "quota_max_notional"
    record = OrderRecord.intent(request(3), START).model_copy(update={"fee": Decimal("-2E-9")})
    assert client.record_order(record) is True
