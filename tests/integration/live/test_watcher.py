"""`make up`'s watcher: marks move with the paper feed, a resting order's fill reaches
positions within seconds, balances come from the paper venue with no PUT (issue 16)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.venues import PaperVenues
from stratus.adapters.polled_tickers import PolledTickers
from stratus.adapters.sql.funds import SqlFunds
from stratus.cli.up import deliver_forever, local_app
from stratus.config import Settings, WatchPolicy
from stratus.contracts import codec
from stratus.domain.accounts import Balances
from stratus.domain.errors import ExchangeUnavailable
from stratus.domain.orders import OrderRejection
from stratus.domain.signals import Signal
from stratus.service.bootstrap import build
from stratus.service.services import Services
from stratus.service.watcher import Watcher
from tests.conftest import open_accounts

TOKEN = {"Authorization": f"Bearer {Settings().manager_dev_token.get_secret_value()}"}
SYMBOL = "BTC/USDT:USDT"


class Up:
    """`stratus up` in this process: the app, the bus delivering, the watcher watching."""

    def __init__(self, services: Services, clock: ManualClock) -> None:
        self.services, self.clock = services, clock
        self.client = TestClient(local_app(services))
        self.venues = services.exchanges
        bus = services.bus
        assert isinstance(bus, LocalBus)
        self.bus = bus
        # Balances every second rather than every minute: the tests see each refresh.
        policy = WatchPolicy(balance_seconds=1.0)
        self.watcher = Watcher(services, PolledTickers(services.exchanges, clock), policy)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=deliver_forever, args=(bus, self._stop, 0.01)),
            threading.Thread(target=self.watcher.run, args=(self._stop,)),
        ]

    def __enter__(self) -> Up:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def signal(self, signal_id: str, **fields: Any) -> None:
        record = {
            "signal_id": signal_id, "source": "test", "account": "acct", "strategy": "st",
            "symbol": SYMBOL, "action": "buy", "quantity": "0.5",
            "created_at": self.clock.now(), **fields,
        }  # fmt: skip
        self.services.publish("signals", Signal.model_validate(record))

    def positions(self) -> list[dict[str, Any]]:
        answer = self.client.get("/api/v1/positions", params={"status": "open"}, headers=TOKEN)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def balances(self) -> list[dict[str, Any]]:
        answer = self.client.get("/api/v1/balances", params={"account": "acct"}, headers=TOKEN)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items


def until(found: Callable[[], Any], seconds: float = 10.0) -> float:
    """Seconds until `found()` is truthy (fails after `seconds`)."""
    start = time.monotonic()
    while not found():
        assert time.monotonic() - start < seconds, "not within the time allowed"
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.fixture
def up(tmp_path: Path, feed: PriceFeed, clock: ManualClock) -> Iterator[Up]:
    services = build(
        Settings(database_url=f"sqlite:///{tmp_path}/stratus.db"),
        clock=clock,
        exchanges=PaperVenues(clock, feed),
    )
    open_accounts(services, "acct")
    with Up(services, clock) as running:
        yield running


def test_unrealized_pnl_moves_with_the_feed(up: Up, feed: PriceFeed) -> None:
    up.signal("buy-1")
    until(lambda: up.positions())
    marks = []
    for minutes in (10, 40):
        up.clock.set(feed.start + timedelta(minutes=minutes))
        mid = feed.quote(SYMBOL, up.clock.now()).mid

        def marked(mid: Decimal = mid) -> bool:
            return Decimal(up.positions()[0]["mark_price"]) == mid

        until(marked)
        [position] = up.positions()
        entry, quantity = Decimal(position["average_entry"]), Decimal(position["quantity"])
        assert Decimal(position["unrealized_pnl"]) == (mid - entry) * quantity
        assert position["mark_time"].startswith(up.clock.now().isoformat()[:16])
        marks.append(mid)
    assert marks[0] != marks[1]


def test_a_resting_limit_orders_fill_reaches_positions_within_5_seconds(
    up: Up, feed: PriceFeed
) -> None:
    ahead = list(feed.ticks(SYMBOL, feed.start, feed.start + timedelta(minutes=60)))
    highest = max(ahead, key=lambda tick: tick.bid)
    assert highest.bid > feed.quote(SYMBOL, feed.start).ask  # it rests first
    up.signal("rest-1", action="sell", limit_price=str(highest.bid))
    until(lambda: up.services.state.orders(live=True))
    until(lambda: up.watcher.rounds > 1)  # followed at least once while resting
    assert up.positions() == []
    up.clock.set(highest.timestamp)  # the market comes up to it: filled on the venue
    took = until(lambda: up.positions(), seconds=5)
    [position] = up.positions()
    assert Decimal(position["quantity"]) == Decimal("-0.5")
    assert Decimal(position["average_entry"]) == highest.bid
    print(f"resting fill in positions after {took:.2f} s")


def test_balances_match_the_paper_exchange_without_a_put(up: Up) -> None:
    venue = up.venues.for_account("acct")

    def matches() -> bool:
        wallet = {(b.asset, b.free, b.used, b.total) for b in venue.wallet()}
        shown = {
            (b["asset"], Decimal(b["free"]), Decimal(b["used"]), Decimal(b["total"]))
            for b in up.balances()
        }
        return wallet == shown

    until(matches)  # an account that never traded: refreshed as soon as it is seen
    [usdt] = up.balances()
    assert usdt["source"] == "exchange"
    assert Decimal(usdt["used"]) == 0
    up.signal("buy-1")
    until(lambda: up.positions())
    until(matches)
    [usdt] = up.balances()
    assert Decimal(usdt["used"]) > 0  # the position's margin


def test_the_order_to_balance_ratio_uses_the_recorded_balance(services: Services) -> None:
    open_accounts(services, "manual", "fresh")
    assert services.allocations is not None
    funds = services.allocations
    assert isinstance(funds, SqlFunds)
    funds.put_balance("manual", "USDT", Decimal(1000), Decimal(0))  # a paper account's, by hand
    assert isinstance(services.bus, LocalBus)
    for account in ("manual", "fresh"):  # ~3,000 USDT of ETH: above half of 1,000
        record = {
            "signal_id": f"ratio-{account}", "source": "test", "account": account,
            "strategy": "st", "symbol": "ETH/USDT:USDT", "action": "buy", "quantity": "1",
            "created_at": services.clock.now(),
        }  # fmt: skip
        services.publish("signals", Signal.model_validate(record))
    services.bus.drain()
    [rejection] = [
        codec.decode("order-rejections", e.data) for e in services.bus.messages("order-rejections")
    ]
    assert isinstance(rejection, OrderRejection)
    assert (rejection.account, rejection.reason) == ("manual", "max_order_balance_ratio")
    assert "x balance 1000.00" in rejection.detail
    # no balance recorded yet: the exchange's own (the paper venue's 100,000 USDT)
    assert [p.account for p in services.ledger.positions()] == ["fresh"]


class Unreachable:
    """Exchanges where one account's venue cannot be reached."""

    def __init__(self, inner: PaperVenues, down: str) -> None:
        self.inner, self.down = inner, down

    def for_account(self, account: str) -> Any:
        if account == self.down:
            raise ExchangeUnavailable(f"{account}: connection refused")
        return self.inner.for_account(account)

    def accounts(self) -> list[str]:
        return sorted({*self.inner.accounts(), self.down})


def test_an_unreachable_account_does_not_stop_the_others(
    services: Services, feed: PriceFeed, clock: ManualClock
) -> None:
    open_accounts(services, "up", "down")
    services.exchanges = Unreachable(PaperVenues(clock, feed), "down")
    services.exchanges.for_account("up")  # opened
    watcher = Watcher(services, PolledTickers(services.exchanges, clock))
    watcher.step()
    assert isinstance(services.bus, LocalBus)
    told = [codec.decode("balances", e.data) for e in services.bus.messages("balances")]
    assert [wallet.account for wallet in told if isinstance(wallet, Balances)] == ["up"]
    assert "down: connection refused" in watcher.last_error
    assert watcher.rounds == 1
