"""Taking control end to end on the emulator stack: the manager publishes to the Pub/Sub
emulator, the functions trade on the paper exchange, the kill switch is in the Firestore
emulator (docs/control.md)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

from tests.emulator.helpers import BTC, eventually, opened, positions, unique

from stratus.config import Settings
from stratus.local.stack import Stack


def call(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{stack.endpoints.manager}/api/v1{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {Settings().manager_dev_token.get_secret_value()}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def status_of(stack: Stack, coid: str) -> str:
    code, body = call(stack, "GET", f"/orders/{coid}")
    return str(body["status"]) if code == 200 else f"http {code}"


def held(stack: Stack, account: str) -> Decimal:
    return positions(stack, account).get(BTC, Decimal(0))


def test_manual_order_cancel_close_flatten_and_sync(stack: Stack) -> None:
    account = opened(stack, "control")
    order = {"account": account, "strategy": "desk", "symbol": BTC, "side": "buy"}
    code, placed = call(stack, "POST", "/orders", {**order, "key": unique("k"), "quantity": "0.02"})
    assert code == 202, placed
    eventually(lambda: held(stack, account), lambda q: q == Decimal("0.02"))

    resting = {**order, "key": unique("k"), "quantity": "0.01", "limit_price": "1000"}
    coid = call(stack, "POST", "/orders", resting)[1]["client_order_id"]
    eventually(lambda: status_of(stack, coid), lambda s: s == "open")
    assert call(stack, "DELETE", f"/orders/{coid}")[0] == 202
    eventually(lambda: status_of(stack, coid), lambda s: s == "canceled")
    assert call(stack, "DELETE", f"/orders/{coid}")[0] == 409

    where = {"account": account, "strategy": "desk", "symbol": BTC}
    assert call(stack, "POST", "/positions/close", {**where, "quantity": "0.005"})[0] == 202
    eventually(lambda: held(stack, account), lambda q: q == Decimal("0.015"))

    again = {**order, "key": unique("k"), "quantity": "0.01", "limit_price": "1000"}
    working = call(stack, "POST", "/orders", again)[1]["client_order_id"]
    eventually(lambda: status_of(stack, working), lambda s: s == "open")

    def flatten() -> dict[str, Any]:
        code, progress = call(stack, "POST", "/flatten", {"account": account})
        assert code == 200, progress
        return dict(progress)

    first = flatten()
    assert first["trading_state"] == "reducing"
    assert first["canceling"] == [working]
    eventually(flatten, lambda p: p["done"], timeout_seconds=60)
    assert held(stack, account) == 0
    assert status_of(stack, working) == "canceled"

    code, sync = call(stack, "POST", "/sync", {"account": account})
    assert code == 202, sync

    def reports() -> list[Any]:
        items = call(stack, "GET", "/reconciliation/reports")[1]["items"]
        return [r for r in items if r["account"] == account]

    eventually(reports, bool)
