"""The code's message models and the Avro schema files agree, and the codec enforces them."""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel

from stratus.contracts import codec
from stratus.domain.amounts import plain
from stratus.domain.common import Message
from stratus.domain.errors import InvalidMessage
from stratus.domain.signals import Signal, SignalAction
from stratus.topology import topology

SCHEMAS = Path(__file__).parents[2] / "schemas"


def avro_type(annotation: Any) -> tuple[object, bool]:
    """(Avro type our convention gives a model field's annotation, whether optional)."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return avro_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        assert len(args) == 1, annotation
        if isinstance(args[0], type) and issubclass(args[0], StrEnum):
            return "string", True  # Avro enums cannot hold "" (not given): a string
        return avro_type(args[0])[0], True
    if origin is list:  # arrays, maps and nested records (ReconciliationReport)
        return {"type": "array", "items": avro_type(typing.get_args(annotation)[0])[0]}, False
    if origin is dict:
        return {"type": "map", "values": avro_type(typing.get_args(annotation)[1])[0]}, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("record", tuple(annotation.model_fields)), optional
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return ("enum", tuple(member.value for member in annotation)), optional
    simple = {
        bool: "boolean",
        str: "string",
        Decimal: "string",
        datetime: "string",
        AwareDatetime: "string",
        float: "double",
        int: "int",
    }  # bool before int
    for python, avro in simple.items():
        if annotation is python or (
            isinstance(annotation, type) and issubclass(annotation, python)
        ):
            return avro, optional
    raise AssertionError(f"no Avro mapping for {annotation!r}")


def schema_type(field: dict[str, Any]) -> object:
    kind = field["type"]
    if isinstance(kind, dict) and kind["type"] == "enum":
        return ("enum", tuple(kind["symbols"]))
    if isinstance(kind, dict) and kind["type"] == "record":
        return ("record", tuple(inner["name"] for inner in kind["fields"]))
    if isinstance(kind, dict) and kind["type"] == "array":
        return {"type": "array", "items": schema_type({"type": kind["items"]})}
    if isinstance(kind, dict) and kind["type"] == "map":
        return {"type": "map", "values": schema_type({"type": kind["values"]})}
    return kind


@pytest.mark.parametrize("name", sorted(codec.MODELS))
def test_model_and_schema_file_agree(name: str) -> None:
    model: type[BaseModel] = codec.MODELS[name]
    schema = json.loads((SCHEMAS / f"{name}.avsc").read_text())
    fields = {field["name"]: field for field in schema["fields"]}
    assert list(fields) == list(model.model_fields), "same fields, same order"
    hints = typing.get_type_hints(model, include_extras=True)
    for field_name, info in model.model_fields.items():
        expected, optional = avro_type(hints[field_name])
        assert schema_type(fields[field_name]) == expected, field_name
        has_default = "default" in fields[field_name]
        assert has_default == (not info.is_required()), f"{field_name}: default mismatch"
        if optional:
            assert fields[field_name]["default"] == "", f"{field_name}: optional means ''"


def test_every_topic_has_a_schema_file_and_every_schema_a_model() -> None:
    names = {topic.schema_name for topic in topology().topics.values()}
    assert names <= set(codec.MODELS)
    assert {path.stem for path in SCHEMAS.glob("*.avsc")} == set(codec.MODELS)


SIGNAL = {
    "signal_id": "s-1",
    "source": "demo",
    "account": "a",
    "strategy": "s",
    "symbol": "BTC/USDT:USDT",
    "action": "buy",
    "quantity": "0.5",
    "created_at": "2026-01-05T00:00:00+00:00",
}


def test_round_trip_keeps_decimals_exact_and_fills_defaults() -> None:
    message = codec.decode("signals", json.dumps(SIGNAL).encode())
    wire = json.loads(codec.encode("signals", message))
    assert wire["quantity"] == "0.5"
    assert wire["limit_price"] == ""  # optional, not given
    assert wire["confidence"] == 1.0
    assert codec.decode("signals", codec.encode("signals", message)) == message


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"action": "hold"}, "schema_mismatch"),
        ({"quantity": "-1"}, "invalid_field"),
        ({"quantity": 5}, "schema_mismatch"),
        ({"created_at": "yesterday"}, "invalid_field"),
        ({"symbol": "btc usdt"}, "invalid_field"),
        ({"surprise": 1}, "unknown_field"),
    ],
)
def test_bad_messages_say_why(change: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        codec.decode("signals", json.dumps({**SIGNAL, **change}).encode())
    assert caught.value.reason == reason


def test_missing_fields_and_garbage_are_named() -> None:
    record = dict(SIGNAL)
    del record["account"]
    with pytest.raises(InvalidMessage, match="account") as caught:
        codec.decode("signals", json.dumps(record).encode())
    assert caught.value.reason == "missing_field"
    with pytest.raises(InvalidMessage) as garbage:
        codec.decode("signals", b"\xff not json")
    assert garbage.value.reason == "malformed_json"


def test_encode_refuses_the_wrong_model_for_a_topic() -> None:
    message = codec.decode("signals", json.dumps(SIGNAL).encode())
    with pytest.raises(TypeError, match="carries OrderRequest"):
        codec.encode("orders", message)


def test_topic_messages_get_the_strict_json_rules() -> None:
    for raw, reason in [
        (b"[" * 5000, "too_deep"),
        (json.dumps(SIGNAL)[:-1].encode() + b', "account": "b"}', "duplicate_key"),
        (json.dumps({**SIGNAL, "confidence": 1}).replace("1}", "NaN}").encode(), "malformed_json"),
    ]:
        with pytest.raises(InvalidMessage) as caught:
            codec.decode("signals", raw)
        assert caught.value.reason == reason


# Any JSON at all, and records shaped like a signal whose values are anything.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
signal_like = st.fixed_dictionaries(
    {}, optional={name: json_values | st.text() for name in [*SIGNAL, "confidence", "stop_price"]}
)


def decoded(topic: str, data: bytes) -> Message | InvalidMessage:
    """The message, or the refusal; anything else raised fails the test."""
    try:
        return codec.decode(topic, data)
    except InvalidMessage as refused:
        return refused


@given(st.binary() | json_values.map(json.dumps).map(str.encode))
def test_decoding_anything_gives_a_message_or_says_why(data: bytes) -> None:
    for topic in ("signals", "order-requests", "executions"):
        result = decoded(topic, data)
        if isinstance(result, InvalidMessage):
            assert result.reason
            assert result.detail


@given(signal_like)
def test_decoding_a_signal_shaped_record_gives_a_signal_or_says_why(record: dict[str, Any]) -> None:
    result = decoded("signals", json.dumps({**SIGNAL, **record}).encode())
    if isinstance(result, InvalidMessage):
        assert result.reason
        assert result.detail
    else:
        assert codec.decode("signals", codec.encode("signals", result)) == result


amounts = st.builds(
    lambda whole, fraction: Decimal(f"{whole}.{fraction}"),
    st.integers(min_value=0, max_value=10**18 - 1),
    st.integers(min_value=1, max_value=10**18 - 1),
)
signals = st.builds(
    Signal,
    signal_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,123}", fullmatch=True),
    source=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,20}", fullmatch=True),
    account=st.sampled_from(["acct", "a.b-c", "9"]),
    strategy=st.sampled_from(["trend", "s:1"]),
    symbol=st.sampled_from(["BTC/USDT:USDT", "ETH/USDT", "1000PEPE/USDT:USDT"]),
    action=st.sampled_from(SignalAction),
    quantity=st.none() | amounts,
    confidence=st.floats(min_value=0, max_value=1),
    limit_price=st.none() | amounts,
    stop_price=st.none() | amounts,
    created_at=st.datetimes(timezones=st.just(UTC)),
)


@given(signals)
def test_every_valid_signal_survives_the_wire_exactly(signal: Signal) -> None:
    wire = codec.encode("signals", signal)
    assert codec.decode("signals", wire) == signal
    record = json.loads(wire)
    for name in ("quantity", "limit_price", "stop_price"):
        value = getattr(signal, name)
        assert record[name] == ("" if value is None else plain(value))  # never an exponent
