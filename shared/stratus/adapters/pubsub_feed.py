"""This process' own Pub/Sub subscriptions: every message of some topics, to every instance.

A push or a shared pull subscription gives each message to one instance; the console's
streams need every message on every manager instance that has a console open. So each
instance, while someone watches, creates one subscription per topic named after itself,
streams from it, and deletes it when the last watcher leaves. An instance that dies
without deleting them leaves subscriptions that Pub/Sub expires after a day unused; they
keep at most ten minutes of messages meanwhile. Honours PUBSUB_EMULATOR_HOST by itself.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from stratus.observability import log_fields
from stratus.ports import Envelope, Watcher

log = logging.getLogger(__name__)

PREFIX = "console"  # IAM lets the manager create and delete subscriptions named console-*
EXPIRE_UNUSED_SECONDS = 86_400  # Pub/Sub's shortest expiration
RETAIN_SECONDS = 600  # Pub/Sub's shortest retention: a live view needs no backlog
ACK_DEADLINE_SECONDS = 10


def subscription_id(instance: str, name: str, topic: str) -> str:
    return f"{PREFIX}-{instance}-{name}-{topic}"


class PubSubFeed:
    def __init__(self, project: str, instance: str | None = None) -> None:
        self._project = project
        self.instance = instance or uuid.uuid4().hex[:12]
        self._client: Any = None
        self._streams: dict[str, list[tuple[str, Any]]] = {}  # name -> (path, future)
        self._lock = threading.Lock()

    def _subscriber(self) -> Any:
        if self._client is None:
            from google.cloud.pubsub_v1 import SubscriberClient

            self._client = SubscriberClient()
        return self._client

    def watch(self, name: str, topics: Iterable[str], watcher: Watcher) -> None:
        from google.cloud.pubsub_v1.types import FlowControl

        subscriber = self._subscriber()
        self.unwatch(name)
        streams = []
        try:
            for topic in topics:
                path = subscriber.subscription_path(
                    self._project, subscription_id(self.instance, name, topic)
                )
                subscriber.create_subscription(
                    request={
                        "name": path,
                        "topic": subscriber.topic_path(self._project, topic),
                        "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
                        "message_retention_duration": {"seconds": RETAIN_SECONDS},
                        "expiration_policy": {"ttl": {"seconds": EXPIRE_UNUSED_SECONDS}},
                    }
                )
                future = subscriber.subscribe(
                    path,
                    callback=_receiver(topic, watcher),
                    flow_control=FlowControl(max_messages=1000),
                )
                streams.append((path, future))
        finally:
            with self._lock:
                self._streams[name] = streams  # what was created is deleted by unwatch
        log.info("watching topics", extra=log_fields(name=name, subscriptions=len(streams)))

    def unwatch(self, name: str) -> None:
        with self._lock:
            streams = self._streams.pop(name, [])
        for path, future in streams:
            future.cancel()
            with contextlib.suppress(Exception):  # a cancelled stream reports how it ended
                future.result(timeout=10)
            try:
                self._subscriber().delete_subscription(request={"subscription": path})
            except Exception as error:  # it expires by itself within a day
                log.warning("could not delete %s: %s", path, error)


def _receiver(topic: str, watcher: Watcher) -> Any:
    def receive(message: Any) -> None:
        envelope = Envelope(
            message_id=message.message_id,
            topic=topic,
            data=message.data,
            attributes=dict(message.attributes),
            published_at=message.publish_time,
        )
        try:
            watcher(envelope)
        finally:
            message.ack()  # a live view does not want a redelivery later

    return receive
