"""Shared fixtures. Tiers that need a server skip locally with how-to, and fail in CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.venues import PaperVenues
from stratus.adapters.sql.accounts import SqlAccounts
from stratus.config import Settings
from stratus.service.bootstrap import build
from stratus.service.services import Services

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get(
    "STRATUS_TEST_POSTGRES_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/test"
)


def unavailable(what: str, how: str) -> None:
    """Skip (with how to get `what`) on a developer machine; fail in CI, where the
    tier must run."""
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(f"CI must run this tier. {message}")
    pytest.skip(message)


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new database on the PostgreSQL server of STRATUS_TEST_POSTGRES_URL (its URL),
    dropped afterwards. Unreachable: skipped locally with how to get one, a failure in CI."""
    server = make_url(POSTGRES_URL).set(drivername="postgresql+pg8000")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            # Throwaway data: do not wait for the WAL flush on every commit.
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except (DBAPIError, OSError) as error:
        admin.dispose()
        unavailable(
            "PostgreSQL",
            f"{error.__class__.__name__}; start one on {server.host}:{server.port} (user "
            "postgres, trust auth, database test) or set STRATUS_TEST_POSTGRES_URL",
        )
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
