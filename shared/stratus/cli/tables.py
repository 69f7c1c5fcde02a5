"""Readable terminal tables for the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tabulate import tabulate

from stratus.formatting import amount, money

__all__ = ["amount", "money", "table"]


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    body = list(rows)
    rendered = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True)
    return f"\n{title}\n{'=' * len(title)}\n" + (rendered if body else "(none)")
