"""`stratus up`'s app: the webhook and the manager API in one local process."""

from __future__ import annotations

import json
import threading
import time

from fastapi.testclient import TestClient

from stratus.adapters.local_bus import LocalBus
from stratus.cli.up import deliver_forever, local_app
from stratus.service.handlers import ingest
from stratus.service.services import Services
from tests.conftest import open_accounts


def test_a_posted_signal_becomes_a_position_served_by_the_api(
    services: Services, bus: LocalBus
) -> None:
    client = TestClient(local_app(services))
    open_accounts(services, "acct")
    body = json.dumps(
        {
            "signal_id": "up-1",
            "account": "acct",
            "strategy": "trend",
            "symbol": "ETH/USDT:USDT",
            "action": "sell",
            "quantity": "2",
            "confidence": 1,
        }
    ).encode()
    stamp = str(int(services.clock.now().timestamp()))
    secret = json.loads(services.secrets.get(ingest.WEBHOOK_SECRETS))["demo"]
    headers = {
        ingest.SOURCE_HEADER: "demo",
        ingest.TIMESTAMP_HEADER: stamp,
        ingest.SIGNATURE_HEADER: ingest.sign(secret, stamp, body),
    }
    accepted = client.post("/webhook", content=body, headers=headers)
    assert accepted.status_code == 202, accepted.json()

    stop = threading.Event()
    worker = threading.Thread(target=deliver_forever, args=(bus, stop, 0.01))
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not services.ledger.positions() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join()
    [position] = services.ledger.positions()
    assert position.quantity == -2
    assert client.get("/ready").json()["status"] == "ready"


def test_the_webhook_refuses_unsigned_requests(services: Services) -> None:
    client = TestClient(local_app(services))
    refused = client.post("/webhook", content=b"{}")
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthenticated"
