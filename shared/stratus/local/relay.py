"""The push relay: Pub/Sub emulator -> functions-framework, enforcing dead-lettering.

Why it exists: the official Pub/Sub emulator (0.8.x) cannot dead-letter from a
subscription with message ordering enabled. Its ordered push loop throws a
NullPointerException when a message reaches max delivery attempts and stops pushing for
good. Production subscriptions have both ordering and a dead-letter policy, so locally
the emulator does the ordering, retry and backoff, and this relay (in front of each
function) counts failed deliveries per message and, at the topology's max delivery
attempts, forwards the message to the dead-letter topic with the attributes Pub/Sub
adds, then acknowledges it. Everything else passes through untouched.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, Mapping[str, str]], None]


@dataclass(frozen=True)
class Route:
    """Where pushes for one function (or the manager) go, and where its dead letters go."""

    function: str
    port: int  # the function's functions-framework server (or the manager)
    subscription: str  # may name "{topic}": the topic the push path ends with
    dead_letter_topic: str  # "": that topic + "-dead-letter"
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. the manager's bearer
    path: str = "/projects/{project}/topics/{topic}"  # what the pushed-to server serves


class PushRelay:
    def __init__(
        self,
        port: int,
        project: str,
        routes: Mapping[str, Route],
        max_attempts: int,
        publish: Publish,
        timeout_seconds: float = 120.0,
    ) -> None:
        self.project = project
        self.routes = dict(routes)
        self.max_attempts = max_attempts
        self.timeout = timeout_seconds
        self._publish = publish
        self._failures: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="push-relay")

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
        status = self._forward(route, "/" + rest, headers, body)
        if 200 <= status < 300:
            return status
        message = json.loads(body or b"{}").get("message") or {}
        key = (function, str(message.get("messageId")))
        with self._lock:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
        topic = path.rstrip("/").rpartition("/")[2]
        dead_letter_topic = route.dead_letter_topic or _dead_letter_of(topic)
        if failures < self.max_attempts or not dead_letter_topic:
            return status  # a nack: the emulator redelivers after its backoff
        subscription = route.subscription.format(topic=topic)
        self._dead_letter(subscription, dead_letter_topic, message, failures)
        with self._lock:
            self._failures.pop(key, None)
        return 204

    def _forward(self, route: Route, path: str, headers: Mapping[str, str], body: bytes) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", route.port, timeout=self.timeout)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "ce-id")}
            keep.update(route.headers)
            connection.request("POST", path, body=body, headers=keep)
            return connection.getresponse().status
        except OSError as error:  # the function is down: a failed delivery, as in Pub/Sub
            log.warning("push to %s failed: %s", route.function, error)
            return 503
        finally:
            connection.close()

    def _dead_letter(
        self, subscription: str, topic: str, message: Mapping[str, Any], attempts: int
    ) -> None:
        attributes = {
            **(message.get("attributes") or {}),
            "CloudPubSubDeadLetterSourceDeliveryCount": str(attempts),
            "CloudPubSubDeadLetterSourceSubscription": subscription,
            "CloudPubSubDeadLetterSourceSubscriptionProject": self.project,
            "CloudPubSubDeadLetterSourceTopicPublishTime": str(message.get("publishTime", "")),
        }
        data = base64.b64decode(message.get("data") or b"")
        log.warning(
            "dead-lettering message %s of %s after %d attempts",
            message.get("messageId"),
            subscription,
            attempts,
        )
        self._publish(topic, data, attributes)


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
