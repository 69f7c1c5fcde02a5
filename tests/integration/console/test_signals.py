"""Every signal's fate in the system of record, derived from the topics (GET /signals)."""

from __future__ import annotations

import json
from typing import Any

from stratus.adapters.sql.audit import Page
from stratus.adapters.sql.outcomes import SignalFilter
from stratus.ports import Envelope
from stratus.service.handlers import operations
from tests.integration.console.conftest import ADMIN, Up, signal


def fates(up: Up, **query: str) -> dict[str, Any]:
    answer = up.client.get("/api/v1/signals", params=query, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return {item["signal_id"]: item for item in answer.json()["items"]}


def test_an_accepted_signal_lists_the_orders_it_became(up: Up) -> None:
    assert up.webhook(signal("ok-1")).status_code == 202
    [found] = fates(up).values()
    assert found["status"] == "accepted"
    assert found["reason"] is None
    assert found["source"] == "demo"
    assert found["quantity"] == "0.01"
    [order] = found["orders"]
    assert order["signal_id"] == "ok-1"
    assert order["status"] == "filled"


def test_an_authenticated_refusal_is_recorded_with_its_reason(up: Up) -> None:
    answer = up.webhook(signal("bad-1", quantity="-1"))
    assert answer.status_code == 400
    found = fates(up)["bad-1"]
    assert (found["status"], found["reason"]) == ("refused", answer.json()["error"])
    assert "quantity" in found["detail"]
    assert found["account"] == "acct"
    assert found["orders"] == []


def test_an_unauthenticated_flood_writes_nothing(up: Up) -> None:
    for number in range(20):
        answer = up.webhook(signal(f"forged-{number}"), secret="not-the-secret")
        assert answer.status_code == 401
    assert fates(up) == {}
    assert up.bus.messages("signal-refusals") == []


def test_a_signal_rejected_by_risk_shows_the_rule(up: Up) -> None:
    up.webhook(signal("big-1", quantity="5"))  # 5 BTC: over the risk limits
    found = fates(up, status="rejected")["big-1"]
    rejection = json.loads(up.bus.messages("order-rejections")[0].data)
    assert found["reason"] == rejection["reason"]
    assert found["reason"].startswith("max_order")
    assert rejection["detail"] in found["detail"]


def test_a_dead_lettered_signal_shows_why_and_is_counted(up: Up) -> None:
    up.webhook(signal("ghost-1", symbol="NOPE/USDT:USDT"))
    found = fates(up)["ghost-1"]
    assert found["status"] == "dead_lettered"
    assert found["reason"]
    counts = up.client.get("/api/v1/dead-letters/counts", headers=ADMIN).json()
    assert [(c["topic"], c["count"]) for c in counts] == [("signals", 1)]
    [letter] = up.client.get("/api/v1/dead-letters", headers=ADMIN).json()["items"]
    assert letter["signal_id"] == "ghost-1"
    assert letter["function"] == "on_signal"


def test_filters_and_pages(up: Up) -> None:
    up.webhook(signal("a-1"))
    up.webhook(signal("a-2", quantity="-1"))
    up.webhook(signal("a-3", account="other"))
    assert set(fates(up, status="refused")) == {"a-2"}
    assert set(fates(up, account="other")) == {"a-3"}
    page = up.client.get("/api/v1/signals", params={"limit": 2}, headers=ADMIN).json()
    assert page["total"] == 3
    assert len(page["items"]) == 2
    assert up.client.get("/api/v1/signals?status=lost", headers=ADMIN).status_code == 422


def test_a_fate_only_grows_graver_and_a_repeat_changes_nothing(up: Up) -> None:
    up.webhook(signal("g-1", quantity="5"))  # rejected
    rejection = up.bus.messages("order-rejections")[-1]
    recorder = up.client.app.state.recorder  # type: ignore[attr-defined]
    recorder.record(rejection)  # a redelivery
    accepted = up.bus.messages("signals")[-1]
    recorder.record(Envelope("again", "signals", accepted.data, {}, accepted.published_at))
    [fate], _ = up.store.outcomes.signals(SignalFilter(), Page())
    assert fate.outcome.status == "rejected"
    assert (fate.outcome.reason or "").startswith("max_order")
    assert len(up.store.outcomes.dead_letters(Page())[0]) == 0


def test_reconciliation_reports_reach_the_system_of_record(up: Up) -> None:
    up.webhook(signal("r-1"))
    operations.reconcile(up.services, {}, b"")
    up.bus.drain()
    reports = up.client.get("/api/v1/reconciliation/reports", headers=ADMIN).json()
    [report] = reports["items"]
    assert report["account"] == "acct"
    assert report["drifts"] == []
    assert up.store.outcomes.last_reconcile() is not None


def test_pubsub_pushes_the_recorder_its_topics(up: Up) -> None:
    import base64

    up.webhook(signal("p-1"))
    data = base64.b64encode(up.bus.messages("signals")[-1].data).decode()
    push = {"message": {"data": data, "messageId": "m-1", "publishTime": "2026-01-01T00:00:00Z"}}
    assert up.client.post("/api/v1/pubsub/signals", json=push).status_code == 401
    assert up.client.post("/api/v1/pubsub/signals", json=push, headers=ADMIN).status_code == 204
    assert up.client.post("/api/v1/pubsub/orders", json=push, headers=ADMIN).status_code == 404
    push["message"]["data"] = "not base64!"
    assert up.client.post("/api/v1/pubsub/signals", json=push, headers=ADMIN).status_code == 400
