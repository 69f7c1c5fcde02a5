"""Google Pub/Sub publisher. Honours PUBSUB_EMULATOR_HOST by itself (no flags here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# A publisher may set this attribute to choose the ordering key; without it, messages
# naming an account and a symbol are ordered per account and symbol.
ORDERING_KEY_ATTRIBUTE = "ordering_key"


def ordering_key(data: bytes, attributes: Mapping[str, str]) -> str:
    """The Pub/Sub ordering key: messages of one key are delivered in publish order."""
    explicit = attributes.get(ORDERING_KEY_ATTRIBUTE)
    if explicit is not None:
        return explicit
    try:
        record = json.loads(data)  # messages travel as Avro's JSON encoding
    except ValueError:
        return ""
    if not isinstance(record, dict):
        return ""
    account, symbol = record.get("account"), record.get("symbol")
    if isinstance(account, str) and isinstance(symbol, str) and account and symbol:
        return f"{account}|{symbol}"
    return ""


class PubSubBus:
    """Publishes and waits for the server's acknowledgement (so "returned" means "stored").

    The client is created on first use and reused across invocations of a warm instance.
    Ordering is per account and symbol (see `ordering_key`); subscriptions enable it.
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

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        publisher = self._publisher()
        path = publisher.topic_path(self._project, topic)
        key = ordering_key(data, attributes)
        try:
            # The key travels as the message's ordering key, not as an attribute.
            plain = {k: v for k, v in attributes.items() if k != ORDERING_KEY_ATTRIBUTE}
            future = publisher.publish(path, data, ordering_key=key, **plain)
            future.result(timeout=self._timeout)
        except Exception:
            if key:
                # A failed publish pauses its key in the client; the caller's retry
                # (Pub/Sub redelivery) must be able to publish on it again.
                publisher.resume_publish(path, key)
            raise
