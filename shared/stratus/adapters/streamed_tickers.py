"""Tickers streamed over the exchanges' WebSocket APIs through ccxt.pro (docs/live.md).

One public connection per exchange and environment (accounts on the same exchange share
it; no keys are needed for tickers, so none are read: which exchange an account trades on
is public, looked up once per account), subscribed to the union of the symbols followed,
on an asyncio loop in a background thread. Each ticker that arrives replaces the last
one of its symbol; `marks` hands over what arrived since it was last called. A
connection that drops is opened again by ccxt on the next watch, after a short pause.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from stratus.adapters.ccxt_exchange import EXCHANGE_OPTIONS, environment, point_at
from stratus.config import Settings
from stratus.domain.market import Mark, Marks
from stratus.domain.records import NotFound
from stratus.ports import AccountDirectory, Clock, ExchangeAccount

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0  # after a stream failed, before it is watched again
STOP_SECONDS = 10.0


class StreamedTickers:
    def __init__(self, settings: Settings, accounts: AccountDirectory, clock: Clock) -> None:
        self._settings = settings
        self._accounts = accounts
        self._venues: dict[str, ExchangeAccount] = {}  # account -> its exchange, no keys
        self._clock = clock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tickers", daemon=True)
        self._thread.start()
        self._lock = threading.Lock()
        self._latest: dict[str, dict[str, Mark]] = defaultdict(dict)  # exchange -> symbol -> mark
        self._watched: dict[str, frozenset[str]] = {}  # exchange -> symbols of its task
        self._tasks: dict[str, Future[None]] = {}
        self._clients: dict[str, Any] = {}

    def follow(self, symbols: Mapping[str, set[str]]) -> None:
        wanted: dict[str, set[str]] = defaultdict(set)
        venues: dict[str, ExchangeAccount] = {}
        for account, held in symbols.items():
            venue = self._venue(account)
            if venue is None:
                continue
            key = f"{venue.exchange_id}/{environment(venue)}"
            venues.setdefault(key, venue)
            wanted[key] |= held
        for key in set(self._watched) - set(wanted):
            self._stop(key)
        for key, held in wanted.items():
            if self._watched.get(key) != frozenset(held):
                self._stop(key)
                self._watched[key] = frozenset(held)
                work = self._watch(key, venues[key], sorted(held))
                self._tasks[key] = asyncio.run_coroutine_threadsafe(work, self._loop)

    def _venue(self, account: str) -> ExchangeAccount | None:
        if account not in self._venues:
            try:
                found = self._accounts.get(account)
            except NotFound:
                return None  # gone from the system of record: it trades nowhere
            self._venues[account] = ExchangeAccount(
                account, found.exchange_id, "", "", sandbox=found.sandbox, demo=found.demo
            )
        return self._venues[account]

    def marks(self) -> list[Marks]:
        with self._lock:
            latest, self._latest = self._latest, defaultdict(dict)
        return [
            Marks(exchange=key, marks=list(found.values()))
            for key, found in sorted(latest.items())
            if found
        ]

    def close(self) -> None:
        for key in list(self._tasks):
            self._stop(key)
        for client in self._clients.values():
            asyncio.run_coroutine_threadsafe(client.close(), self._loop).result(STOP_SECONDS)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_SECONDS)

    def _stop(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        self._watched.pop(key, None)
        if task is not None:
            task.cancel()

    async def _watch(self, key: str, venue: ExchangeAccount, symbols: list[str]) -> None:
        client = self._clients.get(key) or self._client(venue)
        self._clients[key] = client
        while True:
            try:
                tickers = await client.watch_tickers(symbols)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the stream dropped or refused: watch again
                log.warning("ticker stream of %s failed: %s", key, error)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for symbol, ticker in tickers.items():
                mark = self._mark(symbol, ticker)
                if mark is not None:
                    with self._lock:
                        self._latest[key][symbol] = mark

    def _client(self, venue: ExchangeAccount) -> Any:
        import ccxt.pro  # the whole library: this is a long-lived process, once

        client = getattr(ccxt.pro, venue.exchange_id)(
            {"options": dict(EXCHANGE_OPTIONS.get(venue.exchange_id, {}))}
        )
        if venue.sandbox:
            client.set_sandbox_mode(True)
        if venue.demo:
            client.enable_demo_trading(True)
        if self._settings.exchange_api_url:
            client.urls = point_at(client.urls, self._settings.exchange_api_url)
        return client

    def _mark(self, symbol: str, ticker: Mapping[str, Any]) -> Mark | None:
        bid, ask = ticker.get("bid"), ticker.get("ask")
        if not bid or not ask:
            return None
        stamp = ticker.get("timestamp")
        at = datetime.fromtimestamp(stamp / 1000, UTC) if stamp else self._clock.now()
        return Mark(symbol=symbol, price=(Decimal(str(bid)) + Decimal(str(ask))) / 2, at=at)
