"""The webhook: signatures, staleness, replays, size, schema, TradingView alerts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.tradingview import AlertMapping
from stratus.service.handlers import ingest
from stratus.service.services import Services

SECRET = "s3cret"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"strat": SECRET, "tv": "tv-secret"}
    monkeypatch.setenv("STRATUS_SECRET_WEBHOOK_SECRETS", json.dumps(secrets))


def post(
    services: Services, body: object, source: str = "strat", skew: float = 0, key: str = SECRET
) -> tuple[int, dict[str, object]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(services.clock.now().timestamp() + skew)
    headers = {
        "X-Stratus-Source": source,
        "X-Stratus-Timestamp": stamp,
        "X-Stratus-Signature": ingest.sign(key, stamp, raw),
    }
    result = ingest.ingest_signal(services, headers, raw)
    return result.status, result.body


SIGNAL = {"signal_id": "w-1", "account": "a", "strategy": "st", "symbol": "BTC/USDT:USDT",
          "action": "buy", "quantity": "0.01"}  # fmt: skip


def test_a_signed_signal_is_accepted_once_and_its_replay_refused(
    services: Services, bus: LocalBus
) -> None:
    raw = json.dumps(SIGNAL).encode()
    stamp = str(services.clock.now().timestamp())
    headers = {
        "X-Stratus-Source": "strat",
        "X-Stratus-Timestamp": stamp,
        "X-Stratus-Signature": ingest.sign(SECRET, stamp, raw),
    }
    first = ingest.ingest_signal(services, headers, raw)
    again = ingest.ingest_signal(services, headers, raw)
    assert (first.status, first.body["signal_id"]) == (202, "w-1")
    assert (again.status, again.body["error"]) == (409, "replayed")
    assert len(bus.messages("signals")) == 1
    # A retry signed afresh is accepted; on_signal deduplicates its signal_id.
    assert post(services, SIGNAL, skew=1)[0] == 202


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"skew": -301}, 401, "stale_timestamp"),
        ({"skew": 301}, 401, "stale_timestamp"),
        ({"key": "wrong"}, 401, "bad_signature"),
        ({"source": "nobody"}, 401, "bad_signature"),
    ],
)
def test_unauthentic_requests_are_refused(
    services: Services, bus: LocalBus, kwargs: dict[str, object], status: int, reason: str
) -> None:
    code, body = post(services, SIGNAL, **kwargs)  # type: ignore[arg-type]
    assert (code, body["error"]) == (status, reason)
    assert bus.messages("signals") == []


def test_oversized_malformed_and_off_schema_bodies_are_refused(services: Services) -> None:
    limit = services.settings.max_webhook_bytes
    assert post(services, b"x" * (limit + 1))[1]["error"] == "body_too_large"
    assert post(services, b"{not json")[1]["error"] == "malformed_json"
    assert post(services, {**SIGNAL, "colour": "red"})[1]["error"] == "invalid_field"
    assert post(services, {**SIGNAL, "source": "other"})[1]["error"] == "source_mismatch"


def test_tradingview_alerts_go_through_the_sources_mapping(
    services: Services, bus: LocalBus
) -> None:
    mapping = AlertMapping(account="a", strategy="tv", symbols={"BTCUSDT.P": "BTC/USDT:USDT"})
    services.settings = services.settings.model_copy(update={"tradingview": {"tv": mapping}})
    alert = {"ticker": "BTCUSDT.P", "action": "long", "contracts": "0.01"}
    status, body = post(services, alert, source="tv", key="tv-secret")
    assert status == 202
    assert str(body["signal_id"]).startswith("tv-")
    bus.drain()
    [order] = services.state.orders()
    assert (order.request.strategy, str(order.request.quantity)) == ("tv", "0.01")


def test_a_signal_older_than_the_event_age_is_dropped_downstream(
    services: Services, bus: LocalBus, clock: ManualClock
) -> None:
    assert post(services, SIGNAL)[0] == 202
    clock.advance(timedelta(seconds=services.settings.max_event_age_seconds + 1))
    bus.drain()
    assert services.state.orders() == []
    assert bus.messages("signals-dead-letter") == []
