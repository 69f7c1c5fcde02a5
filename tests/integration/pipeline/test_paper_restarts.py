"""Issue 12, item 4: reconciliation compares against the stack's one paper venue, whatever
process runs it and however often the stack restarts, so it never invents fills."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.config import Settings
from stratus.domain.orders import OrderStatus
from stratus.domain.reconciliation import RECONCILIATION_STRATEGY
from stratus.ports import Clock
from stratus.service.bootstrap import build
from stratus.service.reconciliation import follow_orders, reconcile_account
from stratus.service.services import Services
from tests.conftest import open_accounts
from tests.integration.pipeline.test_risk_flow import signal

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


def embedded(url: str, clock: Clock | None = None) -> Services:
    """The embedded stack as `stratus up` and the CLI build it: the bootstrap's own paper
    venues, in the database."""
    return build(Settings(database_url=url), clock=clock, sleep=lambda _s: None)


def bus_of(services: Services) -> LocalBus:
    assert isinstance(services.bus, LocalBus)
    return services.bus


def trade(services: Services, account: str, eth_limit: Decimal) -> None:
    """In a newly opened account: a long, a short, and two working limit buys (SOL's
    never fills)."""
    open_accounts(services, account)
    orders: list[dict[str, object]] = [
        {"symbol": BTC, "quantity": "0.2"},
        {"symbol": ETH, "quantity": "3", "action": "sell"},
        {"symbol": SOL, "quantity": "10", "limit_price": "140"},
        {"symbol": ETH, "quantity": "1", "limit_price": str(eth_limit)},
    ]
    for number, fields in enumerate(orders):
        signal(bus_of(services), services, f"{account}-{number}", account=account, **fields)
    statuses = sorted(r.status for r in services.state.orders(account))
    assert statuses == sorted([OrderStatus.FILLED] * 2 + [OrderStatus.OPEN] * 2)


def exchange_view(services: Services, account: str) -> tuple[object, ...]:
    """What the venue holds, without its marks: on the wall clock they move between reads."""
    venue = services.exchanges.for_account(account)
    working = sorted(
        (o.client_order_id or "", o.order.exchange_order_id) for o in venue.open_orders()
    )
    held = sorted((p.symbol, p.quantity, p.entry_price) for p in venue.positions())
    return held, working, venue.balances()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_restarted_embedded_stack_keeps_its_venue_and_reconciles_clean(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, feed: PriceFeed
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/stratus.db"
    else:
        url = request.getfixturevalue("postgres_url")
    account = f"restart-{uuid.uuid4().hex[:8]}"
    clock = ManualClock(feed.start + timedelta(minutes=1))
    later = list(feed.ticks(ETH, clock.now(), clock.now() + timedelta(hours=1)))
    eth_limit = min(q.ask for q in later)  # working now, filled within the hour
    before = embedded(url, clock)
    trade(before, account, eth_limit)
    seen = exchange_view(before, account)
    fills = before.ledger.fills(account)

    after = embedded(url, clock)  # a restart: new process, same database
    assert exchange_view(after, account) == seen
    report = reconcile_account(after, account)
    bus_of(after).drain()
    assert (report.drifts, report.lost_orders, report.unknown_orders) == ([], [], [])
    assert report.adopted_fills == 0
    assert after.ledger.fills(account) == fills  # no correction booked

    clock.advance(timedelta(hours=1))  # the venue keeps working after the restart
    assert follow_orders(after, account).adopted == 1
    bus_of(after).drain()
    held = {p.symbol: p.quantity for p in after.exchanges.for_account(account).positions()}
    assert held == {BTC: Decimal("0.2"), ETH: Decimal(-2)}
    assert reconcile_account(after, account).clean


def test_the_clis_reconcile_beside_a_running_stack_sees_the_same_venue(tmp_path: Path) -> None:
    """`stratus reconcile` in its own process, on the settings of a running embedded stack
    (wall-clock time: the looped feed)."""
    url = f"sqlite:///{tmp_path}/stratus.db"
    account = f"cli-{uuid.uuid4().hex[:8]}"
    running = embedded(url)
    trade(running, account, eth_limit=Decimal(2500))
    fills = running.ledger.fills(account)
    seen = exchange_view(running, account)

    env = {**os.environ, "STRATUS_DATABASE_URL": url}
    cli = [sys.executable, "-m", "stratus.cli", "reconcile"]
    done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["accounts"][account]
    assert (report["drifts"], report["lost_orders"], report["unknown_orders"]) == ([], [], [])
    assert report["adopted_fills"] == 0
    assert running.ledger.fills(account) == fills
    assert not [f for f in fills if f.strategy == RECONCILIATION_STRATEGY]
    assert exchange_view(running, account) == seen
    assert sorted(r.status for r in running.state.orders(account)).count(OrderStatus.OPEN) == 2
