"""The manager's tests run on SQLite and on PostgreSQL alike (the `backend` parameter).

PostgreSQL: the session's database of tests/integration/conftest.py (`postgres_url`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from google.auth import crypt, jwt
from sqlalchemy import Engine, inspect, text

from stratus import migrations
from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.venues import PaperVenues
from stratus.adapters.sql.db import make_engine
from stratus.adapters.sql.state import StateBase
from stratus.adapters.sql.tables import Base
from stratus.adapters.sql.tokens import Role
from stratus.config import Settings
from stratus.crypto import dev_master_key
from stratus.manager.app import create_app
from stratus.manager.store import Store
from stratus.service.bootstrap import build
from stratus.service.services import Services

DEV_TOKEN = "stx_stratus-dev-only-not-secret"
AUDIENCE = "https://manager.test"
SERVICE = "functions@p.iam.gserviceaccount.com"  # the executor's service identity
SERVICE_ACCOUNTS = {SERVICE: "trader"}
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class MasterKey:
    """The master-key secret, changeable by a test (rotation)."""

    def __init__(self) -> None:
        self.value = dev_master_key("tests")

    def get(self, name: str) -> str:
        if name != "master-key":
            raise KeyError(name)
        return self.value


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    # A file, not :memory:, so that threads get their own connections.
    return f"sqlite:///{tmp_path_factory.mktemp('manager') / 'stratus.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        migrations.upgrade_embedded(engine)
    _empty(engine)
    engine.dispose()
    return url


def _empty(engine: Engine) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    # The embedded execution state too (kill switch, order documents), once created.
    existing = set(inspect(engine).get_table_names())
    tables += [t.name for t in StateBase.metadata.sorted_tables if t.name in existing]
    # DELETE, not TRUNCATE: on a few rows it is ten times faster on PostgreSQL.
    with engine.begin() as connection:
        for name in tables:
            connection.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def master_key() -> MasterKey:
    return MasterKey()


@pytest.fixture
def system(
    database_url: str, manual_clock: ManualClock, master_key: MasterKey
) -> Iterator[Services]:
    built = build(
        Settings(
            database_url=database_url,
            manager_audience=AUDIENCE,
            manager_service_accounts=SERVICE_ACCOUNTS,
        ),
        clock=manual_clock,
        exchanges=PaperVenues(manual_clock),
        secrets=master_key,
        sleep=lambda _seconds: None,
    )
    yield built
    Store.of(built).database.engine.dispose()


@dataclass
class Api:
    """The manager over HTTP in-process, with a token per role."""

    client: TestClient
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        headers.update(kwargs.pop("headers", {}))
        response: httpx.Response = self.client.request(method, path, headers=headers, **kwargs)
        return response

    def get(self, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, role, **kwargs)

    def post(self, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, role, **kwargs)

    def put(self, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        return self.call("PUT", path, role, **kwargs)

    def patch(self, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        return self.call("PATCH", path, role, **kwargs)

    def delete(self, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        return self.call("DELETE", path, role, **kwargs)

    def account(self, name: str = "acct-1", equity: str = "10000", **extra: Any) -> None:
        body = {"account": name, "exchange_id": "paper", "api_key": f"key-{name}"}
        response = self.post("/api/v1/accounts", json={**body, "secret": f"secret-{name}", **extra})
        assert response.status_code == 201, response.text
        response = self.put(f"/api/v1/accounts/{name}/balances/USDT", json={"free": equity})
        assert response.status_code == 200, response.text


@pytest.fixture
def api(system: Services, id_token: Any) -> Iterator[Api]:
    """Tokens: "admin", "trader", "reader" (API tokens), "service" (the executor's Google
    ID token)."""
    app = create_app(system)
    store: Store = app.state.store
    tokens = {"admin": DEV_TOKEN, "service": id_token()}
    for role in (Role.TRADER, Role.READER):
        tokens[role.value] = store.tokens.issue(f"test-{role.value}", role)[1]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, store, tokens)


@pytest.fixture(scope="session")
def google_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def id_token(google_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Makes Google-style ID tokens; Google's certificate fetch returns our public key."""
    private, public = google_key
    fetched = []

    def fake_fetch(_request: Any, url: str) -> dict[str, str]:
        fetched.append(url)
        return {"test-key": public}

    monkeypatch.setattr("google.oauth2.id_token._fetch_certs", fake_fetch)
    signer = crypt.RSASigner.from_string(private, key_id="test-key")

    def make(**claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "email": SERVICE,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
            "sub": "1234",
            **claims,
        }
        token: bytes = jwt.encode(signer, payload)
        return token.decode()

    make.fetched = fetched  # type: ignore[attr-defined]
    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fill(
    n: int | str,
    side: str = "buy",
    quantity: str = "1",
    price: str = "100",
    *,
    account: str = "acct-1",
    strategy: str = "trend",
    symbol: str = "BTC/USDT",
    fee: str = "0",
    at: datetime = START,
) -> dict[str, str]:
    return {
        "fill_id": f"fill-{n}",
        "client_order_id": f"stx-{n}",
        "exchange_order_id": f"ex-{n}",
        "request_id": f"req-{n}",
        "account": account,
        "strategy": strategy,
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "price": price,
        "fee": fee,
        "fee_currency": "USDT",
        "liquidity": "taker",
        "executed_at": at.isoformat(),
    }


def order_request(n: int, **fields: Any) -> dict[str, Any]:
    """Leg 0 of signal sig-<n>: a market buy of 1 BTC/USDT, unless `fields` say otherwise."""
    return {
        "request_id": f"sig-{n}-0",
        "signal_id": f"sig-{n}",
        "leg": 0,
        "account": "acct-1",
        "strategy": "trend",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "market",
        "quantity": "1",
        "created_at": START.isoformat(),
        **fields,
    }


def order(n: int, quantity: str = "1", limit_price: str = "100", **fields: Any) -> dict[str, Any]:
    """An executor's order document (POST /orders) for a limit buy."""
    request = order_request(n, order_type="limit", quantity=quantity, limit_price=limit_price)
    at = START.isoformat()
    return {"request": request, "created_at": at, "updated_at": at, **fields}


def D(value: Any) -> Decimal:
    return Decimal(str(value))
