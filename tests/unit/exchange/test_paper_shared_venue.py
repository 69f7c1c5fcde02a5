"""One paper venue behind several PaperExchange objects (processes, restarts): what one
does the others see, nothing is lost when they race, and an idle read writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ccxt.base.errors import ExchangeNotAvailable, InvalidOrder

from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.exchange import ATTEMPTS, HISTORY, MAX_WORKING, PaperExchange
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.memory_store import MemoryVenueStore
from stratus.ports import FinishedOrder, StoredVenue

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
T0 = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture
def feed() -> PriceFeed:
    return PriceFeed.default()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + timedelta(seconds=30))


@pytest.fixture
def store() -> MemoryVenueStore:
    return MemoryVenueStore()


def venue(
    feed: PriceFeed, clock: ManualClock, store: MemoryVenueStore, account: str = "acct"
) -> PaperExchange:
    """A PaperExchange as another process would build it: its own object, one store."""
    return PaperExchange(feed, clock, store=store, account=account)


def test_what_one_process_does_another_sees(
    feed: PriceFeed, clock: ManualClock, store: MemoryVenueStore
) -> None:
    first, second = venue(feed, clock, store), venue(feed, clock, store)
    bought = first.create_order(BTC, "market", "buy", 0.5, None, {"clientOrderId": "m-1"})
    resting = first.create_order(ETH, "limit", "buy", 2.0, 2950.0, {"clientOrderId": "l-1"})

    assert second.fetch_positions() == first.fetch_positions()
    assert second.fetch_balance() == first.fetch_balance()
    assert second.fetch_open_orders() == [resting]
    assert second.fetch_order("", BTC, {"clientOrderId": "m-1"}) == bought
    assert second.fetch_order(bought["id"]) == bought
    with pytest.raises(InvalidOrder, match="duplicate clientOrderId"):  # a retry elsewhere
        second.create_order(BTC, "market", "buy", 0.5, None, {"clientOrderId": "m-1"})
    assert venue(feed, clock, store, "other").fetch_positions() == []  # accounts apart
    assert store.accounts() == ["acct"]


def test_a_resting_order_fills_whoever_looks_and_the_fill_is_kept(
    feed: PriceFeed, clock: ManualClock, store: MemoryVenueStore
) -> None:
    first, second = venue(feed, clock, store), venue(feed, clock, store)
    placed = first.create_order(BTC, "limit", "sell", 0.2, 60100.0, {"clientOrderId": "tp-1"})
    clock.advance(timedelta(minutes=60))
    (fill,) = second.advance()
    assert (fill["order"], fill["price"], fill["takerOrMaker"]) == (placed["id"], 60100.0, "maker")
    assert first.advance() == []  # already matched: nothing twice
    done = first.fetch_order("", None, {"clientOrderId": "tp-1"})
    assert (done["status"], done["filled"]) == ("closed", 0.2)
    assert first.fetch_canceled_and_closed_orders(BTC) == [done]
    assert [t.id for t in first.trades()] == [fill["id"]]
    assert first.fetch_open_orders() == []


def test_a_read_of_an_idle_venue_writes_nothing(
    feed: PriceFeed, clock: ManualClock, store: MemoryVenueStore
) -> None:
    exchange = venue(feed, clock, store)
    exchange.fetch_balance()
    assert store.load("acct") is None  # nothing traded: nothing stored
    exchange.create_order(BTC, "market", "buy", 0.1)
    stored = store.load("acct")
    clock.advance(timedelta(minutes=30))
    exchange.fetch_balance()
    exchange.fetch_positions()
    exchange.fetch_open_orders()
    assert store.load("acct") == stored


class RacingStore(MemoryVenueStore):
    """Lets `rival` act between a caller's load and its save, `races` times."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: PaperExchange | None = None
        self.races = 0
        self.saves = 0

    def save(
        self, account: str, version: int, document: str, finished: Sequence[FinishedOrder]
    ) -> None:
        if self.races and self.rival is not None:
            self.races -= 1
            rival, self.rival = self.rival, None  # its own save must not race again
            rival.create_order(ETH, "market", "buy", 0.1)
            self.rival = rival
        self.saves += 1
        super().save(account, version, document, finished)


def test_a_lost_race_starts_over_on_the_winners_book(feed: PriceFeed, clock: ManualClock) -> None:
    store = RacingStore()
    mine, rival = venue(feed, clock, store), venue(feed, clock, store)
    store.rival, store.races = rival, 3
    mine.create_order(BTC, "market", "buy", 0.3)
    store.rival = None
    held = {p["symbol"]: p["contracts"] for p in mine.fetch_positions()}
    assert held == {BTC: 0.3, ETH: pytest.approx(0.3)}  # the rival's three and mine
    assert len(mine.trades()) == 4
    stored = store.load("acct")
    assert stored is not None
    assert stored.version == 4


class AlwaysBehind(MemoryVenueStore):
    def load(self, account: str) -> StoredVenue | None:
        return None  # as if every save were beaten by someone creating the venue first

    def save(
        self, account: str, version: int, document: str, finished: Sequence[FinishedOrder]
    ) -> None:
        from stratus.domain.errors import ConcurrentUpdate

        raise ConcurrentUpdate("always behind")


def test_a_venue_that_never_wins_a_race_answers_not_available(
    feed: PriceFeed, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr("stratus.adapters.paper.exchange.time.sleep", pauses.append)
    exchange = venue(feed, clock, AlwaysBehind())
    with pytest.raises(ExchangeNotAvailable, match="busy"):
        exchange.create_order(BTC, "market", "buy", 0.1)
    assert len(pauses) == ATTEMPTS
    assert all(0 <= pause <= 0.001 * ATTEMPTS for pause in pauses)


def test_working_orders_are_bounded(feed: PriceFeed, clock: ManualClock) -> None:
    exchange = PaperExchange(feed, clock, {"USDT": Decimal(10**7)})
    for n in range(MAX_WORKING):
        exchange.create_order(BTC, "limit", "buy", 0.001, 50000.0 + n)
    with pytest.raises(InvalidOrder, match=f"max open orders {MAX_WORKING}"):
        exchange.create_order(BTC, "limit", "buy", 0.001, 49000.0)
    assert exchange.create_order(BTC, "market", "buy", 0.001)["status"] == "closed"


class Recording(MemoryVenueStore):
    def __init__(self) -> None:
        super().__init__()
        self.finished: list[FinishedOrder] = []

    def save(
        self, account: str, version: int, document: str, finished: Sequence[FinishedOrder]
    ) -> None:
        super().save(account, version, document, finished)
        self.finished.extend(finished)


def test_final_orders_go_to_the_history_for_its_period(feed: PriceFeed, clock: ManualClock) -> None:
    store = Recording()
    exchange = venue(feed, clock, store)
    placed = exchange.create_order(BTC, "limit", "buy", 0.1, 59000.0, {"clientOrderId": "c-1"})
    assert store.finished == []  # working: in the book
    clock.advance(timedelta(minutes=2))
    exchange.cancel_order(placed["id"], BTC)
    (kept,) = store.finished
    assert (kept.order_id, kept.client_order_id) == (placed["id"], "c-1")
    assert kept.expires_at == T0 + timedelta(seconds=30, minutes=2) + HISTORY
    assert exchange.fetch_open_orders() == []
    assert exchange.fetch_order(placed["id"])["status"] == "canceled"


def test_a_clock_behind_the_venue_does_not_take_it_back(
    feed: PriceFeed, store: MemoryVenueStore
) -> None:
    ahead, behind = ManualClock(T0 + timedelta(minutes=5)), ManualClock(T0 + timedelta(minutes=6))
    venue(feed, ahead, store).create_order(BTC, "limit", "buy", 0.1, 50000.0)
    ahead.set(T0 + timedelta(minutes=10))
    venue(feed, ahead, store).advance()  # ticks matched up to minute 10
    placed = venue(feed, behind, store).create_order(BTC, "limit", "buy", 0.1, 50001.0)
    assert placed["datetime"] == "2026-01-05T00:10:00.000Z"  # else ticks 7-10 were skipped
