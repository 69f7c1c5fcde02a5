"""Marks streamed over WebSocket (ccxt.pro) against marks polled over REST, on the served
paper Bybit: how far behind the venue a mark is, and what it costs in requests.

    .venv/bin/python -m bench.marks [--moves 12] [--symbols 3]

The venue's price moves every 2 s (a ManualClock stepped through the feed's ticks); the
watcher's cadence publishes marks every second (`STRATUS_WATCH__MARK_SECONDS`). For each
move, the lag is the time until a published mark carries the new price. Polling is the
baseline (`PolledTickers` over the same ccxt.bybit: one GET /v5/market/tickers per
symbol per round); the streamed row reads as ratios of it. The paper stream pushes every
0.1 s, Bybit's cadence for linear tickers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from stratus.adapters.ccxt_exchange import CcxtExchanges
from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.bybit_http import ServedBybit, paper_bybit
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.polled_tickers import PolledTickers
from stratus.adapters.streamed_tickers import StreamedTickers
from stratus.config import Settings
from stratus.domain.accounts import Account
from stratus.ports import ExchangeAccount, Tickers

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
MARK_SECONDS = 1.0
MOVE_SECONDS = 2.0


class Directory:
    """One Bybit account: its keys for REST, its public record for the stream."""

    def __init__(self, account: ExchangeAccount) -> None:
        self._account = account

    def exchange_account(self, account: str) -> ExchangeAccount:
        return self._account

    def accounts(self) -> list[str]:
        return [self._account.account]

    def get(self, account: str) -> Account:
        now = datetime.now(UTC)
        return Account(
            account=account, exchange_id="bybit", label="", currency="USDT", sandbox=False,
            demo=False, api_key_fingerprint=None, key_version="v1", created_at=now,
            updated_at=now, version=1,
        )  # fmt: skip


def run(
    make: Callable[[], Tickers],
    served: ServedBybit,
    clock: ManualClock,
    feed: PriceFeed,
    symbols: list[str],
    moves: int,
) -> dict[str, float]:
    """Marks published every MARK_SECONDS, the venue moving every MOVE_SECONDS (phases
    unrelated, as in production): per move and symbol, the seconds until a published
    mark shows the new price."""
    tickers = make()
    tickers.follow({"bench": set(symbols)})
    time.sleep(2)  # connected and subscribed
    tickers.marks()
    before = len(served.app.requests)
    started = time.monotonic()
    publish_at = started + MARK_SECONDS
    move_at = started + MOVE_SECONDS / 3
    moved: dict[str, tuple[float, object]] = {}  # symbol -> (moved at, new price)
    lags: list[float] = []
    done = 0
    while done < moves or moved:
        now = time.monotonic()
        if done < moves and now >= move_at:
            clock.advance(timedelta(minutes=1))  # the next tick: every symbol moves
            moved = {s: (now, feed.quote(s, clock.now()).mid) for s in symbols}
            move_at += MOVE_SECONDS
            done += 1
        if now >= publish_at:
            publish_at += MARK_SECONDS
            for batch in tickers.marks():
                for mark in batch.marks:
                    at, price = moved.get(mark.symbol, (0.0, None))
                    if mark.price == price:
                        lags.append(now - at)
                        del moved[mark.symbol]
        time.sleep(0.005)
    elapsed = time.monotonic() - started
    requests = len(served.app.requests) - before
    tickers.close()
    return {
        "p50": statistics.median(lags),
        "max": max(lags),
        "requests_per_minute": requests / elapsed * 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=12)
    parser.add_argument("--symbols", type=int, default=3, choices=(1, 2, 3))
    args = parser.parse_args()
    feed = PriceFeed.default()
    clock = ManualClock(feed.start + timedelta(minutes=1))
    symbols = list(SYMBOLS[: args.symbols])
    account = ExchangeAccount("bench", "bybit", "k", "s")
    with ServedBybit(paper_bybit({"k": "s"}, clock, feed, ticker_seconds=0.1)) as served:
        settings = Settings(
            database_url="sqlite://", exchange="ccxt", exchange_api_url=served.url,
            exchange_rate_limit=False,
        )  # fmt: skip
        directory = Directory(account)
        exchanges = CcxtExchanges(settings, directory)
        sources: dict[str, Callable[[], Tickers]] = {
            "polled": lambda: PolledTickers(exchanges, clock),
            "streamed": lambda: StreamedTickers(settings, directory, clock),
        }
        rows = {
            name: run(make, served, clock, feed, symbols, args.moves)
            for name, make in sources.items()
        }
    base = rows["polled"]
    print(
        f"{len(symbols)} symbols, {args.moves} price moves, marks published every {MARK_SECONDS} s"
    )
    print("| source | lag p50 s | lag max s | requests/min | lag vs polled | requests vs polled |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['p50']:.2f} | {row['max']:.2f} | {row['requests_per_minute']:.0f} "
            f"| {row['p50'] / base['p50']:.0%} "
            f"| {row['requests_per_minute'] / base['requests_per_minute']:.0%} |"
        )


if __name__ == "__main__":
    main()
