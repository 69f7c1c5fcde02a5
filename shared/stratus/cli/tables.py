"""Readable terminal tables for the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from tabulate import tabulate


def money(value: Decimal, places: int = 2) -> str:
    return f"{value:,.{places}f}"


def amount(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    body = list(rows)
    rendered = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True)
    return f"\n{title}\n{'=' * len(title)}\n" + (rendered if body else "(none)")
