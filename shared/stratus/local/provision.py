"""Schemas, topics, dead-letter topics and push subscriptions from the topology data.

The same data terraform/pubsub.tf reads, with the same names: a push subscription
"<topic>-to-<function>" per topic each function hears (notify: many, dead letters too),
"<topic>-to-manager" per topic the manager records, and a pull subscription named like
each dead-letter topic that holds its dead letters. Needs PUBSUB_EMULATOR_HOST set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from stratus.topology import RetryPolicy, Topology

Endpoint = Callable[[str, str], str]  # (function, topic) -> push endpoint URL
MANAGER = "manager"  # the recorder's subscriptions: "<topic>-to-manager"


def subscription_name(topic: str, function: str) -> str:
    return f"{topic}-to-{function.replace('_', '-')}"


def provision(
    project: str,
    topology: Topology,
    endpoint: Endpoint,
    retry: RetryPolicy,
    recorder: bool = True,
) -> None:
    """Create everything (idempotently: what exists is left as it is); the manager's
    recorder subscriptions only when there is a manager (`recorder`)."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import pubsub_v1
    from google.pubsub_v1 import SchemaServiceClient
    from google.pubsub_v1.types import Encoding, Schema

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    schemas = SchemaServiceClient()

    def create(call: Callable[..., Any], request: dict[str, Any]) -> None:
        with contextlib.suppress(AlreadyExists):
            call(request=request)

    parent = f"projects/{project}"
    for name in sorted({topic.schema_name for topic in topology.topics.values()}):
        definition = (files("stratus") / "contracts" / "schemas" / f"{name}.avsc").read_text()
        schema = Schema(
            name=f"{parent}/schemas/{name}", type_=Schema.Type.AVRO, definition=definition
        )
        create(schemas.create_schema, {"parent": parent, "schema": schema, "schema_id": name})
    for topic, spec in topology.topics.items():
        create(
            publisher.create_topic,
            {
                "name": publisher.topic_path(project, topic),
                # Messages travel as Avro's JSON encoding: the emulator validates like production.
                "schema_settings": {
                    "schema": f"{parent}/schemas/{spec.schema_name}",
                    "encoding": Encoding.JSON,
                },
            },
        )
        dead = topology.dead_letter_topic(topic)
        create(publisher.create_topic, {"name": publisher.topic_path(project, dead)})
        create(
            subscriber.create_subscription,
            {
                "name": subscriber.subscription_path(project, dead),
                "topic": publisher.topic_path(project, dead),
                "ack_deadline_seconds": retry.ack_deadline_seconds,
            },
        )

    def push(subscriber_name: str, topic: str, ordered: bool = False) -> None:
        name = subscription_name(topic, subscriber_name)
        create(
            subscriber.create_subscription,
            {
                "name": subscriber.subscription_path(project, name),
                "topic": publisher.topic_path(project, topic),
                "push_config": {"push_endpoint": endpoint(subscriber_name, topic)},
                "ack_deadline_seconds": retry.ack_deadline_seconds,
                "retry_policy": {
                    "minimum_backoff": {"seconds": retry.minimum_backoff_seconds},
                    "maximum_backoff": {"seconds": retry.maximum_backoff_seconds},
                },
                "enable_message_ordering": ordered,
                # No dead_letter_policy here: the emulator cannot dead-letter from an
                # ordered subscription (see stratus.local.relay), so the relay does.
            },
        )

    for function, fn in topology.functions.items():
        for topic in topology.triggers(function):
            # A step of the flow gets the messages of one account and symbol in publish
            # order; a function hearing many topics (notify) needs none.
            push(function, topic, ordered=fn.trigger.topic is not None)
    for topic in topology.recorded() if recorder else ():  # terraform/console.tf
        push(MANAGER, topic)
