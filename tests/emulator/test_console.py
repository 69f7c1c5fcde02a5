"""The console's streams and the recorder on the emulators, as in production: the
manager's own Pub/Sub subscriptions feed its WebSockets, push subscriptions feed the
recorder."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx
from tests.emulator.helpers import ETH, eventually, opened, publish, signal

from stratus.config import Settings
from stratus.local.stack import Stack

TOKEN = Settings().manager_dev_token.get_secret_value()


def receive_until(socket: Any, wanted: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the message did not come"
        message: dict[str, Any] = json.loads(socket.recv(timeout=left))
        if wanted(message):
            return message


def test_a_published_signal_streams_live_and_its_fate_is_recorded(stack: Stack) -> None:
    from websockets.sync.client import connect

    manager = stack.endpoints.manager
    ws = manager.replace("http://", "ws://")
    account = opened(stack, "console")
    with (
        connect(f"{ws}/ws/positions?token={TOKEN}") as positions,
        connect(f"{ws}/ws/activity?token={TOKEN}") as activity,
    ):
        assert json.loads(positions.recv(timeout=30))["type"] == "snapshot"
        held = Decimal(0)
        for quantity in (Decimal("0.5"), Decimal("0.25")):  # the first wakes the functions up
            message = signal(account, ETH, "buy", str(quantity))
            held += quantity
            published = time.monotonic()
            publish(stack, message)
            update = receive_until(
                positions,
                lambda m, held=held: (
                    m["type"] == "update"
                    and m["position"]["account"] == account
                    and Decimal(m["position"]["quantity"]) == held
                ),
                timeout=60,
            )
            seconds = time.monotonic() - published
            print(f"\nposition update on the WebSocket {seconds:.2f} s after the publish")
        assert update["position"]["symbol"] == ETH
        assert seconds < 2.0  # warm: publish -> functions -> ledger -> Pub/Sub -> WebSocket
        outcome = receive_until(
            activity,
            lambda m: m["type"] == "signal" and m["signal"]["signal_id"] == message.signal_id,
            timeout=30,
        )
        assert outcome["signal"]["status"] == "accepted"
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def fate() -> dict[str, Any]:
        answer = httpx.get(
            f"{manager}/api/v1/signals", params={"account": account}, headers=headers
        )
        items = answer.json()["items"]
        return next((i for i in items if i["signal_id"] == message.signal_id and i["orders"]), {})

    found = eventually(fate, bool)
    assert found["status"] == "accepted"
    assert found["orders"][0]["status"] == "filled"
