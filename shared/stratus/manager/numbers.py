"""How the manager writes the numbers it computes: the one convention of every answer.

A computed Decimal (an average entry, a PnL, a ratio) carries whatever digits division
left in it: 28 significant digits in Python, 18 places on PostgreSQL's NUMERIC(38, 18),
and sometimes an exponent (`0E+4`). Each output field is typed by what it is, and its
type rounds it (half even) to that kind's scale, drops trailing zeros and writes it in
positional notation: never an exponent, never padding. docs/manager.md lists the scales.

Ratios are fractions (0.25, not 25): a field for a share of a whole ends in `_rate`,
`_share` or `_fraction`; there are no percentages in the API.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

MONEY_PLACES = 8  # PnL, fees, notionals, equity: in the quote (or account) currency
PRICE_PLACES = 12  # prices and quantities, computed ones (average entry) included
RATIO_PLACES = 6  # fractions (win rate, shares) and other ratios (profit factor, Sharpe)


def decimal_text(value: Decimal, places: int) -> str:
    """`value` rounded to `places`, trailing zeros dropped, without exponent: "0", "-1.5"."""
    with localcontext(prec=80):  # NUMERIC(38, 18) holds 38 digits; quantize never raises
        rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if rounded.is_zero():
        return "0"  # also for -0 and 0E-8
    text = format(rounded, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _text(places: int) -> PlainSerializer:
    return PlainSerializer(lambda value: decimal_text(value, places), return_type=str)


def _schema(places: int, description: str) -> WithJsonSchema:
    pattern = rf"^-?[0-9]+(\.[0-9]{{1,{places}}})?$"
    return WithJsonSchema({"type": "string", "pattern": pattern, "description": description})


Money = Annotated[
    Decimal, _text(MONEY_PLACES), _schema(MONEY_PLACES, f"money, {MONEY_PLACES} places at most")
]
Price = Annotated[
    Decimal, _text(PRICE_PLACES), _schema(PRICE_PLACES, f"a price, {PRICE_PLACES} places at most")
]
Quantity = Annotated[
    Decimal,
    _text(PRICE_PLACES),
    _schema(PRICE_PLACES, f"a quantity (negative: short), {PRICE_PLACES} places at most"),
]
Fraction = Annotated[
    Decimal,
    _text(RATIO_PLACES),
    _schema(RATIO_PLACES, f"a fraction of one (0.25 is a quarter), {RATIO_PLACES} places"),
]
Ratio = Annotated[
    Decimal, _text(RATIO_PLACES), _schema(RATIO_PLACES, f"a ratio, {RATIO_PLACES} places at most")
]
