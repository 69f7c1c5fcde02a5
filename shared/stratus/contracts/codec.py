"""Encode and decode topic messages, validated against schemas/<Schema>.avsc.

Messages travel as Avro's JSON encoding. Our schemas use no unions (an optional field is a
string whose default "" means "not given"), so that encoding is plain JSON: readable in
the console, curl-able, and accepted by Pub/Sub's schema validation as is.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, TypeVar

import fastavro
from pydantic import BaseModel, ValidationError

from stratus.contracts import json_text
from stratus.domain.accounts import Balances
from stratus.domain.common import Message
from stratus.domain.control import Control
from stratus.domain.errors import InvalidMessage
from stratus.domain.market import Marks
from stratus.domain.orders import Fill, OrderRejection, OrderRequest
from stratus.domain.outcomes import SignalOutcome, SignalRefusal
from stratus.domain.positions import PositionUpdate
from stratus.domain.reconciliation import ReconciliationReport
from stratus.domain.risk import RiskWarning, TradingStateChange
from stratus.domain.signals import Signal
from stratus.topology import topology

M = TypeVar("M", bound=BaseModel)

MODELS: dict[str, type[Message]] = {
    model.__name__: model
    for model in (
        Signal,
        OrderRequest,
        OrderRejection,
        Fill,
        PositionUpdate,
        RiskWarning,
        ReconciliationReport,
        SignalRefusal,
        SignalOutcome,
        Marks,
        Balances,
        TradingStateChange,
        Control,
    )
}


@cache
def schema(name: str) -> dict[str, Any]:
    """The parsed Avro schema `name` (e.g. "Signal")."""
    text = (files("stratus") / "contracts" / "schemas" / f"{name}.avsc").read_text()
    parsed = fastavro.parse_schema(json.loads(text))
    assert isinstance(parsed, dict)
    return parsed


def model_for(topic: str) -> type[Message]:
    return MODELS[topology().topics[topic].schema_name]


def encode(topic: str, message: BaseModel) -> bytes:
    """The wire form of `message` for `topic`; raises if it breaks the topic's schema."""
    model = model_for(topic)
    if not isinstance(message, model):
        raise TypeError(f"topic {topic} carries {model.__name__}, not {type(message).__name__}")
    record = message.model_dump(mode="json")
    avro_schema = schema(model.__name__)
    for field in avro_schema["fields"]:
        if record.get(field["name"]) is None and "default" in field:
            record[field["name"]] = field["default"]
    _validate(record, avro_schema)
    return json.dumps(record, separators=(",", ":")).encode()


def decode(topic: str, data: bytes) -> Message:
    """Parse and validate a message from `topic`; InvalidMessage says what is wrong.

    Anyone allowed to publish is outside input: the JSON is strict (json_text), then the
    topic's schema and the model's rules (amounts by their grammar) apply."""
    model = model_for(topic)
    record = json_text.loads(data)
    if not isinstance(record, dict):
        raise InvalidMessage("malformed_json", "the message is not a JSON object")
    avro_schema = schema(model.__name__)
    for field in avro_schema["fields"]:
        if field["name"] not in record and "default" in field:
            record[field["name"]] = field["default"]
    _validate(record, avro_schema)
    return parse(model, record)


def parse(model: type[M], record: dict[str, Any]) -> M:
    """Build a model, mapping the schema's "" (not given) to None first."""
    cleaned = {key: (None if value == "" else value) for key, value in record.items()}
    try:
        return model.model_validate(cleaned)
    except ValidationError as error:
        raise InvalidMessage("invalid_field", describe(error)) from error


def describe(error: ValidationError) -> str:
    """One line per bad field: 'quantity: Input should be greater than 0'."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'message'}: {item['msg']}"
        for item in error.errors()
    )


def _validate(record: dict[str, Any], avro_schema: dict[str, Any]) -> None:
    names = {field["name"] for field in avro_schema["fields"]}
    unknown = sorted(set(record) - names)
    if unknown:
        raise InvalidMessage("unknown_field", f"fields not in the schema: {', '.join(unknown)}")
    missing = sorted(name for name in names if name not in record)
    if missing:
        raise InvalidMessage("missing_field", f"required fields missing: {', '.join(missing)}")
    try:
        fastavro.validate(record, avro_schema, raise_errors=True)
    except fastavro.validation.ValidationError as error:
        raise InvalidMessage("schema_mismatch", str(error)) from error
