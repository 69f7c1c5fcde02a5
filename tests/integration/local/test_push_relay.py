"""The push relay delivers as Pub/Sub does: the retry policy's backoff between attempts
(whatever the emulator redelivers meanwhile), deliveryAttempt in the push body, and one
dead letter with its reason after the last attempt."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
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


@pytest.fixture
def relays() -> Iterator[list[PushRelay]]:
    made: list[PushRelay] = []
    yield made
    for relay in made:
        relay.stop()


def relay_to(port: int, clock: Clock, letters: Letters, relays: list[PushRelay]) -> PushRelay:
    route = Route("execute_order", port, "orders-to-execute-order", "orders-dead-letter")
    relay = PushRelay(0, "p", {"execute_order": route}, RETRY, letters.publish, 5, clock)
    relays.append(relay.start())
    return relay


def push(message_id: str = "m-1") -> bytes:
    message = {
        "data": base64.b64encode(b'{"quantity": "1"}').decode(),
        "attributes": {"trace_id": "t-1"},
        "messageId": message_id,
        "publishTime": "2026-01-05T10:00:00Z",
    }
    return json.dumps({"message": message, "subscription": "projects/p/subscriptions/s"}).encode()


def test_copies_before_the_backoff_are_nacked_without_counting_as_attempts(
    function: tuple[Function, int],
    relays: list[PushRelay],
) -> None:
    fake, port = function
    clock, letters = Clock(), Letters()
    relay = relay_to(port, clock, letters, relays)
    statuses: dict[float, int] = {}
    start = clock.now
    # The emulator pushes a nacked message about once a second, whatever the policy says.
    for second in range(0, 151):
        clock.now = start + second
        statuses[second] = relay.deliver(PATH, {}, push())

    # Attempts after 0, 10, 20, 40 and 80 s of backoff: at 0, 10, 30, 70 and 150 s.
    forwarded = [s for s, status in statuses.items() if status != NOT_YET]
    assert forwarded == [0, 10, 30, 70, 150]
    assert fake.attempts() == [1, 2, 3, 4, 5]
    assert statuses[150] == 204  # dead-lettered: acknowledged
    [(topic, data, attributes)] = letters.sent
    assert topic == "orders-dead-letter"
    assert data == b'{"quantity": "1"}'
    assert attributes["reason"] == "max_delivery_attempts"
    assert attributes["detail"] == "5 deliveries failed; the last: execute_order answered HTTP 500"
    assert attributes["function"] == "execute_order"
    assert attributes["trace_id"] == "t-1"
    assert attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert attributes["CloudPubSubDeadLetterSourceSubscription"] == "orders-to-execute-order"


def test_the_function_gets_the_push_body_with_its_delivery_attempt(
    function: tuple[Function, int],
    relays: list[PushRelay],
) -> None:
    fake, port = function
    fake.status = 204
    relay = relay_to(port, Clock(), Letters(), relays)

    assert relay.deliver(PATH, {"Content-Type": "application/json"}, push()) == 204

    [body] = fake.bodies
    assert body == {**json.loads(push()), "deliveryAttempt": 1}


def test_a_message_is_dead_lettered_once_whatever_copies_follow(
    function: tuple[Function, int],
    relays: list[PushRelay],
) -> None:
    fake, port = function
    clock, letters = Clock(), Letters()
    relay = relay_to(port, clock, letters, relays)
    for _ in range(RETRY.max_delivery_attempts - 1):
        relay.deliver(PATH, {}, push())
        clock.now += RETRY.maximum_backoff_seconds
    # Two copies of the last attempt in flight at once (an ack deadline ran out).
    fake.hold.set()
    copies = [threading.Thread(target=relay.deliver, args=(PATH, {}, push())) for _ in "ab"]
    for copy in copies:
        copy.start()
    while len(fake.bodies) < RETRY.max_delivery_attempts + 1:
        threading.Event().wait(0.01)
    fake.release.set()
    for copy in copies:
        copy.join()
    later = [relay.deliver(PATH, {}, push()) for _ in range(3)]

    assert len(letters.sent) == 1
    assert later == [204, 204, 204]
    assert len(fake.bodies) == RETRY.max_delivery_attempts + 1  # later copies never forwarded


def test_a_function_that_is_down_is_a_failed_delivery_named_in_the_dead_letter(
    relays: list[PushRelay],
) -> None:
    clock, letters = Clock(), Letters()
    relay = relay_to(free_port(), clock, letters, relays)  # nothing listens there
    for _ in range(RETRY.max_delivery_attempts):
        relay.deliver(PATH, {}, push())
        clock.now += RETRY.maximum_backoff_seconds

    [(_, _, attributes)] = letters.sent
    assert "execute_order unreachable" in attributes["detail"]
    assert "Connection refused" in attributes["detail"]


def test_a_dead_letter_that_cannot_be_published_leaves_the_message_unacknowledged(
    function: tuple[Function, int],
    relays: list[PushRelay],
) -> None:
    _, port = function
    clock, letters = Clock(), Letters(failing=True)
    relay = relay_to(port, clock, letters, relays)
    statuses = []
    for _ in range(RETRY.max_delivery_attempts):
        statuses.append(relay.deliver(PATH, {}, push()))
        clock.now += RETRY.maximum_backoff_seconds
    assert statuses[-1] == 503  # not acknowledged: the emulator keeps it

    letters.failing = False
    assert relay.deliver(PATH, {}, push()) == 204
    assert len(letters.sent) == 1


def test_other_messages_and_a_success_reset_nothing_they_should_not(
    function: tuple[Function, int],
    relays: list[PushRelay],
) -> None:
    fake, port = function
    clock, letters = Clock(), Letters()
    relay = relay_to(port, clock, letters, relays)
    relay.deliver(PATH, {}, push("m-1"))
    assert relay.deliver(PATH, {}, push("m-2")) == 500  # its own count: forwarded at once
    fake.status = 204
    clock.now += RETRY.minimum_backoff_seconds
    assert relay.deliver(PATH, {}, push("m-1")) == 204
    assert fake.attempts() == [1, 1, 2]
    assert relay.deliver("/nobody/projects/p/topics/orders", {}, push()) == 404
    assert relay.deliver(PATH, {}, b"not json") == 400
