"""The push relay: Pub/Sub emulator -> functions-framework, delivering as Pub/Sub does.

Why it exists: the official Pub/Sub emulator (0.8.x) cannot dead-letter from a
subscription with message ordering enabled (its ordered push loop throws a
NullPointerException at max delivery attempts and stops pushing for good), and it
redelivers a nacked message about once a second whatever the retry policy says.
Production subscriptions have ordering, a retry policy and a dead-letter policy, so
locally the emulator does the ordering and this relay, in front of every function, does
the rest per message:

- backoff: after the n-th failed delivery, no copy is forwarded (nor counted) until the
  policy's backoff has passed (RetryPolicy.backoff_seconds); earlier copies are nacked;
- attempts: each forwarded delivery carries `deliveryAttempt` in the push body, as
  Pub/Sub adds it when a dead-letter policy is set;
- dead letters: when the last attempt fails, the message goes to the dead-letter topic
  once, with the attributes Pub/Sub adds plus `reason`, `detail` (the last failure seen)
  and `function`, and every copy is acknowledged, which also unblocks its ordering key.
  (The manager's subscriptions to dead-letter topics have none: they retry for good.)
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stratus.topology import RetryPolicy

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, Mapping[str, str]], None]

NOT_YET = 429  # an early redelivery: a nack that is not an attempt
# A dead-lettered message is remembered this long, so late copies are acknowledged.
FORGET_DEAD_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class Route:
    """Where pushes for one function (or the manager) go, and where its dead letters go."""

    function: str
    port: int  # the function's functions-framework server (or the manager)
    subscription: str  # may name "{topic}": the topic the push path ends with
    dead_letter_topic: str  # "": that topic + "-dead-letter"
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. the manager's bearer
    path: str = "/projects/{project}/topics/{topic}"  # what the pushed-to server serves


@dataclass
class _Delivery:
    """What the relay knows of one message on one subscription."""

    attempts: int = 0  # deliveries forwarded to the function
    retry_at: float = 0.0  # monotonic time before which a copy is not an attempt
    dead_at: float | None = None  # when it was dead-lettered


class PushRelay:
    def __init__(
        self,
        port: int,
        project: str,
        routes: Mapping[str, Route],
        retry: RetryPolicy,
        publish: Publish,
        timeout_seconds: float = 120.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.project = project
        self.routes = dict(routes)
        self.retry = retry
        self.timeout = timeout_seconds
        self._publish = publish
        self._now = monotonic
        self._deliveries: dict[tuple[str, str], _Delivery] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for serve_forever to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="push-relay"
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def endpoint(self, function: str, topic: str) -> str:
        """The push endpoint for `function`; the path names the topic, as in production."""
        path = self.routes[function].path.format(project=self.project, topic=topic)
        return f"http://127.0.0.1:{self.port}/{function}{path}"

    def start(self) -> PushRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def deliver(self, path: str, headers: Mapping[str, str], body: bytes) -> int:
        """Forward one push; the status returned to the emulator (2xx acks)."""
        function, _, rest = path.lstrip("/").partition("/")
        route = self.routes.get(function)
        if route is None:
            return 404
        topic = rest.rstrip("/").rpartition("/")[2]  # the push path ends with the topic
        subscription = route.subscription.format(topic=topic)
        try:
            push = json.loads(body)
            message = push["message"]
            key = (subscription, str(message["messageId"]))
        except (ValueError, TypeError, KeyError):
            return 400  # not a Pub/Sub push
        with self._lock:
            delivery = self._deliveries.setdefault(key, _Delivery())
            if delivery.dead_at is not None:
                return 204  # dead-lettered already: acknowledge every later copy
            if self._now() < delivery.retry_at:
                return NOT_YET  # the emulator ignores the backoff; Pub/Sub would wait
            delivery.attempts += 1
            attempt = delivery.attempts
        forwarded = json.dumps({**push, "deliveryAttempt": attempt}).encode()
        status, failure = self._forward(route, "/" + rest, headers, forwarded)
        if 200 <= status < 300:
            with self._lock:
                self._deliveries.pop(key, None)
            return status
        return self._failed(route, key, topic, message, attempt, failure, status)

    def _failed(
        self,
        route: Route,
        key: tuple[str, str],
        topic: str,
        message: Mapping[str, Any],
        attempt: int,
        failure: str,
        status: int,
    ) -> int:
        """A nack with the next attempt's earliest time, or the message's dead letter."""
        subscription = key[0]
        dead_letter_topic = route.dead_letter_topic or _dead_letter_of(topic)
        with self._lock:
            delivery = self._deliveries.get(key)
            if delivery is None:
                return status  # a concurrent copy succeeded: it is acknowledged already
            if delivery.dead_at is not None:
                return 204  # a concurrent copy dead-lettered it
            if attempt < self.retry.max_delivery_attempts or not dead_letter_topic:
                wait = self.retry.backoff_seconds(attempt)
                delivery.retry_at = self._now() + wait
                log.warning(
                    "delivery %d of message %s to %s failed (%s); next attempt in %.0f s",
                    attempt,
                    key[1],
                    route.function,
                    failure,
                    wait,
                )
                return status
            delivery.dead_at = self._now()
        try:
            self._dead_letter(route, subscription, dead_letter_topic, message, attempt, failure)
        except Exception:
            log.exception("could not dead-letter message %s; it stays unacknowledged", key[1])
            with self._lock:
                delivery.dead_at = None
            return 503
        self._forget_old_dead_letters()
        return 204

    def _forward(
        self, route: Route, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str]:
        """The function's status and, for a failure, what went wrong."""
        connection = http.client.HTTPConnection("127.0.0.1", route.port, timeout=self.timeout)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "ce-id")}
            keep.update(route.headers)
            connection.request("POST", path, body=body, headers=keep)
            status = connection.getresponse().status
            return status, f"{route.function} answered HTTP {status}"
        except OSError as error:  # the function is down: a failed delivery, as in Pub/Sub
            return 503, f"{route.function} unreachable: {error}"
        finally:
            connection.close()

    def _dead_letter(
        self,
        route: Route,
        subscription: str,
        topic: str,
        message: Mapping[str, Any],
        attempts: int,
        failure: str,
    ) -> None:
        attributes = {
            **(message.get("attributes") or {}),
            "CloudPubSubDeadLetterSourceDeliveryCount": str(attempts),
            "CloudPubSubDeadLetterSourceSubscription": subscription,
            "CloudPubSubDeadLetterSourceSubscriptionProject": self.project,
            "CloudPubSubDeadLetterSourceTopicPublishTime": str(message.get("publishTime", "")),
            "reason": "max_delivery_attempts",
            "detail": f"{attempts} deliveries failed; the last: {failure}",
            "function": route.function,
        }
        data = base64.b64decode(message.get("data") or b"")
        log.warning(
            "dead-lettering message %s of %s after %d attempts; the last: %s",
            message.get("messageId"),
            subscription,
            attempts,
            failure,
        )
        self._publish(topic, data, attributes)

    def _forget_old_dead_letters(self) -> None:
        horizon = self._now() - FORGET_DEAD_AFTER_SECONDS
        with self._lock:
            old = [
                key
                for key, delivery in self._deliveries.items()
                if delivery.dead_at is not None and delivery.dead_at < horizon
            ]
            for key in old:
                del self._deliveries[key]


def _dead_letter_of(topic: str) -> str:
    """Where the manager's failures on `topic` go; a dead letter's own failures retry."""
    return "" if topic.endswith("-dead-letter") else f"{topic}-dead-letter"


def _handler(relay: PushRelay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = relay.deliver(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per push would drown the stack's output

    return Handler
