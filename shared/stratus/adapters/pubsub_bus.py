"""Google Pub/Sub publisher. Honours PUBSUB_EMULATOR_HOST by itself (no flags here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stratus.topology import DEFAULT_ORDERING, topology


def ordering_key(topic: str, data: bytes) -> str:
    """The Pub/Sub ordering key: the topic's `ordered_by` fields of the message, joined;
    messages of one key are delivered one at a time, in publish order. Dead-letter topics
    are not in the topology: they keep the default."""
    declared = topology().topics.get(topic)
    fields = declared.ordered_by if declared is not None else DEFAULT_ORDERING
    try:
        record = json.loads(data)  # messages travel as Avro's JSON encoding
    except ValueError:
        return ""
    if not isinstance(record, dict):
        return ""
    values = [record.get(field) for field in fields]
    if all(isinstance(value, str) and value for value in values):
        return "|".join(str(value) for value in values)
    return ""


class PubSubBus:
    """Publishes and waits for the server's acknowledgement (so "returned" means "stored").

    The client is created on first use and reused across invocations of a warm instance.
    Messages carry the ordering key of their topic (see `ordering_key`); subscriptions
    enable ordering.
    """

    def __init__(self, project: str, timeout_seconds: float = 30.0) -> None:
        self._project = project
        self._timeout = timeout_seconds
        self._client: Any = None

    def _publisher(self) -> Any:
        if self._client is None:
            from google.cloud.pubsub_v1 import PublisherClient
            from google.cloud.pubsub_v1.types import PublisherOptions

            options = PublisherOptions(enable_message_ordering=True)
            self._client = PublisherClient(publisher_options=options)
        return self._client

    def ping(self) -> None:
        """Ask for the first topic the manager publishes to (terraform grants it
        pubsub.topics.get there)."""
        publisher = self._publisher()
        topic = publisher.topic_path(self._project, topology().manager.publishes[0])
        publisher.get_topic(topic=topic, timeout=self._timeout)

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        publisher = self._publisher()
        path = publisher.topic_path(self._project, topic)
        key = ordering_key(topic, data)
        try:
            future = publisher.publish(path, data, ordering_key=key, **attributes)
            future.result(timeout=self._timeout)
        except Exception:
            if key:
                # A failed publish pauses its key in the client; the caller's retry
                # (Pub/Sub redelivery) must be able to publish on it again.
                publisher.resume_publish(path, key)
            raise
