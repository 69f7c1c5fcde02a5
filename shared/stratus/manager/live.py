"""The console's live streams: what this instance sees on some topics, fanned out to its
WebSocket clients.

- `positions`: `position-updates` as `update` (or `close` when flat) messages, and
  `marks` (the latest prices, each with the time it was quoted: unrealized PnL moves
  with them); the route sends a `snapshot` of the open positions first.
- `activity`: orders approved for the exchange (`order`), fills (`fill`) and signal
  outcomes (`signal`).

Both carry `heartbeat`s, and an `error` before the server closes. Every message is a JSON
object with a "type"; amounts are decimal strings (docs/console.md). The topics come from
a Feed, watched only while someone listens: the in-process bus, or this instance's own
Pub/Sub subscriptions (topology.yaml `manager.streams`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stratus.contracts import codec
from stratus.domain.errors import InvalidMessage
from stratus.domain.orders import OrderRequest
from stratus.domain.positions import PositionUpdate
from stratus.ports import Envelope, Feed
from stratus.topology import topology

log = logging.getLogger(__name__)

WATCHER = "console"
HEARTBEAT_SECONDS = 15.0
QUEUE_LIMIT = 1000  # messages a slow client may fall behind before it is dropped
LINGER_SECONDS = 60.0  # keep watching this long after the last client, for reconnects

Message = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def heartbeat() -> Message:
    return {"type": "heartbeat", "at": now_iso()}


def error(reason: str, detail: str) -> Message:
    return {"type": "error", "error": reason, "detail": detail}


def message_of(envelope: Envelope) -> tuple[str, Message] | None:
    """The stream and message an envelope becomes; None for what no stream carries."""
    try:
        decoded = codec.decode(envelope.topic, envelope.data)
    except (InvalidMessage, KeyError):
        log.warning("undecodable message on %s ignored", envelope.topic)
        return None
    body = decoded.model_dump(mode="json")
    match envelope.topic:
        case "position-updates":
            assert isinstance(decoded, PositionUpdate)
            kind = "close" if decoded.quantity == 0 else "update"
            return "positions", {"type": kind, "position": body}
        case "orders":
            assert isinstance(decoded, OrderRequest)
            order = {**body, "client_order_id": decoded.client_order_id, "status": "approved"}
            return "activity", {"type": "order", "order": order}
        case "executions":
            return "activity", {"type": "fill", "fill": body}
        case "signal-outcomes":
            return "activity", {"type": "signal", "signal": body}
        case "marks":
            return "positions", {"type": "marks", "marks": body["marks"]}
    return None


class Listener:
    """One client's queue; `lagging` once it fell QUEUE_LIMIT messages behind."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_LIMIT)
        self.lagging = False

    def put(self, message: Message) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.lagging = True

    async def next(self) -> Message:
        """The next message, or a heartbeat after HEARTBEAT_SECONDS of silence."""
        try:
            return await asyncio.wait_for(self.queue.get(), HEARTBEAT_SECONDS)
        except TimeoutError:
            return heartbeat()


class Hub:
    """Listeners of this instance by stream. The feed is watched from the first listener
    until LINGER_SECONDS after the last one; its messages arrive on the feed's threads."""

    def __init__(self, feed: Feed) -> None:
        self._feed = feed
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watching = False
        self._starting = asyncio.Lock()  # two first clients must not both start the feed
        self._linger: asyncio.TimerHandle | None = None

    async def join(self, stream: str) -> Listener:
        """A listener of `stream`; the feed is watched before this returns, so whatever
        the caller reads next (a snapshot) is followed by every later change."""
        self._loop = asyncio.get_running_loop()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        async with self._starting:
            if not self._watching:
                topics = topology().manager.streams
                await asyncio.to_thread(self._feed.watch, WATCHER, topics, self.offer)
                self._watching = True
        listener = Listener(stream)
        with self._lock:
            self._listeners.add(listener)
        return listener

    def leave(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)
            empty = not self._listeners
        if empty and self._watching and self._loop is not None:
            self._linger = self._loop.call_later(LINGER_SECONDS, self._stop_when_alone)

    def _stop_when_alone(self) -> None:
        with self._lock:
            if self._listeners:
                return
        self._linger = None
        self.close()

    def close(self) -> None:
        """Stop watching (the app's shutdown, or nobody left)."""
        if self._watching:
            self._watching = False
            self._feed.unwatch(WATCHER)

    def offer(self, envelope: Envelope) -> None:
        """A message from the feed (any thread): to every listener of its stream."""
        found = message_of(envelope)
        loop = self._loop
        if found is None or loop is None or loop.is_closed():
            return
        stream, message = found
        with self._lock:
            targets = [item for item in self._listeners if item.stream == stream]
        for listener in targets:
            loop.call_soon_threadsafe(_put(listener, message))


def _put(listener: Listener, message: Message) -> Callable[[], None]:
    return lambda: listener.put(message)
