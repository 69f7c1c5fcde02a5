"""topology.yaml is consistent and drives subscriptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from stratus.topology import Topology, topology

ROOT = Path(__file__).resolve().parents[2]


def test_each_pubsub_function_has_one_topic_and_handler() -> None:
    from stratus.service.dispatch import HANDLERS, LISTENERS

    triggered = {name for name, fn in topology().functions.items() if fn.trigger.topic}
    assert triggered == set(HANDLERS)
    listening = {name for name in topology().functions if topology().triggers(name)}
    assert listening - triggered == set(LISTENERS)


def test_subscribers_follow_triggers() -> None:
    assert topology().subscribers("signals") == ["on_signal"]
    assert topology().subscribers("orders") == ["execute_order"]
    assert topology().subscribers("order-rejections") == ["notify"]
    assert topology().subscribers("executions") == ["update_position", "notify"]
    assert topology().subscribers("position-updates") == []
    every_dead_letter = [topology().dead_letter_topic(t) for t in topology().topics]
    assert all(topology().subscribers(topic) == ["notify"] for topic in every_dead_letter)


def test_a_trigger_is_one_kind() -> None:
    data = topology().model_dump(by_alias=True)
    data["functions"]["notify"]["trigger"]["http"] = "public"
    with pytest.raises(ValidationError, match="either a topic, topics or http"):
        Topology.model_validate(data)
    data = topology().model_dump(by_alias=True)
    data["functions"]["notify"]["trigger"]["topics"] = ["nowhere"]
    with pytest.raises(ValidationError, match="unknown topic nowhere"):
        Topology.model_validate(data)


def test_references_are_checked() -> None:
    data = topology().model_dump(by_alias=True)
    data["functions"]["on_signal"]["publishes"] = ["nowhere"]
    with pytest.raises(ValidationError, match="unknown topic nowhere"):
        Topology.model_validate(data)
    data = topology().model_dump(by_alias=True)
    data["schedules"]["snapshot-every-15-min"]["function"] = "ghost"
    with pytest.raises(ValidationError, match="unknown function ghost"):
        Topology.model_validate(data)


def test_risk_decisions_are_ordered_per_account_and_the_rest_per_symbol() -> None:
    from stratus.adapters.pubsub_bus import ordering_key

    message = b'{"account": "acct", "symbol": "BTC/USDT:USDT", "side": "buy"}'
    assert ordering_key("order-requests", message) == "acct"
    assert ordering_key("orders", message) == "acct|BTC/USDT:USDT"
    assert ordering_key("executions", b'{"account": "acct"}') == ""  # no symbol: unordered
    assert ordering_key("orders", b"not json") == ""
    assert ordering_key("orders-dead-letter", message) == "acct|BTC/USDT:USDT"
    for name, topic in topology().topics.items():
        schema = json.loads((ROOT / "schemas" / f"{topic.schema_name}.avsc").read_text())
        fields = {field["name"] for field in schema["fields"]}
        assert set(topic.ordered_by) <= fields, f"{name} is ordered by a field it lacks"


def test_the_delivery_window_spans_every_attempt_and_backoff() -> None:
    retry = topology().retry
    assert retry.delivery_window.total_seconds() == 5 * 60 + 10 + 20 + 40 + 80
    short = retry.model_copy(update={"minimum_backoff_seconds": 1, "maximum_backoff_seconds": 2})
    assert short.delivery_window.total_seconds() == 5 * 60 + 1 + 2 + 2 + 2
    assert retry.retention.days == 7


def test_retry_backoff_doubles_from_the_minimum_up_to_the_maximum() -> None:
    retry = topology().retry  # 10 s .. 600 s
    waits = [retry.backoff_seconds(failures) for failures in range(8)]
    assert waits == [0, 10, 20, 40, 80, 160, 320, 600]
