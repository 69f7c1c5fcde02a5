"""Live data against the served paper Bybit through real ccxt: marks streamed over its
public WebSocket (ccxt.pro) stay within 5 s of the venue's price, and the watcher follows
a resting order to its fill within 5 s over REST (issue 16)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.bybit_http import ServedBybit
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.sql.ledger import SqlLedger
from stratus.adapters.streamed_tickers import StreamedTickers
from stratus.cli.up import deliver_forever, local_app
from stratus.config import Settings, WatchPolicy
from stratus.domain.market import Mark
from stratus.domain.orders import OrderRequest
from stratus.service.services import Services
from stratus.service.watcher import Watcher
from tests.integration.exchange.conftest import ACCOUNT

SYMBOL = "BTC/USDT:USDT"
TOKEN = {"Authorization": f"Bearer {Settings().manager_dev_token.get_secret_value()}"}


def until(found: Callable[[], Any], seconds: float = 10.0) -> tuple[Any, float]:
    """What `found()` gives once it is truthy, and after how many seconds."""
    start = time.monotonic()
    while not (value := found()):
        assert time.monotonic() - start < seconds, "not within the time allowed"
        time.sleep(0.02)
    return value, time.monotonic() - start


@pytest.fixture
def tickers(settings: Settings, live: Services, clock: ManualClock) -> Iterator[StreamedTickers]:
    streamed = StreamedTickers(settings, live.accounts, clock)
    yield streamed
    streamed.close()


def next_move(feed: PriceFeed, clock: ManualClock) -> datetime:
    """The first later tick whose mid differs from now's."""
    now = feed.quote(SYMBOL, clock.now()).mid
    return next(t.timestamp for t in feed.ticks(SYMBOL, clock.now()) if t.mid != now)


def test_streamed_marks_follow_the_venue_within_5_seconds(
    served: ServedBybit,
    tickers: StreamedTickers,
    live: Services,
    clock: ManualClock,
    feed: PriceFeed,
) -> None:
    tickers.follow({ACCOUNT: {SYMBOL}})

    def latest() -> Mark | None:
        found = [m for batch in tickers.marks() for m in batch.marks if m.symbol == SYMBOL]
        return found[-1] if found else None

    first, _ = until(latest)
    assert first.price == feed.quote(SYMBOL, clock.now()).mid
    assert abs((datetime.now(UTC) - first.at).total_seconds()) < 5
    clock.set(next_move(feed, clock))  # the market moves on the exchange
    moved = feed.quote(SYMBOL, clock.now()).mid
    _, took = until(lambda: (m := latest()) is not None and m.price == moved)
    assert took < 5
    print(f"streamed mark followed the venue after {took:.2f} s")
    assert ("GET", "/v5/market/tickers") not in served.app.requests  # streamed, not polled
    ledger = live.ledger  # no key was read for it: reads of keys are audited
    assert isinstance(ledger, SqlLedger)
    with ledger.database.transaction() as session:
        reads = session.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'account.credentials.read'")
        ).scalar()
    assert reads == 0


def test_the_watcher_keeps_positions_marked_and_follows_a_resting_order(
    live: Services,
    served: ServedBybit,
    clock: ManualClock,
    feed: PriceFeed,
    make_request: Callable[..., OrderRequest],
) -> None:
    bus = live.bus
    assert isinstance(bus, LocalBus)
    client = TestClient(local_app(live))
    ahead = list(feed.ticks(SYMBOL, clock.now(), clock.now() + timedelta(minutes=60)))
    highest = max(ahead, key=lambda tick: tick.bid)
    assert highest.bid > feed.quote(SYMBOL, clock.now()).ask  # a sell there rests
    live.publish("orders", make_request("rest-1", side="sell", limit=str(highest.bid)))
    live.publish("orders", make_request("market-1", quantity="0.02"))
    bus.drain()
    assert live.state.orders(live=True)  # the limit order rests on the exchange
    watcher = Watcher(
        live, StreamedTickers(live.settings, live.accounts, clock), WatchPolicy(scope_seconds=0.5)
    )
    stop = threading.Event()
    threads = [
        threading.Thread(target=deliver_forever, args=(bus, stop, 0.01)),
        threading.Thread(target=watcher.run, args=(stop,)),
    ]
    for thread in threads:
        thread.start()
    try:

        def positions() -> list[dict[str, Any]]:
            answer = client.get("/api/v1/positions", params={"status": "open"}, headers=TOKEN)
            items: list[dict[str, Any]] = answer.json()["items"]
            return items

        mid = feed.quote(SYMBOL, clock.now()).mid
        until(lambda: positions() and Decimal(positions()[0]["mark_price"]) == mid)
        clock.set(highest.timestamp)  # the market comes up: the resting sell fills
        _, took = until(lambda: Decimal(positions()[0]["quantity"]) == Decimal("0.01"))
        assert took < 5
        print(f"resting fill on the served Bybit in positions after {took:.2f} s")
        moved = feed.quote(SYMBOL, clock.now()).mid
        until(lambda: Decimal(positions()[0]["mark_price"]) == moved)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
