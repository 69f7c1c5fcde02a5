"""Publishing, reading back and waiting, and the servers they need, for the emulator
tests (and the chaos tier, which runs on the same stack)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from tests.conftest import unavailable

from stratus.adapters.pubsub_bus import PubSubBus, ordering_key
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.ledger import SqlLedger
from stratus.config import Settings
from stratus.contracts import codec
from stratus.domain.orders import Fill
from stratus.domain.signals import Signal
from stratus.local.emulators import INSTALL_HINT
from stratus.local.stack import Stack

T = TypeVar("T")
BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


def require_gcloud() -> None:
    """Skip (locally) or fail (CI) without the emulators."""
    if shutil.which("gcloud") is None:
        unavailable("gcloud with the Pub/Sub and Firestore emulators", INSTALL_HINT)


def eventually(
    probe: Callable[[], T], done: Callable[[T], bool], timeout_seconds: float = 30.0
) -> T:
    """Poll `probe` until `done` holds for its value; the last value is in the failure."""
    deadline = time.monotonic() + timeout_seconds
    value = probe()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout_seconds} s; last value: {value!r}")
        time.sleep(0.2)
        value = probe()
    return value


def empty_firestore(host: str, project: str) -> None:
    """Delete every document of the project in the Firestore emulator at host."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def opened(stack: Stack, prefix: str) -> str:
    """A new paper account, created through the manager's API (unknown ones never trade)."""
    account = unique(prefix)
    body = {"account": account, "exchange_id": "paper", "api_key": "paper", "secret": "paper"}
    request = urllib.request.Request(
        f"{stack.endpoints.manager}/api/v1/accounts",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {Settings().manager_dev_token.get_secret_value()}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 201
    return account


def signal(account: str, symbol: str, action: str, quantity: str, **extra: Any) -> Signal:
    fields = {
        "signal_id": unique("sig"),
        "source": "emulator-tests",
        "account": account,
        "strategy": "strat-a",
        "symbol": symbol,
        "action": action,
        "quantity": quantity,
        "confidence": 0.95,  # market orders: they fill at once on the paper exchange
        "created_at": datetime.now(UTC).isoformat(),
        **extra,
    }
    return codec.parse(Signal, fields)


def publish_burst(stack: Stack, messages: list[Signal]) -> None:
    """Publish all at once (one batch, the same ordering keys as PubSubBus), so the
    subscription holds a backlog that an unordered push would deliver concurrently."""
    from google.cloud import pubsub_v1

    options = pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    publisher = pubsub_v1.PublisherClient(publisher_options=options)
    topic = publisher.topic_path(stack.config.project, "signals")
    futures = []
    for message in messages:
        data = codec.encode("signals", message)
        attributes = {"trace_id": unique("t")}
        key = ordering_key("signals", data)
        futures.append(publisher.publish(topic, data, ordering_key=key, **attributes))
    for future in futures:
        future.result(timeout=30)


def publish(stack: Stack, message: Signal, trace: str | None = None) -> None:
    """Publish like a strategy would, through the production publisher (ordering keys)."""
    bus = PubSubBus(stack.config.project)
    bus.publish("signals", codec.encode("signals", message), {"trace_id": trace or unique("t")})


@cache
def ledger(database_url: str) -> SqlLedger:
    """The system of record as the manager sees it (PostgreSQL)."""
    return SqlLedger(Database.from_url(database_url), migrate=False)


def positions(stack: Stack, account: str) -> dict[str, Decimal]:
    """Open and closed positions of the account: symbol -> quantity."""
    return {p.symbol: p.quantity for p in ledger(stack.config.database_url).positions(account)}


def fills(stack: Stack, account: str) -> list[Fill]:
    return ledger(stack.config.database_url).fills(account)


def dead_letters_of(
    stack: Stack, topic: str, traces: set[str], timeout_seconds: float = 60.0
) -> dict[str, Any]:
    """The dead letter of each trace (acked; other tests' are left), waiting for them all."""
    from google.cloud import pubsub_v1

    found: dict[str, Any] = {}
    subscriber = pubsub_v1.SubscriberClient()
    name = subscriber.subscription_path(stack.config.project, f"{topic}-dead-letter")
    deadline = time.monotonic() + timeout_seconds
    with subscriber:
        while set(found) != traces and time.monotonic() < deadline:
            reply = subscriber.pull(subscription=name, max_messages=100, timeout=5)
            mine = [
                r for r in reply.received_messages if r.message.attributes.get("trace_id") in traces
            ]
            others = [r.ack_id for r in reply.received_messages if r not in mine]
            found.update({r.message.attributes["trace_id"]: r.message for r in mine})
            if mine:
                subscriber.acknowledge(subscription=name, ack_ids=[r.ack_id for r in mine])
            if others:
                subscriber.modify_ack_deadline(
                    subscription=name, ack_ids=others, ack_deadline_seconds=0
                )
    return found


def dead_letters(stack: Stack, topic: str, trace: str) -> list[Any]:
    """Pull (and ack) what the topic's dead-letter subscription holds for one trace."""
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    name = subscriber.subscription_path(stack.config.project, f"{topic}-dead-letter")
    with subscriber:
        reply = subscriber.pull(subscription=name, max_messages=50, return_immediately=True)
        mine = [r for r in reply.received_messages if r.message.attributes["trace_id"] == trace]
        others = [r.ack_id for r in reply.received_messages if r not in mine]
        if mine:
            subscriber.acknowledge(subscription=name, ack_ids=[r.ack_id for r in mine])
        if others:  # leave other tests' dead letters to them
            subscriber.modify_ack_deadline(
                subscription=name, ack_ids=others, ack_deadline_seconds=0
            )
        return [r.message for r in mine]
