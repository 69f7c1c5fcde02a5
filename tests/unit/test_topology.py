"""topology.yaml is consistent and drives subscriptions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stratus.topology import Topology, topology


def test_each_pubsub_function_has_one_topic_and_handler() -> None:
    from stratus.service.dispatch import HANDLERS

    triggered = {name for name, fn in topology().functions.items() if fn.trigger.topic}
    assert triggered == set(HANDLERS)


def test_subscribers_follow_triggers() -> None:
    assert topology().subscribers("signals") == ["on_signal"]
    assert topology().subscribers("orders") == ["execute_order"]
    assert topology().subscribers("order-rejections") == []


def test_references_are_checked() -> None:
    data = topology().model_dump(by_alias=True)
    data["functions"]["on_signal"]["publishes"] = ["nowhere"]
    with pytest.raises(ValidationError, match="unknown topic nowhere"):
        Topology.model_validate(data)
    data = topology().model_dump(by_alias=True)
    data["schedules"]["snapshot-every-15-min"]["function"] = "ghost"
    with pytest.raises(ValidationError, match="unknown function ghost"):
        Topology.model_validate(data)
