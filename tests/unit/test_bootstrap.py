"""A cold function instance builds its Services once, however many of its first requests
arrive together (functions-framework serves them on threads)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stratus.service import bootstrap


def test_concurrent_first_requests_build_the_services_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[object] = []
    gate = threading.Barrier(8)

    def slow_build(_settings: Any) -> object:
        time.sleep(0.2)  # a cold start: clients, pools, tables
        built.append(object())
        return built[-1]

    monkeypatch.setattr(bootstrap, "_services", None)
    monkeypatch.setattr(bootstrap, "build", slow_build)
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *_args: None)

    def first_request(_: int) -> object:
        gate.wait()
        return bootstrap.services()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(first_request, range(8)))
    assert len(built) == 1
    assert all(answer is built[0] for answer in answers)
