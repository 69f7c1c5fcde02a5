"""`stratus demo` as a new user runs it, and its replay under duplicate delivery."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from stratus.cli.demo import embedded, load, replay
from stratus.domain.positions import replay as recompute

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "signals.jsonl"


def test_demo_prints_orders_fills_positions_and_rejections() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stratus.cli", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = result.stdout
    for heading in ("Signals", "Orders", "Fills", "Positions", "Portfolio", "Trades"):
        assert f"\n{heading}" in out
    assert "refused 400: invalid_field (symbol: Field required)" in out
    assert "refused 400: invalid_field (quantity: '-1': this amount cannot be negative)" in out
    assert "refused 400: unknown_account" in out
    assert "dead-lettered: unknown_symbol" in out
    assert "leg rejected: max_order_balance_ratio" in out
    assert "deduplicated: no new order" in out
    assert " NO" not in out.split("Positions")[1].split("Portfolio")[0]
    assert "net pnl (gross - fees)" in out.split("\nTrades")[1]


def test_positions_follow_from_fills_even_with_every_message_delivered_twice() -> None:
    services, bus = embedded("sqlite://", duplicate_rate=1.0)
    replay(services, bus, load(EXAMPLES))
    fills = services.ledger.fills()
    orders = services.state.orders()
    assert len(orders) == 7, "one exchange order per accepted signal leg"
    assert len({f.fill_id for f in fills}) == len(fills)
    assert sum(f.quantity for f in fills) == sum(o.filled for o in orders)
    for position in services.ledger.positions():
        own = [f for f in fills if (f.strategy, f.symbol) == (position.strategy, position.symbol)]
        again = recompute(own, position.account, position.strategy, position.symbol)
        assert (again.quantity, again.realized_pnl, again.fees) == (
            position.quantity,
            position.realized_pnl,
            position.fees,
        )


def test_the_manager_serves_the_orders_ledger_the_pipeline_wrote() -> None:
    from fastapi.testclient import TestClient

    from stratus.manager.app import create_app

    services, bus = embedded("sqlite://")
    replay(services, bus, load(EXAMPLES))
    client = TestClient(create_app(services))
    answer = client.get(
        "/api/v1/orders", headers={"Authorization": "Bearer stx_stratus-dev-only-not-secret"}
    )
    assert answer.status_code == 200
    ledger = {item["request_id"]: item for item in answer.json()["items"]}
    documents = {record.request.request_id: record for record in services.state.orders()}
    assert set(ledger) == set(documents)
    for request_id, record in documents.items():
        assert ledger[request_id]["status"] == record.status.value
        assert Decimal(ledger[request_id]["filled"]) == record.filled
