"""Fault injection for the pipeline: a bus that delivers each message one to three times,
some copies at the same moment in threads, and a venue that crashes or times out after
the exchange booked an order. faults.py kills instances between durable steps;
invariants.py says whether the run kept Stratus's promises."""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.venues import PaperVenues
from stratus.domain.accounts import AssetBalance
from stratus.domain.errors import ExchangeUnavailable
from stratus.domain.market import Market, Quote
from stratus.domain.orders import ExchangeOrder, OrderRequest
from stratus.ports import Envelope, Venue, VenueOrder, VenuePosition
from stratus.service.services import Services
from stratus.topology import topology

Deliver = Callable[..., None]  # dispatch.deliver with its services bound


class Crash(BaseException):
    """The function instance died: no code of it runs after this (not even a give-up, so
    not an Exception). Pub/Sub redelivers the message, unless `redelivered` is False:
    the instance died on the last attempt, and Pub/Sub forwards the message to the
    dead-letter topic itself, without a reason."""

    def __init__(self, what: str, redelivered: bool = True) -> None:
        super().__init__(what)
        self.redelivered = redelivered


@dataclass
class ChaosBus:
    """Pub/Sub at its worst: every delivery is made 1-3 times (`copies`), copies of one
    delivery run concurrently with probability `concurrent_rate`; a delivery that raises
    is delivered again after the topology's backoff (the clock moves on), with the attempt
    number Pub/Sub passes, up to its max attempts; then, or after a Crash that is not
    redelivered, the message is forwarded to the dead-letter topic without a reason."""

    clock: ManualClock
    seed: int = 7
    concurrent_rate: float = 0.5
    copies: tuple[int, ...] = (1, 2, 3)
    history: dict[str, list[Envelope]] = field(default_factory=lambda: defaultdict(list))
    deliveries: int = 0
    _queue: deque[tuple[str, Envelope, int]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _deliver: Deliver | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def attach(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        with self._lock:
            envelope = Envelope(
                str(sum(map(len, self.history.values()))), topic, data, dict(attributes),
                self.clock.now(),
            )  # fmt: skip
            self.history[topic].append(envelope)
            for function in topology().subscribers(topic):
                self._queue.append((function, envelope, 1))

    def ping(self) -> None:
        pass

    def messages(self, topic: str) -> list[Envelope]:
        with self._lock:
            return list(self.history.get(topic, []))

    def drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                function, envelope, attempt = self._queue.popleft()
            copies = self._random.choice(self.copies)
            if copies > 1 and self._random.random() < self.concurrent_rate:
                barrier = threading.Barrier(copies)
                threads = [
                    threading.Thread(target=self._run, args=(function, envelope, attempt, barrier))
                    for _ in range(copies)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            else:
                for _ in range(copies):
                    self._run(function, envelope, attempt, None)

    def _run(
        self, function: str, envelope: Envelope, attempt: int, barrier: threading.Barrier | None
    ) -> None:
        assert self._deliver is not None
        if barrier is not None:
            barrier.wait()  # the copies start together
        with self._lock:
            self.deliveries += 1
        try:
            self._deliver(
                function, envelope.data, envelope.attributes, envelope.published_at, attempt,
                topic=envelope.topic,
            )  # fmt: skip
        except (Exception, Crash) as error:
            retry = topology().retry
            if attempt >= retry.max_delivery_attempts or not getattr(error, "redelivered", True):
                self.forward(envelope, attempt)
                return
            backoff = min(
                retry.maximum_backoff_seconds, retry.minimum_backoff_seconds * 2 ** (attempt - 1)
            )
            with self._lock:
                self.clock.advance(timedelta(seconds=backoff))
                self._queue.append((function, envelope, attempt + 1))

    def forward(self, envelope: Envelope, attempts: int) -> None:
        """What Pub/Sub does with a message no attempt acknowledged: no reason attached."""
        self.publish(
            topology().dead_letter_topic(envelope.topic), envelope.data,
            {**envelope.attributes, "CloudPubSubDeadLetterSourceDeliveryCount": str(attempts)},
        )  # fmt: skip


@dataclass
class FaultyVenue:
    """A paper venue (calls serialized: the paper exchange is single-threaded) that can
    fail right after the exchange booked an order, once per clientOrderId."""

    inner: Venue
    crash_after_booking: set[str] = field(default_factory=set)
    timeout_after_booking: set[str] = field(default_factory=set)
    sent: list[str] = field(default_factory=list)  # every create call that reached it
    placed: list[str] = field(default_factory=list)  # those the exchange accepted
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def conditional_orders(self) -> bool:
        return self.inner.conditional_orders

    def market(self, symbol: str) -> Market:
        with self.lock:
            return self.inner.market(symbol)

    def quote(self, symbol: str) -> Quote:
        with self.lock:
            return self.inner.quote(symbol)

    def ping(self) -> None:
        self.inner.ping()

    def place(self, request: OrderRequest) -> ExchangeOrder:
        coid = request.client_order_id
        with self.lock:
            self.sent.append(coid)
            order = self.inner.place(request)
            self.placed.append(coid)
        if coid in self.crash_after_booking:
            self.crash_after_booking.discard(coid)
            raise Crash(f"died after the exchange booked {coid}")
        if coid in self.timeout_after_booking:
            self.timeout_after_booking.discard(coid)
            raise ExchangeUnavailable(f"read timeout placing {coid}")
        return order

    def lookup(self, client_order_id: str, symbol: str) -> ExchangeOrder | None:
        with self.lock:
            return self.inner.lookup(client_order_id, symbol)

    def cancel(self, exchange_order_id: str, symbol: str) -> None:
        with self.lock:
            self.inner.cancel(exchange_order_id, symbol)

    def equity(self) -> Decimal:
        with self.lock:
            return self.inner.equity()

    def open_orders(self) -> list[VenueOrder]:
        with self.lock:
            return self.inner.open_orders()

    def positions(self) -> list[VenuePosition]:
        with self.lock:
            return self.inner.positions()

    def balances(self) -> dict[str, Decimal]:
        with self.lock:
            return self.inner.balances()

    def wallet(self) -> list[AssetBalance]:
        with self.lock:
            return self.inner.wallet()


class FaultyVenues:
    def __init__(self, clock: ManualClock, feed: PriceFeed) -> None:
        self.paper = PaperVenues(clock, feed)
        self.venues: dict[str, FaultyVenue] = {}
        self._lock = threading.Lock()

    def for_account(self, account: str) -> FaultyVenue:
        with self._lock:
            if account not in self.venues:
                self.venues[account] = FaultyVenue(self.paper.for_account(account))
            return self.venues[account]

    def accounts(self) -> list[str]:
        return sorted(self.venues)


@dataclass
class Stack:
    services: Services
    bus: ChaosBus
    venues: FaultyVenues
    clock: ManualClock

    def signal(self, signal_id: str, **fields: object) -> None:
        """Publish a signal as ingest_signal would, and let the bus settle."""
        record = {
            "signal_id": signal_id, "source": "test", "account": "acct",
            "strategy": "st", "symbol": "BTC/USDT:USDT", "action": "buy",
            "confidence": 1.0, "created_at": self.clock.now().isoformat(), **fields,
        }  # fmt: skip
        self.bus.publish("signals", json.dumps(record).encode(), {"trace_id": signal_id})
        self.bus.drain()

    def venue(self) -> FaultyVenue:
        return self.venues.for_account("acct")
