"""The one convention for numbers in the manager's answers (stratus.manager.numbers)."""

from __future__ import annotations

import types
import typing
from decimal import Decimal
from typing import Any, Union

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, PlainSerializer

from stratus.manager.app import create_app
from stratus.manager.numbers import decimal_text
from stratus.service.services import Services


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (Decimal(0) / Decimal("1E+4"), 6, "0"),  # the old "0E+4"
        (Decimal("92.828899999999999989"), 8, "92.8289"),  # PostgreSQL's 18th place
        (Decimal("302") / 3, 12, "100.666666666667"),
        (Decimal("6E+4"), 8, "60000"),
        (Decimal("-1.500000"), 8, "-1.5"),
        (Decimal("-0.000000001"), 8, "0"),  # no "-0"
        (Decimal("0.000000005"), 8, "0"),  # half even
        (Decimal("0.000000015"), 8, "0.00000002"),
        (Decimal("99999999999999999999.999999999999999999"), 12, "100000000000000000000"),
    ],
)
def test_decimal_text(value: Decimal, places: int, text: str) -> None:
    assert decimal_text(value, places) == text


def _unwritten_decimals(annotation: Any, where: str, seen: set[type]) -> list[str]:
    """Decimal fields, anywhere in a response type, that nothing writes positionally."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        if base is Decimal:
            written = any(isinstance(item, PlainSerializer) for item in metadata)
            return [] if written else [where]
        return _unwritten_decimals(base, where, seen)
    if annotation is Decimal:
        return [where]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return []
        seen.add(annotation)
        found = []
        for name, field in annotation.model_fields.items():
            rebuilt = field.rebuild_annotation()
            found += _unwritten_decimals(rebuilt, f"{annotation.__name__}.{name}", seen)
        return found
    if origin in (Union, types.UnionType, list, dict, tuple) or (
        origin is not None and typing.get_args(annotation)
    ):
        found = []
        for argument in typing.get_args(annotation):
            found += _unwritten_decimals(argument, where, seen)
        return found
    return []


def test_every_decimal_in_every_answer_has_a_writer(services: Services) -> None:
    """A new response field typed plain `Decimal` would be written by str(): exponents
    and the database's digits. Each must be a stratus.manager.numbers kind (computed) or
    a domain ExactDecimal (stored as given)."""
    app = create_app(services)
    unwritten: list[str] = []
    models = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.response_model is not None:
            models += 1
            unwritten += _unwritten_decimals(route.response_model, str(context.path), set())
    assert models > 30
    assert unwritten == []
