"""Google Pub/Sub publisher. Honours PUBSUB_EMULATOR_HOST by itself (no flags here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class PubSubBus:
    """Publishes and waits for the server's acknowledgement (so "returned" means "stored").

    The client is created on first use and reused across invocations of a warm instance.
    """

    def __init__(self, project: str, timeout_seconds: float = 30.0) -> None:
        self._project = project
        self._timeout = timeout_seconds
        self._client: Any = None

    def _publisher(self) -> Any:
        if self._client is None:
            from google.cloud.pubsub_v1 import PublisherClient

            self._client = PublisherClient()
        return self._client

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        publisher = self._publisher()
        path = publisher.topic_path(self._project, topic)
        publisher.publish(path, data, **dict(attributes)).result(timeout=self._timeout)
