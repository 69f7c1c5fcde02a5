"""The SQL market cache: round trip, age limit, replacement."""

from __future__ import annotations

from datetime import timedelta

from stratus.adapters.clock import ManualClock
from stratus.adapters.market_blob import pack, unpack
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.markets import paper_markets
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.market_cache import SqlMarketCache


def cache(clock: ManualClock) -> SqlMarketCache:
    return SqlMarketCache(Database.from_url("sqlite://"), clock)


def test_markets_round_trip_until_they_are_too_old(clock: ManualClock) -> None:
    markets = paper_markets()
    store = cache(clock)
    assert store.get("bybit/live", 60) is None
    store.put("bybit/live", markets)
    assert store.get("bybit/live", 60) == markets
    clock.advance(timedelta(seconds=61))
    assert store.get("bybit/live", 60) is None
    assert store.get("bybit/live", 3600) == markets


def test_put_replaces_and_restamps(clock: ManualClock) -> None:
    store = cache(clock)
    store.put("k", {"A": {"id": "1"}})
    clock.advance(timedelta(hours=2))
    store.put("k", {"B": {"id": "2"}})
    assert store.get("k", 60) == {"B": {"id": "2"}}


def test_the_blob_is_much_smaller_than_the_json(feed: PriceFeed) -> None:
    markets = {f"{s}-{i}": m for i in range(200) for s, m in paper_markets().items()}
    blob = pack(markets)
    assert unpack(blob) == markets
    assert len(blob) * 5 < len(str(markets))
