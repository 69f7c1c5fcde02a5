"""Live data on the emulator stack (issue 16): notify tells a fill through its push
subscription, and the watcher process marks positions and brings balances without a PUT."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.emulator.helpers import BTC, eventually, opened, publish, signal
from tests.webhook import Webhook

from stratus.config import Settings
from stratus.local.stack import Stack

SLOW = 90.0  # cold function servers on a busy machine: the first signal takes its time
TOKEN = {"Authorization": f"Bearer {Settings().manager_dev_token.get_secret_value()}"}


def api(stack: Stack, path: str) -> Any:
    request = urllib.request.Request(f"{stack.endpoints.manager}/api/v1{path}", headers=TOKEN)
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.load(reply)


def test_a_fill_is_told_and_its_position_marked_by_the_watcher(
    stack: Stack, notify_hook: Webhook
) -> None:
    account = opened(stack, "live")

    def wallet() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = api(stack, f"/balances?account={account}")["items"]
        return items

    balances = eventually(wallet, bool, SLOW)
    assert [(b["asset"], b["source"]) for b in balances] == [("USDT", "exchange")]
    assert Decimal(balances[0]["total"]) == 100_000  # the paper venue's, no PUT
    publish(stack, signal(account, BTC, "buy", "0.01"))

    def told_of_it() -> list[dict[str, Any]]:
        return [m for m in notify_hook.received if f"{account}/strat-a: buy" in m["message"]]

    told = eventually(told_of_it, bool, SLOW)
    assert told[0]["title"].startswith("Stratus")

    def marked() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = api(stack, f"/positions?account={account}")["items"]
        return [p for p in items if p["mark_time"] and _at(p["mark_time"]) > opened_at]

    opened_at = datetime.now(UTC)
    [position] = eventually(marked, bool, SLOW)
    assert Decimal(position["unrealized_pnl"]) == (
        Decimal(position["mark_price"]) - Decimal(position["average_entry"])
    ) * Decimal(position["quantity"])


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
