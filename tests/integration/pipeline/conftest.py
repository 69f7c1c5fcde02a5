"""The pipeline under fault injection (see chaos.py)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.feed import PriceFeed
from stratus.config import Settings
from stratus.service.bootstrap import build
from stratus.service.dispatch import deliver
from tests.conftest import open_accounts
from tests.integration.pipeline.chaos import ChaosBus, FaultyVenues, Stack


@pytest.fixture
def stack(tmp_path: Path, feed: PriceFeed, clock: ManualClock) -> Stack:
    """The pipeline on a SQLite file (threads need real connections) and a chaos bus."""
    bus = ChaosBus(clock)
    venues = FaultyVenues(clock, feed)
    services = build(
        Settings(database_url=f"sqlite:///{tmp_path}/stratus.db"),
        clock=clock, bus=bus, exchanges=venues, sleep=lambda _s: None,
    )  # fmt: skip
    bus.attach(partial(deliver, services))
    open_accounts(services, "acct")
    return Stack(services, bus, venues, clock)
