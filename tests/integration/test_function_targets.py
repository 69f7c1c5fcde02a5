"""functions/main.py targets, driven through functions-framework as Cloud Functions run
them: a signed webhook request, then each CloudEvent the previous step published."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from stratus.adapters.local_bus import LocalBus
from stratus.domain.errors import ExchangeUnavailable
from stratus.service import bootstrap
from stratus.service.handlers import ingest
from tests.conftest import open_accounts

MAIN = str(Path(__file__).parents[2] / "functions" / "main.py")
DEV_SECRET = "function-test-secret"


@pytest.fixture
def process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalBus]:
    """A fresh 'function instance': env settings, empty database, lazy services reset."""
    monkeypatch.setenv("STRATUS_DATABASE_URL", f"sqlite:///{tmp_path}/stratus.db")
    monkeypatch.setenv("STRATUS_WEBHOOK_DEV_SECRET", DEV_SECRET)
    monkeypatch.setattr(bootstrap, "_services", None)
    bus = bootstrap.services().bus
    assert isinstance(bus, LocalBus)
    open_accounts(bootstrap.services(), "acct")
    yield bus
    monkeypatch.setattr(bootstrap, "_services", None)


def post_event(target: str, data: bytes, attributes: dict[str, str]) -> Any:
    client = create_app(target, MAIN).test_client()
    body = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": "1",
            "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
        "subscription": f"projects/p/subscriptions/{target}",
    }
    headers = {
        "ce-id": "1",
        "ce-source": "//pubsub.googleapis.com/projects/p/topics/t",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-specversion": "1.0",
    }
    return client.post("/", json=body, headers=headers)


def signed(body: bytes, secret: str = DEV_SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        ingest.SOURCE_HEADER: "demo",
        ingest.TIMESTAMP_HEADER: stamp,
        ingest.SIGNATURE_HEADER: ingest.sign(secret, stamp, body),
        "X-Cloud-Trace-Context": "abc123def/1;o=1",
    }


SIGNAL = {
    "signal_id": "fn-1",
    "account": "acct",
    "strategy": "trend",
    "symbol": "BTC/USDT:USDT",
    "action": "buy",
    "quantity": "0.01",
    "confidence": 0.95,
}


def test_a_signal_walks_every_target_to_a_position(process: LocalBus) -> None:
    body = json.dumps(SIGNAL).encode()
    response = (
        create_app("ingest_signal", MAIN).test_client().post("/", data=body, headers=signed(body))
    )
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"signal_id": "fn-1", "status": "accepted"}

    for topic, target in [
        ("signals", "on_signal"),
        ("order-requests", "check_risk"),
        ("orders", "execute_order"),
        ("executions", "update_position"),
    ]:
        [envelope] = process.messages(topic)
        assert envelope.attributes["trace_id"] == "abc123def"  # one trace, every step
        assert post_event(target, envelope.data, dict(envelope.attributes)).status_code == 200

    [update] = process.messages("position-updates")
    position = json.loads(update.data)
    assert (position["symbol"], position["quantity"]) == ("BTC/USDT:USDT", "0.01")


def test_bad_webhook_requests_get_reasons(process: LocalBus) -> None:
    client = create_app("ingest_signal", MAIN).test_client()
    body = json.dumps({**SIGNAL, "quantity": "-3"}).encode()
    bad = client.post("/", data=body, headers=signed(body))
    assert bad.status_code == 400
    assert bad.get_json()["error"] == "invalid_field"
    assert "quantity" in bad.get_json()["detail"]
    forged = client.post("/", data=body, headers=signed(body, secret="wrong"))
    assert (forged.status_code, forged.get_json()["error"]) == (401, "bad_signature")
    assert process.messages("signals") == []


def test_a_poison_event_is_acknowledged_and_dead_lettered(process: LocalBus) -> None:
    response = post_event("on_signal", b'{"signal_id": 1}', {"trace_id": "t"})
    assert response.status_code == 200  # acknowledged: retrying cannot help
    [dead] = process.messages("signals-dead-letter")
    assert dead.attributes["reason"] in {"missing_field", "schema_mismatch"}
    assert dead.data == b'{"signal_id": 1}'


def test_snapshot_is_idempotent_per_schedule_time(process: LocalBus) -> None:
    client = create_app("snapshot", MAIN).test_client()
    headers = {"X-CloudScheduler-ScheduleTime": "2026-01-05T00:15:00Z"}
    assert client.post("/", headers=headers).status_code == 201
    assert client.post("/", headers=headers).status_code == 200
    assert client.post("/", headers={"X-CloudScheduler-ScheduleTime": "soon"}).status_code == 400


def push(target: str, data: bytes, attempt: int) -> Any:
    """A push exactly as Pub/Sub sends it to a subscription with a dead-letter policy:
    no CloudEvent headers, deliveryAttempt beside the message."""
    body = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": {"trace_id": "t-push"},
            "messageId": "7",
            "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
        "subscription": f"projects/p/subscriptions/signals-to-{target}",
        "deliveryAttempt": attempt,
    }
    client = create_app(target, MAIN).test_client()
    return client.post("/projects/p/topics/signals", json=body)


def test_the_last_push_attempt_gives_up_with_a_reason(
    process: LocalBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(_account: str) -> None:
        raise ExchangeUnavailable("exchange maintenance")

    monkeypatch.setattr(bootstrap.services().exchanges, "for_account", down)
    body = json.dumps({**SIGNAL, "source": "demo", "created_at": datetime.now(UTC).isoformat()})
    assert push("on_signal", body.encode(), attempt=4).status_code == 500  # retry, please
    assert process.messages("signals-dead-letter") == []
    assert push("on_signal", body.encode(), attempt=5).status_code == 200  # given up
    [dead] = process.messages("signals-dead-letter")
    assert dead.attributes["reason"] == "max_delivery_attempts"
    assert "exchange maintenance" in dead.attributes["detail"]


def test_the_sweep_target_answers_what_it_finished(process: LocalBus) -> None:
    client = create_app("sweep", MAIN).test_client()
    reply = client.post("/", headers={"X-CloudScheduler-ScheduleTime": "2026-01-05T00:01:00Z"})
    assert reply.status_code == 200
    assert reply.get_json() == {"finished": 0, "closed": [], "failed": {}, "protected": 0}
