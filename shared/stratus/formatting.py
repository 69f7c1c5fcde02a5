"""Amounts for people to read (the CLI's tables, the console's pages): exact decimals."""

from __future__ import annotations

from decimal import Decimal


def money(value: Decimal, places: int = 2) -> str:
    return f"{value:,.{places}f}"


def amount(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
