"""The replayable price feed: lookup rules, CSV loading, and the shipped data."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from stratus.adapters.paper.feed import NoQuoteError, PriceFeed, Quote

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 5, tzinfo=UTC)
BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
HEADER = "timestamp,symbol,bid,ask,last,volume\n"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def tick(minute: int, bid: str, symbol: str = BTC) -> Quote:
    b = Decimal(bid)
    return Quote(symbol, at(minute), b, b + 1, b, Decimal(1))


@pytest.fixture
def feed() -> PriceFeed:
    # deliberately out of order: the feed sorts per symbol
    return PriceFeed([tick(2, "102"), tick(0, "100"), tick(1, "101"), tick(1, "50", ETH)])


def test_quote_is_the_latest_tick_at_or_before_the_moment(feed: PriceFeed) -> None:
    assert feed.quote(BTC, at(0)).bid == Decimal("100")
    assert feed.quote(BTC, at(1)).bid == Decimal("101")  # exactly on a tick
    assert feed.quote(BTC, at(1.99)).bid == Decimal("101")  # between ticks
    assert feed.quote(BTC, at(2.5)).bid == Decimal("102")  # the last tick, until the next
    assert feed.quote(ETH, at(2.9)).timestamp == at(1)


def test_quote_before_the_first_tick_or_of_an_unknown_symbol_raises(feed: PriceFeed) -> None:
    with pytest.raises(NoQuoteError, match="at or before"):
        feed.quote(BTC, at(-0.5))
    with pytest.raises(NoQuoteError, match="at or before"):
        feed.quote(ETH, at(0.5))  # ETH starts later than BTC
    with pytest.raises(NoQuoteError, match="no symbol 'DOGE/USDT:USDT'"):
        feed.quote("DOGE/USDT:USDT", at(1))


def test_naive_datetimes_are_refused(feed: PriceFeed) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        feed.quote(BTC, datetime(2026, 1, 5))


def test_ticks_window_excludes_after_and_includes_until(feed: PriceFeed) -> None:
    assert [q.bid for q in feed.ticks(BTC, at(0), at(2))] == [Decimal(101), Decimal(102)]
    assert [q.bid for q in feed.ticks(BTC, until=at(0))] == [Decimal(100)]
    assert len(list(feed.ticks(BTC))) == 3  # the data as given
    assert list(feed.ticks(BTC, at(2), at(2.5))) == []


def test_past_its_end_the_feed_plays_backwards_then_forwards_again(feed: PriceFeed) -> None:
    # span 2 minutes, so a loop of 4: 100 101 102 | 101 | 100 101 102 | 101 | 100 ...
    looped = list(feed.ticks(BTC, at(2), at(9)))
    assert [q.bid for q in looped] == [Decimal(b) for b in (101, 100, 101, 102, 101, 100, 101)]
    assert [q.timestamp for q in looped] == [at(m) for m in range(3, 10)]
    assert feed.quote(BTC, at(4001.5)).bid == Decimal(101)  # 4001 = 1000 loops + 1
    assert feed.quote(BTC, at(4001.5)).timestamp == at(4001)
    # ETH has one tick, at 1: mirrored at 3, and before 1 in a later loop the last one stays
    assert [q.timestamp for q in feed.ticks(ETH, at(0), at(8))] == [at(1), at(3), at(5), at(7)]
    assert feed.quote(ETH, at(4.5)).timestamp == at(3)


def test_the_looped_default_feed_never_jumps_more_than_its_data_does() -> None:
    feed = PriceFeed.default()
    for symbol in feed.symbols:
        data = [q.mid for q in feed.ticks(symbol)]
        biggest = max(abs(b - a) for a, b in pairwise(data))
        later = list(feed.ticks(symbol, feed.start, feed.end + timedelta(hours=12)))
        assert len(later) == 12 * 60 + 179  # a tick a minute, all the way
        assert max(abs(b.mid - a.mid) for a, b in pairwise(later)) == biggest
        assert all(b.timestamp - a.timestamp == timedelta(minutes=1) for a, b in pairwise(later))


def test_any_moment_has_the_same_price_for_every_reader() -> None:
    """What keeps the processes of a stack in step: the price depends on the moment only."""
    moment = datetime(2026, 12, 3, 3, 14, 26, tzinfo=UTC)
    first, second = PriceFeed.default(), PriceFeed.default()
    assert first.quote(BTC, moment) == second.quote(BTC, moment)
    assert first.quote(BTC, moment).timestamp == datetime(2026, 12, 3, 3, 14, tzinfo=UTC)
    within = PriceFeed.default()
    assert all(within.quote(s, q.timestamp) is q for s in (BTC, ETH) for q in within.ticks(s))


def test_symbols_start_end(feed: PriceFeed) -> None:
    assert feed.symbols == (BTC, ETH)
    assert (feed.start, feed.end) == (at(0), at(2))


def test_quote_is_frozen_decimal_with_mid_and_spread() -> None:
    quote = tick(0, "100.5")
    assert (quote.mid, quote.spread) == (Decimal("101.0"), Decimal(1))
    with pytest.raises(AttributeError):
        quote.bid = Decimal(1)  # type: ignore[misc]


def test_from_csv_parses_decimals_and_utc_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(HEADER + "2026-01-05T00:00:00Z,BTC/USDT:USDT,0.1,0.3,0.2,4.5\n")
    quote = PriceFeed.from_csv(path).quote(BTC, at(0))
    assert quote == Quote(
        BTC, at(0), Decimal("0.1"), Decimal("0.3"), Decimal("0.2"), Decimal("4.5")
    )
    assert quote.timestamp.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("2026-01-05T00:00:00Z,BTC/USDT:USDT,2,1,1,1\n", "implausible"),  # crossed book
        ("2026-01-05T00:00:00Z,BTC/USDT:USDT,1,2,1,-1\n", "implausible"),
        ("2026-01-05T00:00:00,BTC/USDT:USDT,1,2,1,1\n", "no timezone"),
        ("2026-01-05T00:00:00Z,BTC/USDT:USDT,1,2,x,1\n", ":2:"),  # says which line
        ("2026-01-05T00:00:00Z,BTC/USDT:USDT,1,2,1,1\n" * 2, "two BTC/USDT:USDT ticks"),
        ("", "at least one tick"),
    ],
)
def test_from_csv_rejects_bad_data(tmp_path: Path, body: str, error: str) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(HEADER + body)
    with pytest.raises(ValueError, match=error):
        PriceFeed.from_csv(path)


def test_from_csv_requires_the_documented_columns(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text("time,symbol,bid,ask,last,volume\n")
    with pytest.raises(ValueError, match="expected columns"):
        PriceFeed.from_csv(path)


def test_default_feed_is_three_hours_of_minutes_for_three_perps() -> None:
    feed = PriceFeed.default()
    assert feed.symbols == (BTC, ETH, SOL)
    assert (feed.start, feed.end) == (T0, T0 + timedelta(hours=3, minutes=-1))
    for symbol, level in ((BTC, 60000), (ETH, 3000), (SOL, 150)):
        ticks = list(feed.ticks(symbol))
        assert len(ticks) == 180
        assert all(0.9 * level < q.bid < q.ask < 1.1 * level for q in ticks)
        assert all(q.last in (q.bid, q.ask) for q in ticks)
        assert all(q.volume > 0 for q in ticks)
    assert all(Decimal("0.5") <= q.spread <= 1 for q in feed.ticks(BTC))


def test_shipped_feed_matches_its_seeded_generator() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_feed.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
