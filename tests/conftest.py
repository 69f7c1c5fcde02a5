"""Shared fixtures. Tiers that need a server skip locally with how-to, and fail in CI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.venues import PaperVenues
from stratus.adapters.sql.accounts import SqlAccounts
from stratus.config import Settings
from stratus.service.bootstrap import build
from stratus.service.services import Services

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, how: str) -> None:
    """Skip (with how to get `what`) on a developer machine; fail in CI, where the
    tier must run."""
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(f"CI must run this tier. {message}")
    pytest.skip(message)


@pytest.fixture
def feed() -> PriceFeed:
    return PriceFeed.default()


@pytest.fixture
def clock(feed: PriceFeed) -> ManualClock:
    return ManualClock(feed.start)


@pytest.fixture
def services(clock: ManualClock, feed: PriceFeed) -> Services:
    """The embedded stack on an in-memory database, clock at the feed's first tick."""
    return build(
        Settings(database_url="sqlite://"),
        clock=clock,
        exchanges=PaperVenues(clock, feed),
        sleep=lambda _seconds: None,
    )


@pytest.fixture
def bus(services: Services) -> LocalBus:
    assert isinstance(services.bus, LocalBus)
    return services.bus


def open_accounts(
    services: Services,
    *accounts: str,
    exchange_id: str = "paper",
    keys: Mapping[str, str] | None = None,
) -> None:
    """Accounts in the system of record (paper ones unless said; API key "paper-key"
    unless `keys` gives one per account): signals for any other account never trade."""
    directory = services.accounts
    assert isinstance(directory, SqlAccounts)
    for account in accounts:
        key = (keys or {}).get(account, "paper-key")
        directory.create(
            account, key, "paper-secret", exchange_id=exchange_id, label="",
            currency="USDT", sandbox=False, demo=False,
        )  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
