"""The one grammar for amounts that cross a boundary: the webhook, messages on the topics,
the manager API and the CLI.

An amount is ASCII digits with at most one dot between digits: `42`, `0.015`, `1000.50`.
At most 18 digits before the dot and 18 after it, so every amount (and sums of many) fits
the ledger's NUMERIC(38, 18). A signed amount may start with one `-`. Nothing else: no
`+`, exponent, spaces, underscores, thousands separators, digits of other scripts, NaN or
Infinity. Python's Decimal() accepts all of those (fullwidth "1_000 " is 1000 to it), which
is why outside text never reaches Decimal() without this grammar.

JSON numbers are read exactly from their text: stratus.contracts.json_text keeps it in a
JsonNumber, which this grammar reads like a string; integers are exact as they are. A bare
float has lost its text and is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_INTEGER_DIGITS = 18
MAX_PLACES = 18
LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS  # amounts are below this in absolute value

_GRAMMAR = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?", re.ASCII)
_PATTERN = rf"^[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,{MAX_PLACES}}})?$"
_SIGNED_PATTERN = "^-?" + _PATTERN[1:]


class AmountError(ValueError):
    """Text that is not an amount; `reason` is machine-readable (amount_exponent, ...)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class JsonNumber(float):
    """A JSON number as read by stratus.contracts.json_text: a float for fields that are
    floats (confidence), and the exact text it was written as, which amounts read."""

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


def parse_amount(value: object, *, signed: bool = False) -> Decimal:
    """The Decimal an amount denotes; AmountError says why `value` is not one.

    Accepts text (and JsonNumber's text), ints, and Decimals from our own code, each by the
    same grammar and bounds; refuses floats, booleans and everything else."""
    return _parse(_text(value), signed)


def plain(value: Decimal) -> str:
    """An amount's canonical text: positional notation, never an exponent."""
    return format(value, "f")


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise AmountError(
            "amount_not_text",
            f'an amount is a decimal string such as "0.015", not {type(value).__name__}',
        )
    if isinstance(value, int):
        if abs(value) >= LIMIT:  # checked before str(), which is slow for a huge int
            raise _too_large("this integer")
        return str(value)
    if not value.is_finite():
        raise AmountError("amount_not_finite", f"{value} is not an amount")
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        raise _too_large(_shown(str(value)))
    return plain(value)


def _parse(text: str, signed: bool) -> Decimal:
    match = _GRAMMAR.fullmatch(text)
    if match is None:
        raise _malformed(text)
    sign, whole, places = match.groups()
    if sign and not signed:
        raise AmountError("amount_sign", f"{_shown(text)}: this amount cannot be negative")
    if len(whole) > MAX_INTEGER_DIGITS:
        raise _too_large(_shown(text))
    if places is not None and len(places) > MAX_PLACES:
        raise AmountError(
            "amount_too_precise", f"{_shown(text)} has more than {MAX_PLACES} decimal places"
        )
    return Decimal(text)


def _malformed(text: str) -> AmountError:
    """The most telling reason a text is not an amount."""
    lowered = text.lower()
    problems = [
        (not text, "amount_empty", "is empty"),
        ("nan" in lowered or "inf" in lowered, "amount_not_finite", "is not a finite number"),
        (not text.isascii(), "amount_not_ascii", "has characters outside ASCII digits and '.'"),
        (any(c.isspace() for c in text), "amount_whitespace", "contains whitespace"),
        ("e" in lowered, "amount_exponent", "has an exponent; write it out"),
        ("+" in text or "-" in text[1:], "amount_sign", "has a misplaced sign"),
    ]
    for found, reason, problem in problems:
        if found:
            return AmountError(reason, f"{_shown(text)} {problem}")
    return AmountError(
        "amount_syntax", f'{_shown(text)} is not digits with an optional ".", like "0.015"'
    )


def _too_large(what: str) -> AmountError:
    return AmountError(
        "amount_too_large", f"{what} has more than {MAX_INTEGER_DIGITS} integer digits"
    )


def _shown(text: str) -> str:
    """The value as an error may quote it: escaped and short."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _validator(signed: bool) -> BeforeValidator:
    def validate(value: Any) -> Decimal:
        try:
            return parse_amount(value, signed=signed)
        except AmountError as error:
            raise PydanticCustomError(error.reason, error.detail) from None

    return BeforeValidator(validate)


def _schema(pattern: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": ["0.015"]})


_AS_TEXT = PlainSerializer(plain, return_type=str, when_used="json")

# Pydantic types for message fields and API bodies: the grammar, then the range.
Amount = Annotated[Decimal, _validator(False), Field(ge=0), _AS_TEXT, _schema(_PATTERN)]
PositiveAmount = Annotated[Decimal, _validator(False), Field(gt=0), _AS_TEXT, _schema(_PATTERN)]
SignedAmount = Annotated[Decimal, _validator(True), _AS_TEXT, _schema(_SIGNED_PATTERN)]
