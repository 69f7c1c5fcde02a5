"""The embedded bus redelivers on failure, dead-letters after max attempts, duplicates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.ports import Envelope
from stratus.topology import topology


def make_bus(failures: int, duplicate_rate: float = 0.0) -> tuple[LocalBus, list[str]]:
    calls: list[str] = []
    bus = LocalBus(topology(), ManualClock(datetime(2026, 1, 5, tzinfo=UTC)), duplicate_rate)

    def deliver(
        function: str,
        data: bytes,
        attributes: Mapping[str, str],
        published_at: datetime,
        attempt: int,
        topic: str,
    ) -> None:
        if function == "notify":
            return  # it hears every dead letter; these tests follow on_signal's deliveries
        calls.append(str(attempt))
        if len(calls) <= failures:
            raise RuntimeError("boom")

    bus.attach(deliver)
    return bus, calls


def test_failures_are_redelivered_then_succeed() -> None:
    bus, calls = make_bus(failures=2)
    bus.publish("signals", b"{}", {"trace_id": "t"})
    bus.drain()
    assert calls == ["1", "2", "3"]
    assert bus.messages("signals-dead-letter") == []


def test_a_message_that_always_fails_is_dead_lettered_with_the_reason() -> None:
    bus, calls = make_bus(failures=10**6)
    bus.publish("signals", b"{}", {"trace_id": "t"})
    bus.drain()
    assert len(calls) == topology().retry.max_delivery_attempts
    [dead] = bus.messages("signals-dead-letter")
    assert dead.data == b"{}"
    assert dead.attributes["reason"] == "max_delivery_attempts"
    assert "boom" in dead.attributes["detail"]
    assert dead.attributes["trace_id"] == "t"


def test_duplicate_rate_delivers_copies() -> None:
    bus, calls = make_bus(failures=0, duplicate_rate=1.0)
    bus.publish("signals", b"{}", {})
    bus.drain()
    assert len(calls) == 2


def test_topics_without_subscribers_are_retained_only() -> None:
    bus, calls = make_bus(failures=0)
    bus.publish("position-updates", b"{}", {})
    assert bus.drain() == 0
    assert len(bus.messages("position-updates")) == 1
    assert calls == []


def test_a_watcher_gets_its_topics_is_retried_and_can_leave() -> None:
    bus, _ = make_bus(failures=0)
    seen: list[str] = []

    def watcher(envelope: Envelope) -> None:
        seen.append(envelope.topic)
        if len(seen) == 1:
            raise RuntimeError("database away")

    bus.watch("manager", ["signals", "executions"], watcher)
    bus.publish("signals", b"{}", {})
    bus.publish("orders", b"{}", {})
    bus.drain()
    assert seen == ["signals", "signals"]  # redelivered once; orders is not watched
    bus.publish("executions", b"{}", {})
    bus.unwatch("manager")
    bus.drain()
    assert seen == ["signals", "signals"]  # queued for a watcher that left: dropped
