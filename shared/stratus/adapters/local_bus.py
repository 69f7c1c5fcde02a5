"""The embedded event bus: topics and subscriptions in process, Pub/Sub semantics.

Publishing queues one delivery per subscribing function (from the topology); `drain()`
delivers them through the very entry the Cloud Functions use, with the attempt number
Pub/Sub passes as deliveryAttempt. A delivery that raises is redelivered up to the
topology's max attempts, then forwarded to the dead-letter topic, as Pub/Sub does.
`duplicate_rate` delivers some messages twice, to exercise idempotency. Subscribers other
than functions (the manager's) `watch` topics and are delivered alike. A function whose
topology `concurrency` is above one gets its deliveries on that many threads at once, as
one Cloud Run instance serves them; `drain` returns once they are all done.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Protocol

from stratus.observability import log_fields
from stratus.ports import Clock, Envelope, Watcher
from stratus.topology import Topology

log = logging.getLogger(__name__)


class Deliver(Protocol):
    """stratus.service.dispatch.deliver with its services bound."""

    def __call__(
        self,
        function: str,
        data: bytes,
        attributes: Mapping[str, str],
        published_at: datetime,
        attempt: int,
        topic: str,
    ) -> None: ...


@dataclass
class _Delivery:
    function: str
    envelope: Envelope
    attempt: int = 1


@dataclass
class LocalBus:
    topology: Topology
    clock: Clock
    duplicate_rate: float = 0.0
    seed: int = 0
    history: dict[str, list[Envelope]] = field(default_factory=lambda: defaultdict(list))
    _queue: deque[_Delivery] = field(default_factory=deque)
    _deliver: Deliver | None = None
    _watchers: dict[str, tuple[frozenset[str], Watcher]] = field(default_factory=dict)
    _ids: count[int] = field(default_factory=count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pools: dict[str, ThreadPoolExecutor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def attach(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def watch(self, name: str, topics: Iterable[str], watcher: Watcher) -> None:
        """Subscribe `name` to `topics`: what is published from now on is delivered to
        `watcher` too, queued and retried like a function's subscription."""
        with self._lock:
            self._watchers[name] = (frozenset(topics), watcher)

    def unwatch(self, name: str) -> None:
        with self._lock:
            self._watchers.pop(name, None)

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        with self._lock:
            envelope = Envelope(
                str(next(self._ids)), topic, data, dict(attributes), self.clock.now()
            )
            self.history[topic].append(envelope)
            for function in self.topology.subscribers(topic):
                self._queue.append(_Delivery(function, envelope))
            for name, (topics, _) in self._watchers.items():
                if topic in topics:
                    self._queue.append(_Delivery(name, envelope))

    def ping(self) -> None:
        """In this process: always there."""

    def messages(self, topic: str) -> list[Envelope]:
        """Everything ever published to `topic` (a retained log, for tests and the CLI)."""
        return list(self.history.get(topic, []))

    def drain(self, max_deliveries: int = 100_000) -> int:
        """Deliver until no message is left; returns the number of deliveries made."""
        if self._deliver is None:
            raise RuntimeError("LocalBus.attach() was not called")
        made = 0
        running: list[Future[None]] = []
        while made < max_deliveries:
            with self._lock:
                delivery = self._queue.popleft() if self._queue else None
            if delivery is None:
                if not running:
                    return made
                wait(running)  # what they publish or retry is queued by now
                running = []
                continue
            made += 1
            pool = self._pool(delivery.function)
            if pool is None:
                self._attempt(delivery)
            else:
                running.append(pool.submit(self._attempt, delivery))
                continue
            if self.duplicate_rate and self._random.random() < self.duplicate_rate:
                made += 1
                self._attempt(_Delivery(delivery.function, delivery.envelope))
        raise RuntimeError(f"bus did not settle after {max_deliveries} deliveries")

    def _pool(self, function: str) -> ThreadPoolExecutor | None:
        declared = self.topology.functions.get(function)
        if declared is None or declared.concurrency == 1:
            return None
        with self._lock:
            if function not in self._pools:
                self._pools[function] = ThreadPoolExecutor(declared.concurrency, function)
            return self._pools[function]

    def _attempt(self, delivery: _Delivery) -> None:
        assert self._deliver is not None
        envelope = delivery.envelope
        watched = self._watchers.get(delivery.function)
        if watched is None and delivery.function not in self.topology.functions:
            return  # its watcher left: nobody listens any more
        try:
            if watched is not None:
                watched[1](envelope)
            else:
                self._deliver(
                    delivery.function,
                    envelope.data,
                    envelope.attributes,
                    envelope.published_at,
                    delivery.attempt,
                    topic=envelope.topic,
                )
        except Exception as error:
            self._retry_or_dead_letter(delivery, error)

    def _retry_or_dead_letter(self, delivery: _Delivery, error: Exception) -> None:
        limit = self.topology.retry.max_delivery_attempts
        fields = log_fields(function=delivery.function, attempt=delivery.attempt, error=repr(error))
        if delivery.attempt < limit:
            log.warning("delivery failed; will redeliver", extra=fields)
            with self._lock:
                self._queue.append(
                    _Delivery(delivery.function, delivery.envelope, delivery.attempt + 1)
                )
            return
        envelope = delivery.envelope
        if envelope.topic.endswith(self.topology.dead_letter_topic("")):
            # Pub/Sub retries these until they expire (no dead letter of a dead letter).
            log.error("delivery of a dead letter failed %d times; dropped", limit, extra=fields)
            return
        log.error("delivery failed %d times; dead-lettering", limit, extra=fields)
        self.publish(
            self.topology.dead_letter_topic(envelope.topic),
            envelope.data,
            {
                **envelope.attributes,
                "reason": "max_delivery_attempts",
                "detail": repr(error),
                "function": delivery.function,
            },
        )
