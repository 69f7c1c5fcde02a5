"""The hostile corpus against the webhook: in process, through the functions-framework
target as Cloud Functions runs it, and through `stratus up`'s FastAPI route. Every case
ends as it expects (a 4xx with its reason, or accepted and then traded, deduplicated or
dead-lettered on first delivery), never in a 5xx or a traceback, and the three answer the
same."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from functions_framework import create_app

from stratus.adapters.local_bus import LocalBus
from stratus.adapters.tradingview import AlertMapping
from stratus.cli.up import local_app
from stratus.config import Settings
from stratus.observability import traced
from stratus.service import bootstrap
from stratus.service.bootstrap import build
from stratus.service.handlers import ingest
from stratus.service.services import Services
from tests.integration.hostile import (
    SECRETS,
    TRADINGVIEW,
    Answer,
    Headers,
    check,
    load,
    prepare,
    run,
)

MAIN = str(Path(__file__).parents[2] / "functions" / "main.py")
CASES = load()


@pytest.fixture(autouse=True)
def environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """The corpus's sources and TradingView mapping; no rate limit (a test of its own);
    and afterwards: not one traceback logged."""
    monkeypatch.setenv("STRATUS_SECRET_WEBHOOK_SECRETS", json.dumps(SECRETS))
    monkeypatch.setenv("STRATUS_TRADINGVIEW", json.dumps(TRADINGVIEW))
    monkeypatch.setenv("STRATUS_WEBHOOK_RATE_LIMIT", "0")
    caplog.set_level(logging.INFO)
    yield
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


def embedded(tmp_path: Path) -> tuple[Services, LocalBus]:
    services = build(
        Settings(
            database_url=f"sqlite:///{tmp_path}/corpus.db",
            webhook_rate_limit=0,
            tradingview={k: AlertMapping.model_validate(v) for k, v in TRADINGVIEW.items()},
        ),
        sleep=lambda _seconds: None,
    )
    prepare(services)
    assert isinstance(services.bus, LocalBus)
    return services, services.bus


def in_process(tmp_path: Path) -> dict[str, Answer]:
    services, bus = embedded(tmp_path)

    def send(headers: Headers, body: bytes) -> tuple[int, dict[str, Any]]:
        with traced(None):  # as the entry points do
            result = ingest.ingest_signal(services, headers, body)
        return result.status, result.body

    return run(CASES, send, services, bus)


def functions_framework(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Answer]:
    monkeypatch.setenv("STRATUS_DATABASE_URL", f"sqlite:///{tmp_path}/function.db")
    monkeypatch.setattr(bootstrap, "_services", None)
    services = bootstrap.services()
    prepare(services)
    assert isinstance(services.bus, LocalBus)
    client = create_app("ingest_signal", MAIN).test_client()

    def send(headers: Headers, body: bytes) -> tuple[int, dict[str, Any]]:
        response = client.post("/", data=body, headers=headers)
        return response.status_code, response.get_json()

    try:
        return run(CASES, send, services, services.bus)
    finally:
        monkeypatch.setattr(bootstrap, "_services", None)


def stratus_up(tmp_path: Path) -> dict[str, Answer]:
    services, bus = embedded(tmp_path)
    client = TestClient(local_app(services))

    def send(headers: Headers, body: bytes) -> tuple[int, dict[str, Any]]:
        raw = {name: value.encode("latin-1") for name, value in headers.items()}
        response = client.post("/webhook", content=body, headers=raw)
        return response.status_code, response.json()

    return run(CASES, send, services, bus)


def test_the_corpus_is_large_and_mostly_hostile() -> None:
    assert len(CASES) >= 150
    assert len({case.name for case in CASES}) == len(CASES)
    assert sum(case.expect[0] >= 400 for case in CASES) >= 150
    assert sum(case.on_topic for case in CASES) >= 100


def test_three_targets_give_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = in_process(tmp_path / "a")
    check(CASES, answers)
    assert functions_framework(tmp_path / "b", monkeypatch) == answers
    assert stratus_up(tmp_path / "c") == answers
