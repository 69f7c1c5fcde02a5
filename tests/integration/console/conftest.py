"""The manager's console side on the embedded stack: `stratus up`'s app over the
in-memory database, the bus drained by the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.local_bus import LocalBus
from stratus.adapters.sql.tokens import Role
from stratus.cli.up import local_app
from stratus.config import Settings
from stratus.manager.store import Store
from stratus.service.handlers import ingest
from stratus.service.services import Services
from tests.conftest import open_accounts

ADMIN = {"Authorization": f"Bearer {Settings().manager_dev_token.get_secret_value()}"}


@dataclass
class Up:
    client: TestClient
    services: Services
    bus: LocalBus
    store: Store

    def webhook(self, signal: dict[str, Any], secret: str | None = None) -> Any:
        body = json.dumps(signal).encode()
        stamp = str(int(self.services.clock.now().timestamp()))
        if secret is None:
            secret = json.loads(self.services.secrets.get(ingest.WEBHOOK_SECRETS))["demo"]
        headers = ingest.signed_headers("demo", secret, stamp, body)
        answer = self.client.post("/webhook", content=body, headers=headers)
        self.bus.drain()
        return answer

    def token(self, role: Role) -> dict[str, str]:
        plaintext = self.store.tokens.issue(f"test-{role.value}", role)[1]
        return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def up(services: Services, bus: LocalBus) -> Iterator[Up]:
    open_accounts(services, "acct", "other")
    with TestClient(local_app(services)) as client:
        yield Up(client, services, bus, Store.of(services))


def signal(signal_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "signal_id": signal_id,
        "account": "acct",
        "strategy": "trend",
        "symbol": "BTC/USDT:USDT",
        "action": "buy",
        "quantity": "0.01",
        "confidence": 0.95,
        **fields,
    }
