"""Framework-free HTTP results, so Flask (functions) and FastAPI (stratus up) share handlers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stratus.observability import current_trace_id


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, reason: str, detail: str) -> HttpResult:
    """A 4xx with a machine-readable reason, a human detail and the trace id."""
    return HttpResult(status, {"error": reason, "detail": detail, "trace_id": current_trace_id()})


def merge_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers by lower-case name; a repeated header's values joined by ", " (RFC 9110),
    so that Flask and Starlette, which pick different copies, give handlers the same."""
    merged: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return merged
