"""The push relay delivers as Pub/Sub does: the retry policy's backoff between attempts
(whatever the emulator redelivers meanwhile), deliveryAttempt in the push body, and one
dead letter with its reason after the last attempt."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from stratus.local.processes import free_port
from stratus.local.relay import NOT_YET, PushRelay, Route
from stratus.topology import topology

RETRY = topology().retry  # 10 s doubling up to 600 s, 5 attempts
PATH = "/execute_order/projects/p/topics/orders"


@dataclass
class Function:
    """A functions-framework stand-in: answers `status`, records each push body; a
    copy waits for `release` while `hold` is set."""

    status: int = 500
    bodies: list[dict[str, Any]] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def attempts(self) -> list[int]:
        return [body["deliveryAttempt"] for body in self.bodies]


@pytest.fixture
def function() -> Iterator[tuple[Function, int]]:
    fake = Function()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            if fake.hold.is_set():
                fake.release.wait(10)
            self.send_response(fake.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake, int(server.server_address[1])
    server.shutdown()
    server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Letters:
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    failing: bool = False

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        if self.failing:
            raise ConnectionError("Pub/Sub unavailable")
        self.sent.append((topic, data, dict(attributes)))


@dataclass
class Rig:
    """A relay in front of the fake function, on a clock the test moves."""

    function: Function
    clock: Clock
    letters: Letters
    relay: PushRelay

    def deliver(self, body: bytes | None = None, path: str = PATH) -> int:
        return self.relay.deliver(path, {}, push() if body is None else body)

    def fail_until_the_last_attempt(self) -> list[int]:
        """Deliver each attempt but the last, waiting out the backoff in between."""
        statuses = []
        for _ in range(RETRY.max_delivery_attempts - 1):
            statuses.append(self.deliver())
            self.clock.now += RETRY.maximum_backoff_seconds
        return statuses


@pytest.fixture
def rig(function: tuple[Function, int]) -> Iterator[Rig]:
    fake, port = function
    clock, letters = Clock(), Letters()
    with relay_to(port, clock, letters) as relay:
        yield Rig(fake, clock, letters, relay)


@contextmanager
def relay_to(port: int, clock: Clock, letters: Letters) -> Iterator[PushRelay]:
    route = Route("execute_order", port, "orders-to-execute-order", "orders-dead-letter")
    relay = PushRelay(0, "p", {"execute_order": route}, RETRY, letters.publish, 5, clock)
    yield relay.start()
    relay.stop()


def push(message_id: str = "m-1") -> bytes:
    message = {
        "data": base64.b64encode(b'{"quantity": "1"}').decode(),
        "attributes": {"trace_id": "t-1"},
        "messageId": message_id,
        "publishTime": "2026-01-05T10:00:00Z",
    }
    return json.dumps({"message": message, "subscription": "projects/p/subscriptions/s"}).encode()


def test_copies_before_the_backoff_are_nacked_without_counting_as_attempts(rig: Rig) -> None:
    statuses: dict[float, int] = {}
    start = rig.clock.now
    # The emulator pushes a nacked message about once a second, whatever the policy says.
    for second in range(0, 151):
        rig.clock.now = start + second
        statuses[second] = rig.deliver()

    # Attempts after 0, 10, 20, 40 and 80 s of backoff: at 0, 10, 30, 70 and 150 s.
    forwarded = [s for s, status in statuses.items() if status != NOT_YET]
    assert forwarded == [0, 10, 30, 70, 150]
    assert rig.function.attempts() == [1, 2, 3, 4, 5]
    assert statuses[150] == 204  # dead-lettered: acknowledged
    [(topic, data, attributes)] = rig.letters.sent
    assert topic == "orders-dead-letter"
    assert data == b'{"quantity": "1"}'
    assert attributes["reason"] == "max_delivery_attempts"
    assert attributes["detail"] == "5 deliveries failed; the last: execute_order answered HTTP 500"
    assert attributes["function"] == "execute_order"
    assert attributes["trace_id"] == "t-1"
    assert attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert attributes["CloudPubSubDeadLetterSourceSubscription"] == "orders-to-execute-order"


def test_the_function_gets_the_push_body_with_its_delivery_attempt(rig: Rig) -> None:
    rig.function.status = 204

    assert rig.relay.deliver(PATH, {"Content-Type": "application/json"}, push()) == 204

    [body] = rig.function.bodies
    assert body == {**json.loads(push()), "deliveryAttempt": 1}


def test_a_message_is_dead_lettered_once_whatever_copies_follow(rig: Rig) -> None:
    rig.fail_until_the_last_attempt()
    # Two copies of the last attempt in flight at once (an ack deadline ran out).
    rig.function.hold.set()
    copies = [threading.Thread(target=rig.deliver) for _ in "ab"]
    for copy in copies:
        copy.start()
    while len(rig.function.bodies) < RETRY.max_delivery_attempts + 1:
        threading.Event().wait(0.01)
    rig.function.release.set()
    for copy in copies:
        copy.join()
    later = [rig.deliver() for _ in range(3)]

    assert len(rig.letters.sent) == 1
    assert later == [204, 204, 204]
    assert len(rig.function.bodies) == RETRY.max_delivery_attempts + 1  # no later copy


def test_a_function_that_is_down_is_a_failed_delivery_named_in_the_dead_letter() -> None:
    clock, letters = Clock(), Letters()
    with relay_to(free_port(), clock, letters) as relay:  # nothing listens there
        for _ in range(RETRY.max_delivery_attempts):
            relay.deliver(PATH, {}, push())
            clock.now += RETRY.maximum_backoff_seconds

    [(_, _, attributes)] = letters.sent
    assert "execute_order unreachable" in attributes["detail"]
    assert "Connection refused" in attributes["detail"]


def test_a_dead_letter_that_cannot_be_published_leaves_the_message_unacknowledged(
    rig: Rig,
) -> None:
    rig.letters.failing = True
    rig.fail_until_the_last_attempt()
    assert rig.deliver() == 503  # the last attempt: not acknowledged, the emulator keeps it

    rig.letters.failing = False
    assert rig.deliver() == 204
    assert len(rig.letters.sent) == 1


def test_other_messages_and_a_success_reset_nothing_they_should_not(rig: Rig) -> None:
    rig.deliver(push("m-1"))
    assert rig.deliver(push("m-2")) == 500  # its own count: forwarded at once
    rig.function.status = 204
    rig.clock.now += RETRY.minimum_backoff_seconds
    assert rig.deliver(push("m-1")) == 204
    assert rig.function.attempts() == [1, 1, 2]
    assert rig.deliver(path="/nobody/projects/p/topics/orders") == 404
    assert rig.deliver(b"not json") == 400
