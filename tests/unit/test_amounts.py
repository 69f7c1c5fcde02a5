"""The amount grammar: what it accepts, why it refuses, and that nothing else gets in."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from stratus.domain.amounts import (
    MAX_INTEGER_DIGITS,
    MAX_PLACES,
    Amount,
    AmountError,
    JsonNumber,
    PositiveAmount,
    SignedAmount,
    parse_amount,
    plain,
)

CANONICAL = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?", re.ASCII)
digits = st.text(alphabet="0123456789", min_size=1, max_size=MAX_INTEGER_DIGITS)
places = st.text(alphabet="0123456789", min_size=1, max_size=MAX_PLACES)
amount_texts = st.builds(
    lambda whole, fraction: whole + ("." + fraction if fraction else ""),
    digits,
    st.none() | places,
)


class Order(BaseModel):
    quantity: PositiveAmount
    fee: Amount = Decimal(0)
    pnl: SignedAmount = Decimal(0)
    limit: PositiveAmount | None = None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", "0"),
        ("42", "42"),
        ("0.015", "0.015"),
        ("1000.50", "1000.50"),
        ("007", "7"),
        ("9" * 18 + "." + "9" * 18, "9" * 18 + "." + "9" * 18),
    ],
)
def test_plain_decimals_are_amounts(text: str, value: str) -> None:
    assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("\uff11_\uff10\uff10\uff10 ", "amount_not_ascii"),  # fullwidth "1_000 "
        ("\u0967\u0968\u0969", "amount_not_ascii"),  # Devanagari 123
        ("1\u00a0", "amount_not_ascii"),  # no-break space
        ("\u0660.\u0665", "amount_not_ascii"),  # Arabic-Indic 0.5
        ("1_0", "amount_syntax"),
        ("1,000", "amount_syntax"),
        (".5", "amount_syntax"),
        ("5.", "amount_syntax"),
        ("1.2.3", "amount_syntax"),
        ("0x10", "amount_syntax"),
        (" 1", "amount_whitespace"),
        ("1 ", "amount_whitespace"),
        ("1\n", "amount_whitespace"),
        ("1\t", "amount_whitespace"),
        ("1e5", "amount_exponent"),
        ("1E-30", "amount_exponent"),
        ("1e400", "amount_exponent"),
        ("NaN", "amount_not_finite"),
        ("-nan", "amount_not_finite"),
        ("+NAN", "amount_not_finite"),
        ("sNaN", "amount_not_finite"),
        ("Infinity", "amount_not_finite"),
        ("-inf", "amount_not_finite"),
        ("-1", "amount_sign"),
        ("+1", "amount_sign"),
        ("1-", "amount_sign"),
        ("", "amount_empty"),
        ("1" * 19, "amount_too_large"),
        ("1" * 40, "amount_too_large"),
        ("0." + "0" * 18 + "1", "amount_too_precise"),
        (True, "amount_not_text"),
        (1.5, "amount_not_text"),  # a float has lost its text
        (None, "amount_not_text"),
        ([1], "amount_not_text"),
        (10**18, "amount_too_large"),
        (10**5000, "amount_too_large"),  # refused before it is printed
        (Decimal("NaN"), "amount_not_finite"),
        (Decimal("-Infinity"), "amount_not_finite"),
        (Decimal("1e400"), "amount_too_large"),
        (Decimal("1e-30"), "amount_too_precise"),
        (JsonNumber("1e5"), "amount_exponent"),  # a JSON number is read from its text
        (JsonNumber("-0.5"), "amount_sign"),
    ],
    ids=lambda value: f"int-{value.bit_length()}-bits" if isinstance(value, int) else None,
)
def test_everything_else_is_refused_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(AmountError) as refused:
        parse_amount(value)
    assert refused.value.reason == reason
    assert len(refused.value.detail) < 120  # quoted short, whatever came in


def test_signed_amounts_take_one_leading_minus() -> None:
    assert parse_amount("-0.5", signed=True) == Decimal("-0.5")
    for text in ("--1", "+1", "1-", "- 1"):
        with pytest.raises(AmountError):
            parse_amount(text, signed=True)


def test_json_numbers_and_ints_are_read_exactly() -> None:
    assert parse_amount(JsonNumber("0.1")) == Decimal("0.1")  # not 0.1000000000000000055...
    assert parse_amount(7) == Decimal(7)
    assert parse_amount(Decimal("1E+2")) == Decimal(100)


def test_models_refuse_with_the_reason_as_error_type() -> None:
    with pytest.raises(ValidationError) as refused:
        Order.model_validate({"quantity": "1e5", "fee": "-1", "pnl": "\uff11"})
    assert {(e["loc"][0], e["type"]) for e in refused.value.errors()} == {
        ("quantity", "amount_exponent"),
        ("fee", "amount_sign"),
        ("pnl", "amount_not_ascii"),
    }
    with pytest.raises(ValidationError, match="greater than 0"):
        Order.model_validate({"quantity": "0"})


def test_models_write_amounts_as_plain_text() -> None:
    order = Order(quantity=Decimal("1E+2"), fee=Decimal("0.0000001"), pnl=Decimal("-3"))
    assert order.model_dump(mode="json") == {
        "quantity": "100",
        "fee": "0.0000001",
        "pnl": "-3",
        "limit": None,
    }
    assert Order.model_validate_json(order.model_dump_json()) == order


@given(amount_texts)
def test_every_amount_text_reads_as_its_decimal_and_writes_back(text: str) -> None:
    value = parse_amount(text)
    assert value == Decimal(text)
    assert parse_amount(plain(value)) == value
    assert CANONICAL.fullmatch(plain(value))


@given(st.text(max_size=60) | st.from_regex(r"[-+]?[0-9_]{0,25}([.,][0-9]{0,25})?([eE][-+]?9+)?"))
def test_any_text_is_an_amount_only_in_the_grammar(text: str) -> None:
    if CANONICAL.fullmatch(text):
        assert parse_amount(text, signed=True) == Decimal(text)
    else:
        with pytest.raises(AmountError) as refused:
            parse_amount(text, signed=True)
        assert refused.value.reason.startswith("amount_")


@given(st.decimals(allow_nan=True, allow_infinity=True))
def test_decimals_from_code_obey_the_same_bounds(value: Decimal) -> None:
    if value.is_finite() and CANONICAL.fullmatch(plain(value)):
        assert parse_amount(value, signed=True) == value
    else:
        with pytest.raises(AmountError):
            parse_amount(value, signed=True)


@given(st.integers())
def test_ints_are_amounts_up_to_eighteen_digits(value: int) -> None:
    if abs(value) < 10**MAX_INTEGER_DIGITS:
        assert parse_amount(value, signed=True) == value
    else:
        with pytest.raises(AmountError, match="integer digits"):
            parse_amount(value, signed=True)
